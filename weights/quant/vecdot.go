package quant

import (
	"encoding/binary"
	"math"

	"smallthinker/weights/gguf"
)

// VecDot describes how ggml's CPU backend multiplies a weight row of one type
// with an activation row: the activation is first converted to Act (ggml's
// vec_dot_type, e.g. Q8_0 for Q4_0 weights, F16 for F16 weights), then Dot
// runs over the raw bytes of both. These are the plain-Go references; SIMD
// kernels elsewhere must agree with them.
type VecDot struct {
	Weight      gguf.TensorType
	Act         gguf.TensorType
	QuantizeAct func(x []float32, dst []byte)
	Dot         func(w, x []byte, n int) float32
}

var vecDots = map[gguf.TensorType]*VecDot{}

// RegisterVecDot adds or replaces the reference vec-dot of a weight type.
func RegisterVecDot(v *VecDot) { vecDots[v.Weight] = v }

// VecDotFor returns the reference vec-dot of weight type t.
func VecDotFor(t gguf.TensorType) (*VecDot, error) {
	v, ok := vecDots[t]
	if !ok {
		return nil, &UnsupportedError{t}
	}
	return v, nil
}

func init() {
	RegisterVecDot(&VecDot{gguf.F32, gguf.F32, QuantizeRowF32, DotF32})
	RegisterVecDot(&VecDot{gguf.F16, gguf.F16, QuantizeRowF16, DotF16})
	RegisterVecDot(&VecDot{gguf.BF16, gguf.BF16, QuantizeRowBF16, DotBF16})
	RegisterVecDot(&VecDot{gguf.Q8_0, gguf.Q8_0, QuantizeActQ8_0, DotQ8_0Q8_0})
	RegisterVecDot(&VecDot{gguf.Q4_0, gguf.Q8_0, QuantizeActQ8_0, DotQ4_0Q8_0})
	RegisterVecDot(&VecDot{gguf.Q5_0, gguf.Q8_0, QuantizeActQ8_0, DotQ5_0Q8_0})
	RegisterVecDot(&VecDot{gguf.Q4_1, gguf.Q8_1, QuantizeActQ8_1, DotQ4_1Q8_1})
	RegisterVecDot(&VecDot{gguf.Q5_1, gguf.Q8_1, QuantizeActQ8_1, DotQ5_1Q8_1})
	// K-quants dot against Q8_K; x86 ggml quantizes Q8_K activations with the
	// reference quantizer, so QuantizeRowQ8_K is also the run-time one.
	RegisterVecDot(&VecDot{gguf.Q2_K, gguf.Q8_K, QuantizeRowQ8_K, DotQ2_KQ8_K})
	RegisterVecDot(&VecDot{gguf.Q3_K, gguf.Q8_K, QuantizeRowQ8_K, DotQ3_KQ8_K})
	RegisterVecDot(&VecDot{gguf.Q4_K, gguf.Q8_K, QuantizeRowQ8_K, DotQ4_KQ8_K})
	RegisterVecDot(&VecDot{gguf.Q5_K, gguf.Q8_K, QuantizeRowQ8_K, DotQ5_KQ8_K})
	RegisterVecDot(&VecDot{gguf.Q6_K, gguf.Q8_K, QuantizeRowQ8_K, DotQ6_KQ8_K})
}

// DotF32 is an F32×F32 dot accumulated in float64.
func DotF32(w, x []byte, n int) float32 {
	s := 0.0
	for i := 0; i < n; i++ {
		a := math.Float32frombits(binary.LittleEndian.Uint32(w[4*i:]))
		b := math.Float32frombits(binary.LittleEndian.Uint32(x[4*i:]))
		s += float64(a) * float64(b)
	}
	return float32(s)
}

// DotF16 is ggml_vec_dot_f16's scalar form: products of widened halves summed in float64.
func DotF16(w, x []byte, n int) float32 {
	s := 0.0
	for i := 0; i < n; i++ {
		s += float64(FP16ToFP32(binary.LittleEndian.Uint16(w[2*i:])) * FP16ToFP32(binary.LittleEndian.Uint16(x[2*i:])))
	}
	return float32(s)
}

// DotBF16 is ggml_vec_dot_bf16's scalar form.
func DotBF16(w, x []byte, n int) float32 {
	s := 0.0
	for i := 0; i < n; i++ {
		s += float64(BF16ToFP32(binary.LittleEndian.Uint16(w[2*i:])) * BF16ToFP32(binary.LittleEndian.Uint16(x[2*i:])))
	}
	return float32(s)
}
