//go:build !purego

package kernels

import "smallthinker/weights/gguf"

// gemvQ4_KQ8_KNEON sets out[r] to the dot product of row r of w (nb Q4_K
// super-blocks, rows rowBytes apart) with the Q8_K row x, bit-identical to
// quant.DotQ4_KQ8_K (see kquants_arm64.s).
//
//go:noescape
func gemvQ4_KQ8_KNEON(w []byte, rowBytes int, x []byte, nb int, out []float32)

// gemvQ5_KQ8_KNEON is gemvQ4_KQ8_KNEON for Q5_K weights.
//
//go:noescape
func gemvQ5_KQ8_KNEON(w []byte, rowBytes int, x []byte, nb int, out []float32)

// gemvQ6_KQ8_KNEON is gemvQ4_KQ8_KNEON for Q6_K weights.
//
//go:noescape
func gemvQ6_KQ8_KNEON(w []byte, rowBytes int, x []byte, nb int, out []float32)

// gemvKRows runs t's NEON kernel (with SDOT), else the reference; callers
// check the bounds.
func gemvKRows(t gguf.TensorType, w []byte, rowBytes int, x []byte, nb int, out []float32) {
	switch {
	case active == levelNEONDot && t == gguf.Q4_K:
		gemvQ4_KQ8_KNEON(w, rowBytes, x, nb, out)
	case active == levelNEONDot && t == gguf.Q5_K:
		gemvQ5_KQ8_KNEON(w, rowBytes, x, nb, out)
	case active == levelNEONDot && t == gguf.Q6_K:
		gemvQ6_KQ8_KNEON(w, rowBytes, x, nb, out)
	default:
		gemvKGeneric(t, w, rowBytes, x, nb, out)
	}
}

// gemm4K runs gemvKRows once per activation (no four-activation kernel on arm64 yet).
func gemm4K(t gguf.TensorType, w []byte, rowBytes int, xs [][]byte, nb int, out [][]float32, r0, r1 int) {
	for j, x := range xs[:4] {
		gemvKRows(t, w[r0*rowBytes:], rowBytes, x, nb, out[j][r0:r1])
	}
}
