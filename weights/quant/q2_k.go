package quant

import "encoding/binary"

// Q2_K: 16 sub-blocks of 16 values, y = d*sc*q - dmin*m with q in 0..3 and
// 4-bit sc, m per sub-block (scales[j] = sc | m<<4). Quants are packed four to
// a byte: in each 128-value half, byte l holds values l, l+32, l+64, l+96.

// QuantizeRowQ2_K is ggml's quantize_row_q2_K_ref.
func QuantizeRowQ2_K(x []float32, dst []byte) {
	var (
		L       [QKK]uint8
		laux    [16]uint8
		weights [16]float32
		mins    [QKK / 16]float32
		scales  [QKK / 16]float32
	)
	const q4scale = 15
	for b := 0; b < len(x)/QKK; b++ {
		xs := x[b*QKK : b*QKK+QKK]
		out := dst[b*Q2_KBytes : b*Q2_KBytes+Q2_KBytes]
		sc, qs := out[0:16], out[16:80]
		maxScale, maxMin := float32(0), float32(0)
		for j := 0; j < QKK/16; j++ {
			for l := 0; l < 16; l++ {
				weights[l] = abs32(xs[16*j+l])
			}
			scales[j], mins[j] = makeQKX2Quants(16, 3, xs[16*j:], weights[:], L[16*j:], laux[:], -0.5, 0.1, 15, true)
			maxScale = max(maxScale, scales[j])
			maxMin = max(maxMin, mins[j])
		}
		if maxScale > 0 {
			iscale := q4scale / maxScale
			for j := range scales {
				sc[j] = uint8(nearestInt(iscale * scales[j]))
			}
			binary.LittleEndian.PutUint16(out[80:], FP32ToFP16(maxScale/q4scale))
		} else {
			clear(sc)
			binary.LittleEndian.PutUint16(out[80:], 0)
		}
		if maxMin > 0 {
			iscale := q4scale / maxMin
			for j := range mins {
				sc[j] |= uint8(nearestInt(iscale*mins[j])) << 4
			}
			binary.LittleEndian.PutUint16(out[82:], FP32ToFP16(maxMin/q4scale))
		} else {
			binary.LittleEndian.PutUint16(out[82:], 0)
		}
		d, dmin := fp16At(out[80:]), fp16At(out[82:])
		for j := 0; j < QKK/16; j++ {
			dl := d * float32(sc[j]&0x0f)
			if dl == 0 {
				continue
			}
			ml := dmin * float32(sc[j]>>4)
			for ii := 0; ii < 16; ii++ {
				L[16*j+ii] = uint8(max(0, min(3, nearestInt((xs[16*j+ii]+ml)/dl))))
			}
		}
		for j := 0; j < QKK; j += 128 {
			for l := 0; l < 32; l++ {
				qs[j/4+l] = L[j+l] | L[j+l+32]<<2 | L[j+l+64]<<4 | L[j+l+96]<<6
			}
		}
	}
}

// DequantizeRowQ2_K is ggml's dequantize_row_q2_K.
func DequantizeRowQ2_K(src []byte, y []float32) {
	for b := 0; b < len(y)/QKK; b++ {
		blk := src[b*Q2_KBytes : b*Q2_KBytes+Q2_KBytes]
		sc := blk[0:16]
		d, dmin := fp16At(blk[80:]), fp16At(blk[82:])
		ys := y[b*QKK : b*QKK+QKK]
		is := 0
		for half := 0; half < 2; half++ {
			q := blk[16+32*half : 16+32*half+32]
			for shift := uint(0); shift < 8; shift += 2 {
				for k := 0; k < 2; k++ {
					dl, ml := d*float32(sc[is]&0x0f), dmin*float32(sc[is]>>4)
					out, qk := ys[:16], q[16*k:16*k+16]
					for l := range out {
						out[l] = dl*float32((qk[l]>>shift)&3) - ml
					}
					ys = ys[16:]
					is++
				}
			}
		}
	}
}
