package quant

import (
	"encoding/binary"
	"math"
)

// The reference dots of the K-quants, Q4_1, Q5_0 and Q5_1 round their
// float32 sums in the order of ggml's AVX2 kernels (ggml_vec_dot_*_q8_K,
// _q4_1_q8_1, _q5_0_q8_0, _q5_1_q8_1), the CPU backend the test data
// (../shared/testdata) was made with: an activation row quantized one ulp
// differently changes every later logit, so the generic C order is not good
// enough. The integer parts are exact in any order; what matters is the
// float part, which the AVX2 code does with eight float32 lanes:
//
//   - lane k holds the int32 sum of the products at positions 4k..4k+3 of
//     every 32-value chunk (maddubs+madd), each 16-value group times its
//     scale (K-quants), and is converted to float32 once per block;
//   - per block, acc[k] = fma(d, float(lane[k]), acc[k]), with
//     d = d_x·d_w rounded to float32 (K-quant mins first, the same way);
//   - at the end hsum8(acc) (lo+hi halves, then movehl, then movehdup) plus
//     a scalar min term for the formats with one. GCC contracts the C
//     statement `summs += a*b` into an FMA, so those are FMAs too.
//
// SIMD kernels (inference/kernels) must be bit-identical to these.

// FMA32 returns a·b+c rounded once to float32, as VFMADD does. The float64
// FMA rounds a·b+c once to float64; rounding that again to float32 can only
// differ from a single rounding when the float64 result sits exactly on a
// float32 rounding midpoint (or in float32's subnormal range), and those
// rare cases take the exact path.
func FMA32(a, b, c float32) float32 {
	r := math.FMA(float64(a), float64(b), float64(c))
	bits := math.Float64bits(r)
	if bits&(1<<29-1) != 1<<28 && bits&0x7ff0000000000000 > 0x3810000000000000 {
		return float32(r)
	}
	return fma32Exact(a, b, c)
}

// fma32Exact: a·b is exact in float64; the float64 sum is made round-to-odd
// (from its TwoSum error term) so that rounding it to float32 is correct.
func fma32Exact(a, b, c float32) float32 {
	p := float64(a) * float64(b)
	cc := float64(c)
	s := p + cc
	if math.IsInf(s, 0) || math.IsNaN(s) {
		return float32(s)
	}
	bb := s - p
	e := (p - (s - bb)) + (cc - bb)
	if e != 0 {
		bits := math.Float64bits(s)
		if bits&1 == 0 {
			if (e > 0) == (s > 0) {
				bits++
			} else {
				bits--
			}
			s = math.Float64frombits(bits)
		}
	}
	return float32(s)
}

// Hsum8 adds 8 float32 lanes as ggml's hsum_float_8 does.
func Hsum8(a *[8]float32) float32 {
	t0, t1, t2, t3 := a[0]+a[4], a[1]+a[5], a[2]+a[6], a[3]+a[7]
	return (t0 + t2) + (t1 + t3)
}

// hsum4 adds 4 lanes as movehl + movehdup do.
func hsum4(a *[4]float32) float32 { return (a[0] + a[2]) + (a[1] + a[3]) }

// kLanes returns the 8 int32 lanes of a 256-value super-block: lane k sums
// s16[g]·w[i]·x[i] over the positions i with i%32 in 4k..4k+3, g = i/16
// being i's 16-value scale group.
func kLanes(w *[QKK]int8, x []byte, s16 *[16]int32) (lanes [8]int32) {
	x = x[:QKK]
	for c := 0; c < 8; c++ {
		wc, xc := w[32*c:32*c+32], x[32*c:32*c+32]
		for k := 0; k < 8; k++ {
			o := 4 * k
			q := int32(wc[o])*int32(int8(xc[o])) + int32(wc[o+1])*int32(int8(xc[o+1])) +
				int32(wc[o+2])*int32(int8(xc[o+2])) + int32(wc[o+3])*int32(int8(xc[o+3]))
			lanes[k] += s16[2*c+k/4] * q
		}
	}
	return
}

// fmaLanes does acc[k] = fma(d, float32(lanes[k]), acc[k]).
func fmaLanes(acc *[8]float32, d float32, lanes *[8]int32) {
	for k, l := range lanes {
		acc[k] = FMA32(d, float32(l), acc[k])
	}
}

// DotQ2_KQ8_K is ggml_vec_dot_q2_K_q8_K (AVX2 order).
func DotQ2_KQ8_K(w, x []byte, n int) float32 {
	var acc [8]float32
	var wq [QKK]int8
	var s16 [16]int32
	for b := 0; b < n/QKK; b++ {
		blk := w[b*Q2_KBytes : b*Q2_KBytes+Q2_KBytes]
		yd, q8, bs := q8kBlock(x, b)
		d := yd * fp16At(blk[80:])
		dmin := -(yd * fp16At(blk[82:]))
		sc := blk[0:16]
		var prod [8]int32
		for k := 0; k < 8; k++ {
			prod[k] = int32(sc[2*k]>>4)*bsum(bs, 2*k) + int32(sc[2*k+1]>>4)*bsum(bs, 2*k+1)
		}
		fmaLanes(&acc, dmin, &prod)
		for g := range s16 {
			s16[g] = int32(sc[g] & 0x0f)
		}
		for j := 0; j < 2; j++ {
			qs := blk[16+32*j : 16+32*j+32]
			for l := 0; l < 4; l++ {
				dst := wq[128*j+32*l : 128*j+32*l+32]
				for i, q := range qs {
					dst[i] = int8(q >> (2 * l) & 3)
				}
			}
		}
		lanes := kLanes(&wq, q8, &s16)
		fmaLanes(&acc, d, &lanes)
	}
	return Hsum8(&acc)
}

// DotQ3_KQ8_K is ggml_vec_dot_q3_K_q8_K (AVX2 order).
func DotQ3_KQ8_K(w, x []byte, n int) float32 {
	var acc [8]float32
	var wq [QKK]int8
	var s16 [16]int32
	for b := 0; b < n/QKK; b++ {
		blk := w[b*Q3_KBytes : b*Q3_KBytes+Q3_KBytes]
		yd, q8, _ := q8kBlock(x, b)
		d := yd * fp16At(blk[108:])
		sc := q3kScales(blk[96:108])
		for g, s := range sc {
			s16[g] = int32(s)
		}
		hm := blk[0:32]
		for j := 0; j < 2; j++ {
			qs := blk[32+32*j : 32+32*j+32]
			for l := 0; l < 4; l++ {
				dst := wq[128*j+32*l : 128*j+32*l+32]
				hbit := uint(4*j + l)
				for i, q := range qs {
					dst[i] = int8(q>>(2*l)&3) - int8((hm[i]>>hbit&1)^1)<<2
				}
			}
		}
		lanes := kLanes(&wq, q8, &s16)
		fmaLanes(&acc, d, &lanes)
	}
	return Hsum8(&acc)
}

// unpackQ4_KScales returns Q4_K/Q5_K's sub-block scales spread over the 16
// groups of 16 values, and the per-pair mins product term of the AVX2
// kernels: prod[k] = mn[2k]·(bsums[4k]+bsums[4k+1]) + mn[2k+1]·(bsums[4k+2]+bsums[4k+3]).
func unpackQ4_KScales(scales, bs []byte, s16 *[16]int32) (prod [4]int32) {
	sc, mn := kScaleMin(scales)
	for c := 0; c < 8; c++ {
		s16[2*c], s16[2*c+1] = int32(sc[c]), int32(sc[c])
	}
	for k := 0; k < 4; k++ {
		prod[k] = int32(mn[2*k])*(bsum(bs, 4*k)+bsum(bs, 4*k+1)) + int32(mn[2*k+1])*(bsum(bs, 4*k+2)+bsum(bs, 4*k+3))
	}
	return prod
}

// DotQ4_KQ8_K is ggml_vec_dot_q4_K_q8_K (AVX2 order: the mins go to a
// separate 4-lane accumulator added at the end).
func DotQ4_KQ8_K(w, x []byte, n int) float32 {
	var acc [8]float32
	var accm [4]float32
	var s16 [16]int32
	for b := 0; b < n/QKK; b++ {
		blk := (*[Q4_KBytes]byte)(w[b*Q4_KBytes:])
		yd, q8, bs := q8kBlock(x, b)
		d := yd * fp16At(blk[0:])
		dmin := -(yd * fp16At(blk[2:]))
		prod := unpackQ4_KScales(blk[4:16], bs, &s16)
		for k, p := range prod {
			accm[k] = FMA32(dmin, float32(p), accm[k])
		}
		var lanes [8]int32
		for j := 0; j < 4; j++ {
			qs := (*[32]byte)(blk[16+32*j:])
			xa, xb := (*[32]byte)(q8[64*j:]), (*[32]byte)(q8[64*j+32:])
			sa, sb := s16[4*j], s16[4*j+2]
			for k := 0; k < 8; k++ {
				q := (*[4]byte)(qs[4*k:])
				a, c := (*[4]byte)(xa[4*k:]), (*[4]byte)(xb[4*k:])
				la := int32(q[0]&15)*int32(int8(a[0])) + int32(q[1]&15)*int32(int8(a[1])) +
					int32(q[2]&15)*int32(int8(a[2])) + int32(q[3]&15)*int32(int8(a[3]))
				lb := int32(q[0]>>4)*int32(int8(c[0])) + int32(q[1]>>4)*int32(int8(c[1])) +
					int32(q[2]>>4)*int32(int8(c[2])) + int32(q[3]>>4)*int32(int8(c[3]))
				lanes[k] += sa*la + sb*lb
			}
		}
		fmaLanes(&acc, d, &lanes)
	}
	return Hsum8(&acc) + hsum4(&accm)
}

// DotQ5_KQ8_K is ggml_vec_dot_q5_K_q8_K (AVX2 order: the mins sum is an
// exact integer per block, FMA'd into a scalar added at the end).
func DotQ5_KQ8_K(w, x []byte, n int) float32 {
	var acc [8]float32
	var summs float32
	var s16 [16]int32
	for b := 0; b < n/QKK; b++ {
		blk := (*[Q5_KBytes]byte)(w[b*Q5_KBytes:])
		yd, q8, bs := q8kBlock(x, b)
		d := yd * fp16At(blk[0:])
		dmin := -(yd * fp16At(blk[2:]))
		prod := unpackQ4_KScales(blk[4:16], bs, &s16)
		summs = FMA32(dmin, float32(prod[0]+prod[1]+prod[2]+prod[3]), summs)
		qh := (*[32]byte)(blk[16:])
		var lanes [8]int32
		for j := 0; j < 4; j++ {
			qs := (*[32]byte)(blk[48+32*j:])
			xa, xb := (*[32]byte)(q8[64*j:]), (*[32]byte)(q8[64*j+32:])
			sa, sb := s16[4*j], s16[4*j+2]
			ba, bb := uint(2*j), uint(2*j+1)
			for k := 0; k < 8; k++ {
				q, h := (*[4]byte)(qs[4*k:]), (*[4]byte)(qh[4*k:])
				a, c := (*[4]byte)(xa[4*k:]), (*[4]byte)(xb[4*k:])
				la := int32(q[0]&15|(h[0]>>ba&1)<<4)*int32(int8(a[0])) + int32(q[1]&15|(h[1]>>ba&1)<<4)*int32(int8(a[1])) +
					int32(q[2]&15|(h[2]>>ba&1)<<4)*int32(int8(a[2])) + int32(q[3]&15|(h[3]>>ba&1)<<4)*int32(int8(a[3]))
				lb := int32(q[0]>>4|(h[0]>>bb&1)<<4)*int32(int8(c[0])) + int32(q[1]>>4|(h[1]>>bb&1)<<4)*int32(int8(c[1])) +
					int32(q[2]>>4|(h[2]>>bb&1)<<4)*int32(int8(c[2])) + int32(q[3]>>4|(h[3]>>bb&1)<<4)*int32(int8(c[3]))
				lanes[k] += sa*la + sb*lb
			}
		}
		fmaLanes(&acc, d, &lanes)
	}
	return Hsum8(&acc) + summs
}

// DotQ6_KQ8_K is ggml_vec_dot_q6_K_q8_K (AVX2 order).
func DotQ6_KQ8_K(w, x []byte, n int) float32 {
	var acc [8]float32
	for b := 0; b < n/QKK; b++ {
		blk := (*[Q6_KBytes]byte)(w[b*Q6_KBytes:])
		yd, q8, _ := q8kBlock(x, b)
		d := yd * fp16At(blk[208:])
		sc := (*[16]byte)(blk[192:])
		var lanes [8]int32
		for j := 0; j < 2; j++ {
			ql1, ql2 := (*[32]byte)(blk[64*j:]), (*[32]byte)(blk[64*j+32:])
			qh := (*[32]byte)(blk[128+32*j:])
			for k := 0; k < 8; k++ {
				o, g := 4*k, k/4
				var l [4]int32 // the four 32-value chunks of this half
				for i := 0; i < 4; i++ {
					h, a, c := qh[o+i], ql1[o+i], ql2[o+i]
					xs := q8[128*j+o+i:]
					l[0] += (int32(a&15|(h&3)<<4) - 32) * int32(int8(xs[0]))
					l[1] += (int32(c&15|(h>>2&3)<<4) - 32) * int32(int8(xs[32]))
					l[2] += (int32(a>>4|(h>>4&3)<<4) - 32) * int32(int8(xs[64]))
					l[3] += (int32(c>>4|(h>>6&3)<<4) - 32) * int32(int8(xs[96]))
				}
				s := sc[8*j+g:]
				lanes[k] += int32(int8(s[0]))*l[0] + int32(int8(s[2]))*l[1] + int32(int8(s[4]))*l[2] + int32(int8(s[6]))*l[3]
			}
		}
		fmaLanes(&acc, d, &lanes)
	}
	return Hsum8(&acc)
}

// block32Lanes returns the float32 lanes of one 32-value block whose
// values are nibbles (low nibbles are values 0..15, high nibbles 16..31),
// plus 16 times bit i of qh for value i, minus off: lane k = Σ w[i]·x[i]
// over i in 4k..4k+3.
func block32Lanes(qs *[16]byte, qh uint32, off int32, x *[32]byte) (lanes [8]float32) {
	for k := 0; k < 8; k++ {
		s := int32(0)
		for i := 4 * k; i < 4*k+4; i++ {
			v := int32(qs[i&15])
			if i < 16 {
				v &= 15
			} else {
				v >>= 4
			}
			s += (v | int32(qh>>i&1)<<4 - off) * int32(int8(x[i]))
		}
		lanes[k] = float32(s)
	}
	return
}

// DotQ4_1Q8_1 is ggml_vec_dot_q4_1_q8_1 (AVX2 order).
func DotQ4_1Q8_1(w, x []byte, n int) float32 {
	var acc [8]float32
	var summs float32
	for b := 0; b < n/QK; b++ {
		wb := (*[Q4_1Bytes]byte)(w[b*Q4_1Bytes:])
		xb := (*[Q8_1Bytes]byte)(x[b*Q8_1Bytes:])
		summs = FMA32(fp16At(wb[2:]), fp16At(xb[2:]), summs)
		d := fp16At(wb[:]) * fp16At(xb[:])
		lanes := block32Lanes((*[16]byte)(wb[4:]), 0, 0, (*[32]byte)(xb[4:]))
		for k, l := range lanes {
			acc[k] = FMA32(d, l, acc[k])
		}
	}
	return Hsum8(&acc) + summs
}

// DotQ5_0Q8_0 is ggml_vec_dot_q5_0_q8_0 (AVX2 order).
func DotQ5_0Q8_0(w, x []byte, n int) float32 {
	var acc [8]float32
	for b := 0; b < n/QK; b++ {
		wb := (*[Q5_0Bytes]byte)(w[b*Q5_0Bytes:])
		xb := (*[Q8_0Bytes]byte)(x[b*Q8_0Bytes:])
		d := fp16At(wb[:]) * fp16At(xb[:])
		lanes := block32Lanes((*[16]byte)(wb[6:]), binary.LittleEndian.Uint32(wb[2:]), 16, (*[32]byte)(xb[2:]))
		for k, l := range lanes {
			acc[k] = FMA32(d, l, acc[k])
		}
	}
	return Hsum8(&acc)
}

// DotQ5_1Q8_1 is ggml_vec_dot_q5_1_q8_1 (AVX2 order).
func DotQ5_1Q8_1(w, x []byte, n int) float32 {
	var acc [8]float32
	var summs float32
	for b := 0; b < n/QK; b++ {
		wb := (*[Q5_1Bytes]byte)(w[b*Q5_1Bytes:])
		xb := (*[Q8_1Bytes]byte)(x[b*Q8_1Bytes:])
		summs = FMA32(fp16At(wb[2:]), fp16At(xb[2:]), summs)
		d := fp16At(wb[:]) * fp16At(xb[:])
		lanes := block32Lanes((*[16]byte)(wb[8:]), binary.LittleEndian.Uint32(wb[4:]), 0, (*[32]byte)(xb[4:]))
		for k, l := range lanes {
			acc[k] = FMA32(l, d, acc[k])
		}
	}
	return Hsum8(&acc) + summs
}
