//go:build purego || !amd64

package kernels

func hasRowsQ4_0Aux() bool { return false }

func gemvRowsQ4_0Aux(w []byte, rowBytes int, x, aux []byte, nb int, rows []int32, out []float32) {
	panic("kernels: no gathered-rows Q4_0 kernel")
}

func hasGemm4Q4_0Rows() bool { return false }

func gemm4Q4_0Rows(w []byte, rowBytes int, xs, auxs [][]byte, nb int, out [][]float32, r0, r1 int) {
	panic("kernels: gemm4Q4_0Rows has no kernel here")
}
