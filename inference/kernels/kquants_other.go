//go:build purego || !amd64

package kernels

import "smallthinker/weights/gguf"

func gemvKRows(t gguf.TensorType, w []byte, rowBytes int, x []byte, nb int, out []float32) {
	gemvKGeneric(t, w, rowBytes, x, nb, out)
}
