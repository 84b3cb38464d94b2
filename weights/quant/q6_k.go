package quant

import "encoding/binary"

// Q6_K: 16 sub-blocks of 16 values, y = d*sc*(q-32) with q in 0..63 and an
// int8 scale per sub-block. In each 128-value half, ql byte l holds values
// l (low nibble) and l+64 (high), ql byte l+32 holds l+32 and l+96, and qh
// byte l holds the top two bits of l, l+32, l+64, l+96 at bits 0, 2, 4, 6.

// QuantizeRowQ6_K is ggml's quantize_row_q6_K_ref.
func QuantizeRowQ6_K(x []float32, dst []byte) {
	var (
		L      [QKK]int8
		scales [QKK / 16]float32
	)
	for b := 0; b < len(x)/QKK; b++ {
		xs := x[b*QKK : b*QKK+QKK]
		out := dst[b*Q6_KBytes : b*Q6_KBytes+Q6_KBytes]
		ql, qh, sc := out[0:128], out[128:192], out[192:208]
		maxScale, maxAbs := float32(0), float32(0)
		for ib := 0; ib < QKK/16; ib++ {
			scales[ib] = makeQXQuants(16, 32, xs[16*ib:], L[16*ib:], nil)
			if a := abs32(scales[ib]); a > maxAbs {
				maxAbs, maxScale = a, scales[ib]
			}
		}
		if maxAbs < groupMaxEps {
			clear(out)
			continue
		}
		iscale := -128 / maxScale
		binary.LittleEndian.PutUint16(out[208:], FP32ToFP16(1/iscale))
		for ib := range scales {
			sc[ib] = byte(int8(min(127, nearestInt(iscale*scales[ib]))))
		}
		d := fp16At(out[208:])
		for j := 0; j < QKK/16; j++ {
			dl := d * float32(int8(sc[j]))
			if dl == 0 {
				continue
			}
			for ii := 0; ii < 16; ii++ {
				l := max(-32, min(31, nearestInt(xs[16*j+ii]/dl)))
				L[16*j+ii] = int8(l + 32)
			}
		}
		for j := 0; j < QKK; j += 128 {
			lq, hq := ql[j/2:j/2+64], qh[j/4:j/4+32]
			for l := 0; l < 32; l++ {
				q1, q2, q3, q4 := uint8(L[j+l]), uint8(L[j+l+32]), uint8(L[j+l+64]), uint8(L[j+l+96])
				lq[l] = q1&0x0f | (q3&0x0f)<<4
				lq[l+32] = q2&0x0f | (q4&0x0f)<<4
				hq[l] = q1>>4 | (q2>>4)<<2 | (q3>>4)<<4 | (q4>>4)<<6
			}
		}
	}
}

// DequantizeRowQ6_K is ggml's dequantize_row_q6_K.
func DequantizeRowQ6_K(src []byte, y []float32) {
	for b := 0; b < len(y)/QKK; b++ {
		blk := src[b*Q6_KBytes : b*Q6_KBytes+Q6_KBytes]
		d := fp16At(blk[208:])
		ys := y[b*QKK : b*QKK+QKK]
		for h := 0; h < 2; h++ {
			ql, qh := blk[64*h:64*h+64], blk[128+32*h:128+32*h+32]
			sc := blk[192+8*h : 192+8*h+8]
			out := ys[128*h : 128*h+128]
			for is := 0; is < 2; is++ {
				d1, d2 := d*float32(int8(sc[is])), d*float32(int8(sc[is+2]))
				d3, d4 := d*float32(int8(sc[is+4])), d*float32(int8(sc[is+6]))
				for l := 16 * is; l < 16*is+16; l++ {
					lo, hi, h := ql[l], ql[l+32], qh[l]
					out[l] = d1 * float32(int32(lo&0x0f|(h&3)<<4)-32)
					out[l+32] = d2 * float32(int32(hi&0x0f|(h>>2&3)<<4)-32)
					out[l+64] = d3 * float32(int32(lo>>4|(h>>4&3)<<4)-32)
					out[l+96] = d4 * float32(int32(hi>>4|(h>>6&3)<<4)-32)
				}
			}
		}
	}
}
