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
