//go:build purego || !(amd64 || arm64)

package kernels

import "smallthinker/weights/gguf"

func gemvKRows(t gguf.TensorType, w []byte, rowBytes int, x []byte, nb int, out []float32) {
	gemvKGeneric(t, w, rowBytes, x, nb, out)
}

func gemm4K(t gguf.TensorType, w []byte, rowBytes int, xs [][]byte, nb int, out [][]float32, r0, r1 int) {
	for j, x := range xs[:4] {
		gemvKGeneric(t, w[r0*rowBytes:], rowBytes, x, nb, out[j][r0:r1])
	}
}
