package quant

import (
	"encoding/binary"
	"math"
)

// Q5_0 and Q5_1 store the low 4 bits of each 5-bit quant as nibbles (element
// j in the low nibble of byte j, element j+16 in the high nibble) and the
// 5th bits in a little-endian uint32 qh (bit j for element j).

// QuantizeRowQ5_0 is ggml's quantize_row_q5_0_ref: d = max/-16, q = x/d + 16.5
// truncated and clamped to 31.
func QuantizeRowQ5_0(x []float32, dst []byte) {
	for b := 0; b < len(x)/QK; b++ {
		xs := x[b*QK : b*QK+QK]
		out := dst[b*Q5_0Bytes : b*Q5_0Bytes+Q5_0Bytes]
		amax, maxv := float32(0), float32(0)
		for _, v := range xs {
			if amax < abs32(v) {
				amax = abs32(v)
				maxv = v
			}
		}
		d := maxv / -16
		id := float32(0)
		if d != 0 {
			id = 1 / d
		}
		binary.LittleEndian.PutUint16(out, FP32ToFP16(d))
		qh := uint32(0)
		for j := 0; j < 16; j++ {
			q0 := uint8(min(31, int8(float32(xs[j]*id)+16.5)))
			q1 := uint8(min(31, int8(float32(xs[j+16]*id)+16.5)))
			out[6+j] = q0&0x0f | (q1&0x0f)<<4
			qh |= uint32(q0>>4) << j
			qh |= uint32(q1>>4) << (j + 16)
		}
		binary.LittleEndian.PutUint32(out[2:], qh)
	}
}

// DequantizeRowQ5_0 expands Q5_0 blocks: y = (q-16)*d.
func DequantizeRowQ5_0(src []byte, y []float32) {
	for b := 0; b < len(y)/QK; b++ {
		blk := src[b*Q5_0Bytes : b*Q5_0Bytes+Q5_0Bytes]
		d := fp16At(blk)
		qh := binary.LittleEndian.Uint32(blk[2:])
		qs := blk[6:22]
		ys := y[b*QK : b*QK+QK]
		for j := 0; j < 16; j++ {
			h0 := uint8(qh>>j<<4) & 0x10
			h1 := uint8(qh>>(j+12)) & 0x10
			ys[j] = float32(int32(qs[j]&0x0f|h0)-16) * d
			ys[j+16] = float32(int32(qs[j]>>4|h1)-16) * d
		}
	}
}

// QuantizeRowQ5_1 is ggml's quantize_row_q5_1_ref: d = (max-min)/31, m = min.
func QuantizeRowQ5_1(x []float32, dst []byte) {
	for b := 0; b < len(x)/QK; b++ {
		xs := x[b*QK : b*QK+QK]
		out := dst[b*Q5_1Bytes : b*Q5_1Bytes+Q5_1Bytes]
		lo, hi := float32(math.MaxFloat32), float32(-math.MaxFloat32)
		for _, v := range xs {
			lo = min(lo, v)
			hi = max(hi, v)
		}
		d := (hi - lo) / 31
		id := float32(0)
		if d != 0 {
			id = 1 / d
		}
		binary.LittleEndian.PutUint16(out, FP32ToFP16(d))
		binary.LittleEndian.PutUint16(out[2:], FP32ToFP16(lo))
		qh := uint32(0)
		for j := 0; j < 16; j++ {
			// ggml has no clamp here: (x-min)/d+0.5 stays below 32 for finite input.
			q0 := uint8(float32((xs[j]-lo)*id) + 0.5)
			q1 := uint8(float32((xs[j+16]-lo)*id) + 0.5)
			out[8+j] = q0&0x0f | (q1&0x0f)<<4
			qh |= uint32(q0>>4&1) << j
			qh |= uint32(q1>>4&1) << (j + 16)
		}
		binary.LittleEndian.PutUint32(out[4:], qh)
	}
}

// DequantizeRowQ5_1 expands Q5_1 blocks: y = q*d + m.
func DequantizeRowQ5_1(src []byte, y []float32) {
	for b := 0; b < len(y)/QK; b++ {
		blk := src[b*Q5_1Bytes : b*Q5_1Bytes+Q5_1Bytes]
		d, m := fp16At(blk), fp16At(blk[2:])
		qh := binary.LittleEndian.Uint32(blk[4:])
		qs := blk[8:24]
		ys := y[b*QK : b*QK+QK]
		for j := 0; j < 16; j++ {
			h0 := uint8(qh>>j<<4) & 0x10
			h1 := uint8(qh>>(j+12)) & 0x10
			ys[j] = float32(qs[j]&0x0f|h0)*d + m
			ys[j+16] = float32(qs[j]>>4|h1)*d + m
		}
	}
}
