//go:build !purego

package kernels

import "smallthinker/weights/gguf"

// gemvKRows runs the AVX2 K-quant kernel of t (callers check the bounds).
func gemvKRows(t gguf.TensorType, w []byte, rowBytes int, x []byte, nb int, out []float32) {
	if active == levelGeneric {
		gemvKGeneric(t, w, rowBytes, x, nb, out)
		return
	}
	switch t {
	case gguf.Q4_K:
		gemvQ4_KQ8_KAVX2(w, rowBytes, x, nb, out)
	case gguf.Q5_K:
		gemvQ5_KQ8_KAVX2(w, rowBytes, x, nb, out)
	default:
		gemvQ6_KQ8_KAVX2(w, rowBytes, x, nb, out)
	}
}

// gemm4K sets out[j][r] = dot(row r, xs[j]) for j < 4, r0 ≤ r < r1 (nb > 0;
// callers check the bounds).
func gemm4K(t gguf.TensorType, w []byte, rowBytes int, xs [][]byte, nb int, out [][]float32, r0, r1 int) {
	if active == levelGeneric {
		for j, x := range xs[:4] {
			gemvKGeneric(t, w[r0*rowBytes:], rowBytes, x, nb, out[j][r0:r1])
		}
		return
	}
	wp := &w[r0*rowBytes]
	x0, x1, x2, x3 := &xs[0][0], &xs[1][0], &xs[2][0], &xs[3][0]
	o0, o1, o2, o3 := &out[0][r0], &out[1][r0], &out[2][r0], &out[3][r0]
	switch t {
	case gguf.Q4_K:
		gemm4Q4_KQ8_KAVX2(wp, rowBytes, x0, x1, x2, x3, nb, o0, o1, o2, o3, r1-r0)
	case gguf.Q5_K:
		gemm4Q5_KQ8_KAVX2(wp, rowBytes, x0, x1, x2, x3, nb, o0, o1, o2, o3, r1-r0)
	default:
		gemm4Q6_KQ8_KAVX2(wp, rowBytes, x0, x1, x2, x3, nb, o0, o1, o2, o3, r1-r0)
	}
}
