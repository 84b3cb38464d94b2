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

// SoftmaxGroups is the AVX2 loop of ggml_vec_soft_max_f32 over len(x)/8
// groups of 8 (len(x) a multiple of 8): x[i] = ggml_v_expf(x[i]-max) in
// place, each group's sum (lo+hi, movehl, movehdup) added in float64 to sum,
// which it returns. Masked cells passed as -Inf come out exactly 0.
func SoftmaxGroups(x []float32, max float32, sum float64) (float64, bool) {
	if len(x)%8 != 0 {
		panic("kernels: SoftmaxGroups: length is not a multiple of 8")
	}
	return softmaxGroups(x, max, sum)
}
