package quant

import "encoding/binary"

// Q3_K: 16 sub-blocks of 16 values, y = d*(sc-32)*(q-4) with q in 0..7:
// the low 2 bits packed like Q2_K, the high bit in hmask (bit k of hmask[l]
// belongs to value 32*k+l), and sixteen 6-bit scales packed into 12 bytes.

// QuantizeRowQ3_K is ggml's quantize_row_q3_K_ref.
func QuantizeRowQ3_K(x []float32, dst []byte) {
	var (
		L      [QKK]int8
		scales [QKK / 16]float32
	)
	for b := 0; b < len(x)/QKK; b++ {
		xs := x[b*QKK : b*QKK+QKK]
		out := dst[b*Q3_KBytes : b*Q3_KBytes+Q3_KBytes]
		hmask, qs, sc := out[0:32], out[32:96], out[96:108]
		maxScale, amax := float32(0), float32(0)
		for j := 0; j < QKK/16; j++ {
			scales[j] = makeQ3Quants(16, 4, xs[16*j:], L[16*j:])
			if s := abs32(scales[j]); s > amax {
				amax, maxScale = s, scales[j]
			}
		}
		clear(sc)
		if maxScale != 0 {
			iscale := -32 / maxScale
			for j := 0; j < QKK/16; j++ {
				l := int8(nearestInt(iscale * scales[j]))
				l = max(-32, min(31, l)) + 32
				if j < 8 {
					sc[j] = uint8(l) & 0x0f
				} else {
					sc[j-8] |= (uint8(l) & 0x0f) << 4
				}
				sc[j%4+8] |= uint8(l>>4) << (2 * (j / 4))
			}
			binary.LittleEndian.PutUint16(out[108:], FP32ToFP16(1/iscale))
		} else {
			binary.LittleEndian.PutUint16(out[108:], 0)
		}
		d := fp16At(out[108:])
		unpacked := q3kScales(sc)
		for j := 0; j < QKK/16; j++ {
			dl := d * float32(unpacked[j])
			if dl == 0 {
				continue
			}
			for ii := 0; ii < 16; ii++ {
				l := max(-4, min(3, nearestInt(xs[16*j+ii]/dl)))
				L[16*j+ii] = int8(l + 4)
			}
		}
		clear(hmask)
		m, hm := 0, uint8(1)
		for j := 0; j < QKK; j++ {
			if L[j] > 3 {
				hmask[m] |= hm
				L[j] -= 4
			}
			if m++; m == QKK/8 {
				m, hm = 0, hm<<1
			}
		}
		for j := 0; j < QKK; j += 128 {
			for l := 0; l < 32; l++ {
				qs[j/4+l] = uint8(L[j+l]) | uint8(L[j+l+32])<<2 | uint8(L[j+l+64])<<4 | uint8(L[j+l+96])<<6
			}
		}
	}
}

// DequantizeRowQ3_K is ggml's dequantize_row_q3_K.
func DequantizeRowQ3_K(src []byte, y []float32) {
	for b := 0; b < len(y)/QKK; b++ {
		blk := src[b*Q3_KBytes : b*Q3_KBytes+Q3_KBytes]
		hm := blk[0:32]
		sc := q3kScales(blk[96:108])
		d := fp16At(blk[108:])
		ys := y[b*QKK : b*QKK+QKK]
		is := 0
		for half := 0; half < 2; half++ {
			q := blk[32+32*half : 32+32*half+32]
			for sh := uint(0); sh < 4; sh++ {
				shift, hbit := 2*sh, uint(4*half)+sh
				for k := 0; k < 2; k++ {
					dl := d * float32(sc[is])
					out := ys[:16]
					qk, hk := q[16*k:16*k+16], hm[16*k:16*k+16]
					for l := range out {
						// q-4 unless the high bit is set
						v := int32((qk[l]>>shift)&3) - int32((hk[l]>>hbit)&1^1)<<2
						out[l] = dl * float32(v)
					}
					ys = ys[16:]
					is++
				}
			}
		}
	}
}
