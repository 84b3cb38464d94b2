package quant

import "encoding/binary"

// Q4_K and Q5_K: 8 sub-blocks of 32 values, y = d*sc*q - dmin*m with 6-bit
// sc, m per sub-block packed into 12 bytes (kScaleMin). In each 64-value
// chunk, byte l of the 32 nibble bytes holds value l (low) and l+32 (high);
// Q5_K adds the 5th bit in qh (bit 2c of qh[l] for value 64c+l, bit 2c+1 for
// value 64c+32+l).

// quantizeKScaleMin runs the Q4_K/Q5_K reference sub-block fit (shared by
// both: make_qkx2_quants with av_x + |x| weights), packs the 6-bit scales and
// mins, writes d and dmin, and requantizes L against the stored scales.
func quantizeKScaleMin(xs []float32, out []byte, L *[QKK]uint8, nmax int, rmin, rdelta float32, nstep int) {
	var (
		laux    [32]uint8
		weights [32]float32
		mins    [QKK / 32]float32
		scales  [QKK / 32]float32
	)
	maxScale, maxMin := float32(0), float32(0)
	for j := 0; j < QKK/32; j++ {
		sub := xs[32*j : 32*j+32]
		sumX2 := float32(0)
		for _, v := range sub {
			sumX2 += v * v
		}
		avX := sqrt32(sumX2 / 32)
		for l, v := range sub {
			weights[l] = avX + abs32(v)
		}
		scales[j], mins[j] = makeQKX2Quants(32, nmax, sub, weights[:], L[32*j:], laux[:], rmin, rdelta, nstep, false)
		maxScale = max(maxScale, scales[j])
		maxMin = max(maxMin, mins[j])
	}
	invScale, invMin := float32(0), float32(0)
	if maxScale > 0 {
		invScale = 63 / maxScale
	}
	if maxMin > 0 {
		invMin = 63 / maxMin
	}
	var ls, lm [8]uint8
	for j := 0; j < QKK/32; j++ {
		ls[j] = min(63, uint8(nearestInt(invScale*scales[j])))
		lm[j] = min(63, uint8(nearestInt(invMin*mins[j])))
	}
	clear(out[4:16])
	packKScaleMin(out[4:16], &ls, &lm)
	binary.LittleEndian.PutUint16(out[0:], FP32ToFP16(maxScale/63))
	binary.LittleEndian.PutUint16(out[2:], FP32ToFP16(maxMin/63))
	d, dmin := fp16At(out[0:]), fp16At(out[2:])
	for j := 0; j < QKK/32; j++ {
		dl := d * float32(ls[j])
		if dl == 0 {
			continue
		}
		ml := dmin * float32(lm[j])
		for ii := 0; ii < 32; ii++ {
			L[32*j+ii] = uint8(max(0, min(int32(nmax), nearestInt((xs[32*j+ii]+ml)/dl))))
		}
	}
}

// QuantizeRowQ4_K is ggml's quantize_row_q4_K_ref.
func QuantizeRowQ4_K(x []float32, dst []byte) {
	var L [QKK]uint8
	for b := 0; b < len(x)/QKK; b++ {
		xs := x[b*QKK : b*QKK+QKK]
		out := dst[b*Q4_KBytes : b*Q4_KBytes+Q4_KBytes]
		quantizeKScaleMin(xs, out, &L, 15, -1, 0.1, 20)
		q := out[16:144]
		for j := 0; j < QKK; j += 64 {
			for l := 0; l < 32; l++ {
				q[j/2+l] = L[j+l] | L[j+l+32]<<4
			}
		}
	}
}

// DequantizeRowQ4_K is ggml's dequantize_row_q4_K.
func DequantizeRowQ4_K(src []byte, y []float32) {
	for b := 0; b < len(y)/QKK; b++ {
		blk := src[b*Q4_KBytes : b*Q4_KBytes+Q4_KBytes]
		d, dmin := fp16At(blk[0:]), fp16At(blk[2:])
		sc, mn := kScaleMin(blk[4:16])
		ys := y[b*QKK : b*QKK+QKK]
		for c := 0; c < 4; c++ {
			q := blk[16+32*c : 16+32*c+32]
			d1, m1 := d*float32(sc[2*c]), dmin*float32(mn[2*c])
			d2, m2 := d*float32(sc[2*c+1]), dmin*float32(mn[2*c+1])
			lo, hi := ys[64*c:64*c+32], ys[64*c+32:64*c+64]
			for l := range lo {
				lo[l] = d1*float32(q[l]&0x0f) - m1
				hi[l] = d2*float32(q[l]>>4) - m2
			}
		}
	}
}

// QuantizeRowQ5_K is ggml's quantize_row_q5_K_ref.
func QuantizeRowQ5_K(x []float32, dst []byte) {
	var L [QKK]uint8
	for b := 0; b < len(x)/QKK; b++ {
		xs := x[b*QKK : b*QKK+QKK]
		out := dst[b*Q5_KBytes : b*Q5_KBytes+Q5_KBytes]
		quantizeKScaleMin(xs, out, &L, 31, -0.5, 0.1, 15)
		qh, ql := out[16:48], out[48:176]
		clear(qh)
		m1, m2 := uint8(1), uint8(2)
		for c := 0; c < QKK; c += 64 {
			for j := 0; j < 32; j++ {
				l1, l2 := L[c+j], L[c+j+32]
				if l1 > 15 {
					l1 -= 16
					qh[j] |= m1
				}
				if l2 > 15 {
					l2 -= 16
					qh[j] |= m2
				}
				ql[c/2+j] = l1 | l2<<4
			}
			m1 <<= 2
			m2 <<= 2
		}
	}
}

// DequantizeRowQ5_K is ggml's dequantize_row_q5_K.
func DequantizeRowQ5_K(src []byte, y []float32) {
	for b := 0; b < len(y)/QKK; b++ {
		blk := src[b*Q5_KBytes : b*Q5_KBytes+Q5_KBytes]
		d, dmin := fp16At(blk[0:]), fp16At(blk[2:])
		sc, mn := kScaleMin(blk[4:16])
		qh := blk[16:48]
		ys := y[b*QKK : b*QKK+QKK]
		for c := 0; c < 4; c++ {
			q := blk[48+32*c : 48+32*c+32]
			d1, m1 := d*float32(sc[2*c]), dmin*float32(mn[2*c])
			d2, m2 := d*float32(sc[2*c+1]), dmin*float32(mn[2*c+1])
			u1, u2 := uint(2*c), uint(2*c+1)
			lo, hi := ys[64*c:64*c+32], ys[64*c+32:64*c+64]
			for l := range lo {
				lo[l] = d1*float32(q[l]&0x0f|(qh[l]>>u1&1)<<4) - m1
				hi[l] = d2*float32(q[l]>>4|(qh[l]>>u2&1)<<4) - m2
			}
		}
	}
}
