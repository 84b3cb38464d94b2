//go:build purego || !amd64

package kernels

// gemm4Q4_0x4 has no four-activation kernel here: four gemvQ4_0x4 passes.
func gemm4Q4_0x4(w []byte, xs, auxs [][]byte, nb int, out [][]float32, r0, r1 int) {
	gemm4Q4_0x4Each(w, xs, auxs, nb, out, r0, r1)
}
