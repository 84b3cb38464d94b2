//go:build !purego

package kernels

// gemvQ4_0Q8_0NEON sets out[r] to the dot product of row r of w (nb Q4_0
// blocks, rows rowBytes apart) with the Q8_0 row x, bit-identical to
// gemvQ4_0Q8_0AVX2 (see kernels_arm64.s).
//
//go:noescape
func gemvQ4_0Q8_0NEON(w []byte, rowBytes int, x []byte, nb int, out []float32)

// gemvQ8_0Q8_0NEON is gemvQ4_0Q8_0NEON for Q8_0 weights.
//
//go:noescape
func gemvQ8_0Q8_0NEON(w []byte, rowBytes int, x []byte, nb int, out []float32)

// gemm4Q4_0Q8_0NEON sets o_j[r] to the dot product of row r of w (nb Q4_0
// blocks, rows rowBytes apart) with the Q8_0 row x_j, for j < 4 and
// r < rows, bit-identical to gemvQ4_0Q8_0NEON.
//
//go:noescape
func gemm4Q4_0Q8_0NEON(w *byte, rowBytes int, x0, x1, x2, x3 *byte, nb int, o0, o1, o2, o3 *float32, rows int)

// gemm4Q8_0Q8_0NEON is gemm4Q4_0Q8_0NEON for Q8_0 weights.
//
//go:noescape
func gemm4Q8_0Q8_0NEON(w *byte, rowBytes int, x0, x1, x2, x3 *byte, nb int, o0, o1, o2, o3 *float32, rows int)

// dotF32NEON returns Σ a[i]·b[i] over n float32; n is a multiple of 16.
//
//go:noescape
func dotF32NEON(a, b *float32, n int) float32

// axpyNEON does y[i] += a·x[i] (fused) over n float32; n is a multiple of 16.
//
//go:noescape
func axpyNEON(a float32, x, y *float32, n int)
