package kernels

import (
	"fmt"

	"smallthinker/weights/gguf"
	"smallthinker/weights/quant"
)

// K-quant weights (Q4_K, Q5_K, Q6_K: the Q4_K_M and Q5_K_M mixes) dot
// against Q8_K activations (quant.QuantizeRowQ8_K) in 256-value
// super-blocks. The amd64 kernels round exactly as ggml's AVX2 ones, and so
// as the quant.DotQ*_KQ8_K references that the other builds run: results
// are bit-identical everywhere.

// kBlockBytes is the super-block size of a K-quant type with a kernel, 0 for other types.
func kBlockBytes(t gguf.TensorType) int {
	switch t {
	case gguf.Q4_K:
		return quant.Q4_KBytes
	case gguf.Q5_K:
		return quant.Q5_KBytes
	case gguf.Q6_K:
		return quant.Q6_KBytes
	}
	return 0
}

// gemvK is Gemv for the K-quant types of kBlockBytes.
func gemvK(t gguf.TensorType, w []byte, rowBytes int, x []byte, n int, out []float32) {
	if len(out) == 0 {
		return
	}
	blockW := kBlockBytes(t)
	if n%quant.QKK != 0 || n < 0 {
		panic(fmt.Sprintf("kernels: Gemv %s: n=%d is not a multiple of %d", t, n, quant.QKK))
	}
	nb := n / quant.QKK
	if rowBytes < nb*blockW || len(x) < nb*quant.Q8_KBytes {
		panic(fmt.Sprintf("kernels: Gemv %s: %d elements need %d weight and %d activation bytes, have %d and %d",
			t, n, nb*blockW, nb*quant.Q8_KBytes, rowBytes, len(x)))
	}
	checkGemv("Gemv (K-quant)", w, rowBytes, len(out), nb*blockW)
	step := max(1, maxCallBytes/max(rowBytes, 1))
	for r := 0; r < len(out); r += step {
		gemvKRows(t, w[r*rowBytes:], rowBytes, x, nb, out[r:min(r+step, len(out))])
	}
}

// gemvKGeneric runs the reference dot row by row.
func gemvKGeneric(t gguf.TensorType, w []byte, rowBytes int, x []byte, nb int, out []float32) {
	dot := quant.DotQ4_KQ8_K
	switch t {
	case gguf.Q5_K:
		dot = quant.DotQ5_KQ8_K
	case gguf.Q6_K:
		dot = quant.DotQ6_KQ8_K
	}
	for r := range out {
		out[r] = dot(w[r*rowBytes:], x, nb*quant.QKK)
	}
}

// gemmK is Gemm for the K-quant types of kBlockBytes: tiles of rows, four
// activations per pass over a tile (gemm4K), the rest one by one.
func gemmK(t gguf.TensorType, w []byte, rowBytes int, xs [][]byte, n int, out [][]float32, lo, hi int) {
	blockW := kBlockBytes(t)
	if n%quant.QKK != 0 || n < 0 {
		panic(fmt.Sprintf("kernels: Gemm %s: n=%d is not a multiple of %d", t, n, quant.QKK))
	}
	nb := n / quant.QKK
	for _, x := range xs {
		if rowBytes < nb*blockW || len(x) < nb*quant.Q8_KBytes {
			panic(fmt.Sprintf("kernels: Gemm %s: %d elements need %d weight and %d activation bytes, have %d and %d",
				t, n, nb*blockW, nb*quant.Q8_KBytes, rowBytes, len(x)))
		}
	}
	checkGemv("Gemm (K-quant)", w, rowBytes, hi, nb*blockW)
	tile := max(1, gemmTileBytes/max(rowBytes, 1))
	for r0 := lo; r0 < hi; r0 += tile {
		r1 := min(r0+tile, hi)
		j := 0
		for ; j+4 <= len(xs) && nb > 0; j += 4 {
			gemm4K(t, w, rowBytes, xs[j:j+4], nb, out[j:j+4], r0, r1)
		}
		for ; j < len(xs); j++ {
			gemvKRows(t, w[r0*rowBytes:], rowBytes, xs[j], nb, out[j][r0:r1])
		}
	}
}
