package quant

import (
	"encoding/binary"
	"math"
)

// Byte sizes of the other 32-element blocks (ggml-common.h).
const (
	Q4_1Bytes = 20 // fp16 d, fp16 m, 16 bytes of nibbles
	Q5_0Bytes = 22 // fp16 d, 4 bytes of 5th bits, 16 bytes of nibbles
	Q5_1Bytes = 24 // fp16 d, fp16 m, 4 bytes of 5th bits, 16 bytes of nibbles
	Q8_1Bytes = 36 // fp16 d, fp16 s = d*Σq, 32 int8
)

// fp16At reads the little-endian binary16 at b[0:2] as float32.
func fp16At(b []byte) float32 { return FP16ToFP32(binary.LittleEndian.Uint16(b)) }

// QuantizeRowQ4_1 is ggml's quantize_row_q4_1_ref: per block d = (max-min)/15,
// m = min, q = round-half-up((x-min)/d) clamped to 15.
func QuantizeRowQ4_1(x []float32, dst []byte) {
	for b := 0; b < len(x)/QK; b++ {
		xs := x[b*QK : b*QK+QK]
		out := dst[b*Q4_1Bytes : b*Q4_1Bytes+Q4_1Bytes]
		lo, hi := float32(math.MaxFloat32), float32(-math.MaxFloat32)
		for _, v := range xs {
			lo = min(lo, v)
			hi = max(hi, v)
		}
		d := (hi - lo) / 15
		id := float32(0)
		if d != 0 {
			id = 1 / d
		}
		binary.LittleEndian.PutUint16(out, FP32ToFP16(d))
		binary.LittleEndian.PutUint16(out[2:], FP32ToFP16(lo))
		for j := 0; j < 16; j++ {
			q0 := min(15, int8(float32((xs[j]-lo)*id)+0.5)) // float32() stops FMA fusion
			q1 := min(15, int8(float32((xs[j+16]-lo)*id)+0.5))
			out[4+j] = uint8(q0) | uint8(q1)<<4
		}
	}
}

// DequantizeRowQ4_1 expands Q4_1 blocks: y = q*d + m.
func DequantizeRowQ4_1(src []byte, y []float32) {
	for b := 0; b < len(y)/QK; b++ {
		blk := src[b*Q4_1Bytes : b*Q4_1Bytes+Q4_1Bytes]
		d, m := fp16At(blk), fp16At(blk[2:])
		ys := y[b*QK : b*QK+QK]
		for j := 0; j < 16; j++ {
			ys[j] = float32(blk[4+j]&0x0f)*d + m
			ys[j+16] = float32(blk[4+j]>>4)*d + m
		}
	}
}

// QuantizeRowQ8_1 is ggml's quantize_row_q8_1_ref: Q8_0 plus s = fp16(d*Σq),
// which lets Q4_1/Q5_1 dots add the weight minimum in one multiply.
func QuantizeRowQ8_1(x []float32, dst []byte) {
	for b := 0; b < len(x)/QK; b++ {
		xs := x[b*QK : b*QK+QK]
		out := dst[b*Q8_1Bytes : b*Q8_1Bytes+Q8_1Bytes]
		amax := float32(0)
		for _, v := range xs {
			amax = max(amax, abs32(v))
		}
		d := amax / 127
		id := float32(0)
		if d != 0 {
			id = 1 / d
		}
		sum := int32(0)
		for j, v := range xs {
			q := int8(roundf(v * id))
			out[4+j] = byte(q)
			sum += int32(q)
		}
		binary.LittleEndian.PutUint16(out, FP32ToFP16(d))
		binary.LittleEndian.PutUint16(out[2:], FP32ToFP16(float32(sum)*d))
	}
}

// QuantizeActQ8_1 quantizes an activation row the way ggml's AVX2
// quantize_row_q8_1 does at run time (id = 127/amax, round half to even,
// s = fp16(d*Σq) with the unrounded d), the CPU backend's path for Q4_1/Q5_1.
func QuantizeActQ8_1(x []float32, dst []byte) {
	for b := 0; b < len(x)/QK; b++ {
		xs := x[b*QK : b*QK+QK]
		out := dst[b*Q8_1Bytes : b*Q8_1Bytes+Q8_1Bytes]
		amax := float32(0)
		for _, v := range xs {
			amax = max(amax, abs32(v))
		}
		d := amax / 127
		id := float32(0)
		if amax != 0 {
			id = 127 / amax
		}
		sum := int32(0)
		for j, v := range xs {
			q := int8(math.RoundToEven(float64(v * id)))
			out[4+j] = byte(q)
			sum += int32(q)
		}
		binary.LittleEndian.PutUint16(out, FP32ToFP16(d))
		binary.LittleEndian.PutUint16(out[2:], FP32ToFP16(d*float32(sum)))
	}
}

// DequantizeRowQ8_1 expands Q8_1 blocks (s is redundant and ignored).
func DequantizeRowQ8_1(src []byte, y []float32) {
	for b := 0; b < len(y)/QK; b++ {
		blk := src[b*Q8_1Bytes : b*Q8_1Bytes+Q8_1Bytes]
		d := fp16At(blk)
		for j := 0; j < QK; j++ {
			y[b*QK+j] = float32(int8(blk[4+j])) * d
		}
	}
}
