package quant

import (
	"encoding/binary"
	"math"
)

// Block geometry of the 32-element formats.
const (
	QK          = 32
	Q4_0Bytes   = 18 // fp16 d + 16 bytes of nibbles
	Q8_0Bytes   = 34 // fp16 d + 32 int8
	blockQ4_0Hi = 16
)

// QuantizeRowQ8_0 is ggml's quantize_row_q8_0_ref: len(x) must be a multiple
// of 32 and dst must hold len(x)/32*34 bytes.
func QuantizeRowQ8_0(x []float32, dst []byte) {
	for b := 0; b < len(x)/QK; b++ {
		xs := x[b*QK : b*QK+QK]
		out := dst[b*Q8_0Bytes : b*Q8_0Bytes+Q8_0Bytes]
		amax := float32(0)
		for _, v := range xs {
			amax = max(amax, abs32(v))
		}
		d := amax / 127
		id := float32(0)
		if d != 0 {
			id = 1 / d
		}
		binary.LittleEndian.PutUint16(out, FP32ToFP16(d))
		for j, v := range xs {
			out[2+j] = byte(int8(roundf(v * id)))
		}
	}
}

// DequantizeRowQ8_0 expands Q8_0 blocks to floats.
func DequantizeRowQ8_0(src []byte, y []float32) {
	for b := 0; b < len(y)/QK; b++ {
		blk := src[b*Q8_0Bytes:]
		d := FP16ToFP32(binary.LittleEndian.Uint16(blk))
		for j := 0; j < QK; j++ {
			y[b*QK+j] = float32(int8(blk[2+j])) * d
		}
	}
}

// QuantizeRowQ4_0 is ggml's quantize_row_q4_0_ref.
func QuantizeRowQ4_0(x []float32, dst []byte) {
	for b := 0; b < len(x)/QK; b++ {
		xs := x[b*QK : b*QK+QK]
		out := dst[b*Q4_0Bytes : b*Q4_0Bytes+Q4_0Bytes]
		amax, maxv := float32(0), float32(0)
		for _, v := range xs {
			if amax < abs32(v) {
				amax = abs32(v)
				maxv = v
			}
		}
		d := maxv / -8
		id := float32(0)
		if d != 0 {
			id = 1 / d
		}
		binary.LittleEndian.PutUint16(out, FP32ToFP16(d))
		for j := 0; j < 16; j++ {
			x0 := xs[j] * id
			x1 := xs[j+16] * id
			q0 := min(15, int8(x0+8.5))
			q1 := min(15, int8(x1+8.5))
			out[2+j] = uint8(q0) | uint8(q1)<<4
		}
	}
}

// DequantizeRowQ4_0 expands Q4_0 blocks to floats.
func DequantizeRowQ4_0(src []byte, y []float32) {
	for b := 0; b < len(y)/QK; b++ {
		blk := src[b*Q4_0Bytes:]
		d := FP16ToFP32(binary.LittleEndian.Uint16(blk))
		for j := 0; j < 16; j++ {
			y[b*QK+j] = float32(int(blk[2+j]&0x0f)-8) * d
			y[b*QK+j+16] = float32(int(blk[2+j]>>4)-8) * d
		}
	}
}

// DotQ4_0Q8_0 is the reference ggml_vec_dot_q4_0_q8_0 over n elements:
// per block fp32(d_w)*fp32(d_x)*Σ(q_w-8)*q_x, summed in float32 block order.
func DotQ4_0Q8_0(w, x []byte, n int) float32 {
	sum := float32(0)
	for b := 0; b < n/QK; b++ {
		wb := w[b*Q4_0Bytes : b*Q4_0Bytes+Q4_0Bytes]
		xb := x[b*Q8_0Bytes : b*Q8_0Bytes+Q8_0Bytes]
		s := int32(0)
		for j := 0; j < 16; j++ {
			s += (int32(wb[2+j]&0x0f) - 8) * int32(int8(xb[2+j]))
			s += (int32(wb[2+j]>>4) - 8) * int32(int8(xb[2+j+16]))
		}
		d := FP16ToFP32(binary.LittleEndian.Uint16(wb)) * FP16ToFP32(binary.LittleEndian.Uint16(xb))
		sum += float32(s) * d
	}
	return sum
}

// DotQ8_0Q8_0 is the reference ggml_vec_dot_q8_0_q8_0.
func DotQ8_0Q8_0(w, x []byte, n int) float32 {
	sum := float32(0)
	for b := 0; b < n/QK; b++ {
		wb := w[b*Q8_0Bytes : b*Q8_0Bytes+Q8_0Bytes]
		xb := x[b*Q8_0Bytes : b*Q8_0Bytes+Q8_0Bytes]
		s := int32(0)
		for j := 0; j < QK; j++ {
			s += int32(int8(wb[2+j])) * int32(int8(xb[2+j]))
		}
		d := FP16ToFP32(binary.LittleEndian.Uint16(wb)) * FP16ToFP32(binary.LittleEndian.Uint16(xb))
		sum += float32(s) * d
	}
	return sum
}

func abs32(v float32) float32 { return math.Float32frombits(math.Float32bits(v) &^ (1 << 31)) }

// roundf is C's roundf: half away from zero.
func roundf(v float32) float32 { return float32(math.Round(float64(v))) }

// QuantizeActQ8_0 quantizes an activation row before a Q4_0/Q8_0 dot. The
// reference engine's outputs (../shared/testdata) match the reference
// quantizer's rounding (d = amax/127, id = 1/d, roundf: half away from zero)
// and not the half-to-even AVX2 variant, which differs on the frequent exact
// ties of lattice-valued activations; so this is QuantizeRowQ8_0, and SIMD
// versions must reproduce it bit for bit.
func QuantizeActQ8_0(x []float32, dst []byte) { QuantizeRowQ8_0(x, dst) }
