package quant

import (
	"encoding/binary"
	"math"
)

// K-quants: 256-element super-blocks (QK_K) split into 16 or 32-element
// sub-blocks whose scales are themselves quantized (ggml-common.h). The
// helpers below are the building blocks of ggml-quants.c's reference
// quantizers, transcribed with the same float32 arithmetic order.

// QKK is ggml's QK_K, the super-block length of every K-quant.
const QKK = 256

// Super-block byte sizes.
const (
	Q2_KBytes = 84  // scales[16] (4-bit scale | 4-bit min), qs[64], fp16 d, fp16 dmin
	Q3_KBytes = 110 // hmask[32], qs[64], scales[12] (16 6-bit), fp16 d
	Q4_KBytes = 144 // fp16 d, fp16 dmin, scales[12] (8 6-bit scales + 8 6-bit mins), qs[128]
	Q5_KBytes = 176 // fp16 d, fp16 dmin, scales[12], qh[32], qs[128]
	Q6_KBytes = 210 // ql[128], qh[64], int8 scales[16], fp16 d
	Q8_KBytes = 292 // float32 d, int8 qs[256], int16 bsums[16]
)

// groupMaxEps is ggml's GROUP_MAX_EPS: below it a group counts as all zero.
const groupMaxEps = 1e-15

// nearestInt is ggml's nearest_int: round half to even via the 1.5*2^23
// trick, valid for |f| <= 4194303 (outside it returns garbage, never panics).
// The float32() conversion keeps the compiler from fusing a caller's multiply
// into the add, which would change the rounding.
func nearestInt(f float32) int32 {
	v := float32(f) + 12582912
	return int32(math.Float32bits(v)&0x007fffff) - 0x00400000
}

// makeQXQuants is ggml's make_qx_quants: a symmetric scale for n values with
// levels -nmax..nmax-1 (stored in L as 0..2*nmax-1), refined by trying 18
// nearby scales and keeping the best weighted least-squares fit. Weights are
// qw, or x² when qw is nil (rmse_type 1, the only type the K-quants use).
func makeQXQuants(n, nmax int, x []float32, L []int8, qw []float32) float32 {
	maxv, amax := float32(0), float32(0)
	for i := 0; i < n; i++ {
		if ax := abs32(x[i]); ax > amax {
			amax, maxv = ax, x[i]
		}
	}
	if amax < groupMaxEps {
		for i := 0; i < n; i++ {
			L[i] = 0
		}
		return 0
	}
	weight := func(i int) float32 {
		if qw != nil {
			return qw[i]
		}
		return x[i] * x[i]
	}
	fn := float32(nmax)
	clampL := func(l int32) int32 { return max(-int32(nmax), min(int32(nmax)-1, l)) }
	iscale := -fn / maxv
	sumlx, suml2 := float32(0), float32(0)
	for i := 0; i < n; i++ {
		l := clampL(nearestInt(iscale * x[i]))
		L[i] = int8(l + int32(nmax))
		w, fl := weight(i), float32(l)
		sumlx += float32(w*x[i]) * fl
		suml2 += float32(w*fl) * fl
	}
	scale := float32(0)
	if suml2 != 0 {
		scale = sumlx / suml2
	}
	best := scale * sumlx
	for is := -9; is <= 9; is++ {
		if is == 0 {
			continue
		}
		iscale = -(fn + 0.1*float32(is)) / maxv
		sumlx, suml2 = 0, 0
		for i := 0; i < n; i++ {
			l := clampL(nearestInt(iscale * x[i]))
			w, fl := weight(i), float32(l)
			sumlx += float32(w*x[i]) * fl
			suml2 += float32(w*fl) * fl
		}
		if suml2 > 0 && sumlx*sumlx > best*suml2 {
			for i := 0; i < n; i++ {
				L[i] = int8(clampL(nearestInt(iscale*x[i])) + int32(nmax))
			}
			scale = sumlx / suml2
			best = scale * sumlx
		}
	}
	return scale
}

// makeQ3Quants is ggml's make_q3_quants with do_rmse: start from the
// max-based scale, then move single quants while the x²-weighted fit improves.
// L receives levels 0..2*nmax-1.
func makeQ3Quants(n, nmax int, x []float32, L []int8) float32 {
	maxv, amax := float32(0), float32(0)
	for i := 0; i < n; i++ {
		if ax := abs32(x[i]); ax > amax {
			amax, maxv = ax, x[i]
		}
	}
	if amax < groupMaxEps {
		for i := 0; i < n; i++ {
			L[i] = 0
		}
		return 0
	}
	clampL := func(l int32) int32 { return max(-int32(nmax), min(int32(nmax)-1, l)) }
	iscale := -float32(nmax) / maxv
	sumlx, suml2 := float32(0), float32(0)
	for i := 0; i < n; i++ {
		l := clampL(nearestInt(iscale * x[i]))
		L[i] = int8(l)
		w, fl := x[i]*x[i], float32(l)
		sumlx += float32(w*x[i]) * fl
		suml2 += float32(w*fl) * fl
	}
	for itry := 0; itry < 5; itry++ {
		changed := 0
		for i := 0; i < n; i++ {
			w := x[i] * x[i]
			slx := sumlx - float32(w*x[i])*float32(L[i])
			if slx > 0 {
				sl2 := suml2 - float32(w*float32(L[i]))*float32(L[i])
				newL := clampL(nearestInt(float32(x[i]*sl2) / slx))
				if newL != int32(L[i]) {
					fl := float32(newL)
					slx += float32(w*x[i]) * fl
					sl2 += float32(w*fl) * fl
					if sl2 > 0 && float32(slx*slx)*suml2 > float32(sumlx*sumlx)*sl2 {
						L[i] = int8(newL)
						sumlx, suml2 = slx, sl2
						changed++
					}
				}
			}
		}
		if changed == 0 {
			break
		}
	}
	for i := 0; i < n; i++ {
		L[i] += int8(nmax)
	}
	if suml2 > 0 {
		return sumlx / suml2
	}
	return 0
}

// makeQKX2Quants is ggml's make_qkx2_quants: an asymmetric fit
// x ≈ scale*L + min (min ≤ 0, L in 0..nmax) minimizing the weighted squared
// (or absolute, useMad) error over nstep+1 candidate scales. It returns the
// scale and -min.
func makeQKX2Quants(n, nmax int, x, weights []float32, L, Laux []uint8, rmin, rdelta float32, nstep int, useMad bool) (scale, negMin float32) {
	lo, hi := x[0], x[0]
	sumW := weights[0]
	sumX := sumW * x[0]
	for i := 1; i < n; i++ {
		lo = min(lo, x[i])
		hi = max(hi, x[i])
		w := weights[i]
		sumW += w
		sumX += w * x[i]
	}
	if lo > 0 {
		lo = 0
	}
	if hi == lo {
		for i := 0; i < n; i++ {
			L[i] = 0
		}
		return 0, -lo
	}
	fn := float32(nmax)
	clampL := func(l int32) int32 { return max(0, min(int32(nmax), l)) }
	errOf := func(diff float32) float32 {
		if useMad {
			return abs32(diff)
		}
		return diff * diff
	}
	iscale := fn / (hi - lo)
	scale = 1 / iscale
	bestErr := float32(0)
	for i := 0; i < n; i++ {
		L[i] = uint8(clampL(nearestInt(iscale * (x[i] - lo))))
		diff := float32(scale*float32(L[i])) + lo - x[i]
		bestErr += weights[i] * errOf(diff)
	}
	if nstep < 1 {
		return scale, -lo
	}
	for is := 0; is <= nstep; is++ {
		iscale = (rmin + rdelta*float32(is) + fn) / (hi - lo)
		sumL, sumL2, sumXL := float32(0), float32(0), float32(0)
		for i := 0; i < n; i++ {
			l := clampL(nearestInt(iscale * (x[i] - lo)))
			Laux[i] = uint8(l)
			w, fl := weights[i], float32(l)
			sumL += w * fl
			sumL2 += float32(w*fl) * fl
			sumXL += float32(w*fl) * x[i]
		}
		D := float32(sumW*sumL2) - sumL*sumL
		if D > 0 {
			thisScale := (float32(sumW*sumXL) - sumX*sumL) / D
			thisMin := (float32(sumL2*sumX) - sumL*sumXL) / D
			if thisMin > 0 {
				thisMin = 0
				thisScale = sumXL / sumL2
			}
			curErr := float32(0)
			for i := 0; i < n; i++ {
				diff := float32(thisScale*float32(Laux[i])) + thisMin - x[i]
				curErr += weights[i] * errOf(diff)
			}
			if curErr < bestErr {
				copy(L[:n], Laux[:n])
				bestErr = curErr
				scale, lo = thisScale, thisMin
			}
		}
	}
	return scale, -lo
}

// kScaleMin unpacks the 12-byte scales of Q4_K/Q5_K into 8 6-bit scales and
// 8 6-bit mins (ggml's get_scale_min_k4 for j = 0..7).
func kScaleMin(q []byte) (sc, mn [8]uint8) {
	q = q[:12]
	for j := 0; j < 4; j++ {
		sc[j] = q[j] & 63
		mn[j] = q[j+4] & 63
	}
	for j := 4; j < 8; j++ {
		sc[j] = q[j+4]&0x0f | (q[j-4]>>6)<<4
		mn[j] = q[j+4]>>4 | (q[j]>>6)<<4
	}
	return
}

// packKScaleMin is the inverse of kScaleMin (values must be < 64).
func packKScaleMin(dst []byte, sc, mn *[8]uint8) {
	dst = dst[:12]
	for j := 0; j < 8; j++ {
		ls, lm := sc[j], mn[j]
		if j < 4 {
			dst[j] = ls
			dst[j+4] = lm
		} else {
			dst[j+4] = ls&0x0f | (lm&0x0f)<<4
			dst[j-4] |= (ls >> 4) << 6
			dst[j] |= (lm >> 4) << 6
		}
	}
}

// q3kScales unpacks Q3_K's 12-byte scales into 16 signed 6-bit scales
// (already minus 32), exactly as dequantize_row_q3_K's kmask shuffle does.
func q3kScales(s []byte) (out [16]int8) {
	const kmask1, kmask2 = 0x03030303, 0x0f0f0f0f
	a0 := binary.LittleEndian.Uint32(s[0:])
	a1 := binary.LittleEndian.Uint32(s[4:])
	tmp := binary.LittleEndian.Uint32(s[8:])
	aux := [4]uint32{
		a0&kmask2 | (tmp>>0&kmask1)<<4,
		a1&kmask2 | (tmp>>2&kmask1)<<4,
		a0>>4&kmask2 | (tmp>>4&kmask1)<<4,
		a1>>4&kmask2 | (tmp>>6&kmask1)<<4,
	}
	for i, a := range aux {
		for k := 0; k < 4; k++ {
			out[4*i+k] = int8(uint8(a>>(8*k))) - 32
		}
	}
	return
}

// QuantizeRowQ8_K is ggml's quantize_row_q8_K_ref, which the CPU backend
// also uses at run time on x86 to quantize activations for K-quant dots:
// iscale = -127/max (max is the signed value of largest magnitude),
// q = min(127, nearest_int(iscale*x)), d = 1/iscale stored as float32, and
// bsums = sums of each 16 quants. (Before January 2024 ggml used -128/max;
// it changed for IQ2_XXS and every K-quant dot has used -127 since.)
func QuantizeRowQ8_K(x []float32, dst []byte) {
	for b := 0; b < len(x)/QKK; b++ {
		xs := x[b*QKK : b*QKK+QKK]
		out := dst[b*Q8_KBytes : b*Q8_KBytes+Q8_KBytes]
		maxv, amax := float32(0), float32(0)
		for _, v := range xs {
			if ax := abs32(v); ax > amax {
				amax, maxv = ax, v
			}
		}
		if amax == 0 {
			clear(out)
			continue
		}
		iscale := -127 / maxv
		qs := out[4 : 4+QKK]
		for j, v := range xs {
			qs[j] = byte(int8(min(127, nearestInt(iscale*v))))
		}
		for j := 0; j < QKK/16; j++ {
			s := int16(0)
			for _, q := range qs[16*j : 16*j+16] {
				s += int16(int8(q))
			}
			binary.LittleEndian.PutUint16(out[4+QKK+2*j:], uint16(s))
		}
		binary.LittleEndian.PutUint32(out, math.Float32bits(1/iscale))
	}
}

// DequantizeRowQ8_K expands Q8_K blocks: y = d*q.
func DequantizeRowQ8_K(src []byte, y []float32) {
	for b := 0; b < len(y)/QKK; b++ {
		blk := src[b*Q8_KBytes : b*Q8_KBytes+Q8_KBytes]
		d := math.Float32frombits(binary.LittleEndian.Uint32(blk))
		ys := y[b*QKK : b*QKK+QKK]
		for j, q := range blk[4 : 4+QKK] {
			ys[j] = d * float32(int8(q))
		}
	}
}

// q8kBlock splits a Q8_K super-block into d, quants and bsums (bsums read lazily).
func q8kBlock(x []byte, b int) (d float32, qs []byte, bsums []byte) {
	blk := x[b*Q8_KBytes : b*Q8_KBytes+Q8_KBytes]
	return math.Float32frombits(binary.LittleEndian.Uint32(blk)), blk[4 : 4+QKK], blk[4+QKK : Q8_KBytes]
}

func bsum(bsums []byte, j int) int32 {
	return int32(int16(binary.LittleEndian.Uint16(bsums[2*j:])))
}

// sqrt32 is C's sqrtf (rounding the float64 root to float32 is exact).
func sqrt32(v float32) float32 { return float32(math.Sqrt(float64(v))) }
