//go:build purego || !amd64

package kernels

func hasRowsQ4_0Aux() bool { return false }

func gemvRowsQ4_0Aux(w []byte, rowBytes int, x, aux []byte, nb int, rows []int32, out []float32) {
	panic("kernels: no gathered-rows Q4_0 kernel")
}
