//go:build purego || !amd64

package kernels

// gemm4Q4_0x4 has no four-activation kernel here: four gemvQ4_0x4 passes.
func gemm4Q4_0x4(w []byte, r q4x4Run, xs, auxs [][]byte, nb int, out [][]float32) {
	gemm4Q4_0x4Each(w, r, xs, auxs, nb, out)
}
