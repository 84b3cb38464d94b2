package kernels

// ggml's own float32 dot products, rounded exactly as the reference engine
// (llama.cpp's CPU backend, AVX2+FMA build) rounds them; the inference
// package uses them where a one-ulp difference would change a later Q8
// quantization. Without assembly (purego, other architectures) ok is false
// and the caller computes the same order in plain Go.

// DotF32GGML is ggml_vec_dot_f32: blocks of 32 elements in four 8-lane FMA
// accumulators, reduced (0+2)+(1+3) then lo+hi and two horizontal adds, then
// the remaining len(a)%32 products added one by one with FMA.
func DotF32GGML(a, b []float32) (s float32, ok bool) {
	checkSameLen("DotF32GGML", len(a), len(b))
	return dotF32GGML(a, b)
}

// SgemmDotF32 is one output of llamafile's tinyBLAS sgemm: len(a) must be a
// multiple of 8; one 8-lane FMA accumulator, then lo+hi, movehl, movehdup.
func SgemmDotF32(a, b []float32) (s float32, ok bool) {
	checkSameLen("SgemmDotF32", len(a), len(b))
	if len(a)%8 != 0 {
		panic("kernels: SgemmDotF32: length is not a multiple of 8")
	}
	return sgemmDotF32(a, b)
}
