package quant

import (
	"encoding/binary"
	"fmt"
	"math"

	"smallthinker/weights/gguf"
)

// UnsupportedError names a tensor type this package cannot decode.
type UnsupportedError struct{ Type gguf.TensorType }

func (e *UnsupportedError) Error() string {
	return fmt.Sprintf("tensor type %s is not supported", e.Type)
}

// Supported reports whether DequantizeRow handles t.
func Supported(t gguf.TensorType) bool { _, ok := dequantizers[t]; return ok }

var dequantizers = map[gguf.TensorType]func(src []byte, dst []float32){
	gguf.F32:  DequantizeRowF32,
	gguf.F16:  DequantizeRowF16,
	gguf.BF16: DequantizeRowBF16,
	gguf.Q8_0: DequantizeRowQ8_0,
	gguf.Q4_0: DequantizeRowQ4_0,
	gguf.Q4_1: DequantizeRowQ4_1,
	gguf.Q5_0: DequantizeRowQ5_0,
	gguf.Q5_1: DequantizeRowQ5_1,
	gguf.Q8_1: DequantizeRowQ8_1,
	gguf.Q2_K: DequantizeRowQ2_K,
	gguf.Q3_K: DequantizeRowQ3_K,
	gguf.Q4_K: DequantizeRowQ4_K,
	gguf.Q5_K: DequantizeRowQ5_K,
	gguf.Q6_K: DequantizeRowQ6_K,
	gguf.Q8_K: DequantizeRowQ8_K,
}

// DequantizeRow decodes len(dst) elements of type t from src.
func DequantizeRow(t gguf.TensorType, src []byte, dst []float32) error {
	f, ok := dequantizers[t]
	if !ok {
		return &UnsupportedError{t}
	}
	if len(dst)%t.BlockSize() != 0 || len(src) < t.RowSize(len(dst)) {
		return fmt.Errorf("dequantize %s: %d elements need %d bytes, have %d", t, len(dst), t.RowSize(len(dst)), len(src))
	}
	f(src, dst)
	return nil
}

var quantizers = map[gguf.TensorType]func(x []float32, dst []byte){
	gguf.F32:  QuantizeRowF32,
	gguf.F16:  QuantizeRowF16,
	gguf.BF16: QuantizeRowBF16,
	gguf.Q8_0: QuantizeRowQ8_0,
	gguf.Q4_0: QuantizeRowQ4_0,
	gguf.Q4_1: QuantizeRowQ4_1,
	gguf.Q5_0: QuantizeRowQ5_0,
	gguf.Q5_1: QuantizeRowQ5_1,
	gguf.Q8_1: QuantizeRowQ8_1,
	gguf.Q2_K: QuantizeRowQ2_K,
	gguf.Q3_K: QuantizeRowQ3_K,
	gguf.Q4_K: QuantizeRowQ4_K,
	gguf.Q5_K: QuantizeRowQ5_K,
	gguf.Q6_K: QuantizeRowQ6_K,
	gguf.Q8_K: QuantizeRowQ8_K,
}

// CanQuantize reports whether QuantizeRow handles t.
func CanQuantize(t gguf.TensorType) bool { _, ok := quantizers[t]; return ok }

// QuantizeRow encodes x as type t into dst (t.RowSize(len(x)) bytes).
func QuantizeRow(t gguf.TensorType, x []float32, dst []byte) error {
	f, ok := quantizers[t]
	if !ok {
		return &UnsupportedError{t}
	}
	if len(x)%t.BlockSize() != 0 || len(dst) < t.RowSize(len(x)) {
		return fmt.Errorf("quantize %s: %d elements need %d bytes, have %d", t, len(x), t.RowSize(len(x)), len(dst))
	}
	f(x, dst)
	return nil
}

func DequantizeRowF32(src []byte, y []float32) {
	for i := range y {
		y[i] = math.Float32frombits(binary.LittleEndian.Uint32(src[4*i:]))
	}
}

func DequantizeRowF16(src []byte, y []float32) {
	for i := range y {
		y[i] = FP16ToFP32(binary.LittleEndian.Uint16(src[2*i:]))
	}
}

func DequantizeRowBF16(src []byte, y []float32) {
	for i := range y {
		y[i] = BF16ToFP32(binary.LittleEndian.Uint16(src[2*i:]))
	}
}

func QuantizeRowF32(x []float32, dst []byte) {
	for i, v := range x {
		binary.LittleEndian.PutUint32(dst[4*i:], math.Float32bits(v))
	}
}

func QuantizeRowF16(x []float32, dst []byte) {
	for i, v := range x {
		binary.LittleEndian.PutUint16(dst[2*i:], FP32ToFP16(v))
	}
}

func QuantizeRowBF16(x []float32, dst []byte) {
	for i, v := range x {
		binary.LittleEndian.PutUint16(dst[2*i:], FP32ToBF16(v))
	}
}
