//go:build !purego

package kernels

// hasRowsQ4_0Aux reports whether gemvRowsQ4_0Aux has a kernel.
func hasRowsQ4_0Aux() bool { return active != levelGeneric }

// gemvRowsQ4_0Aux runs the gathered-rows Q4_0 kernel (aux is x's
// Q8_0Aux); callers check hasRowsQ4_0Aux, the bounds and that rows and nb
// are not empty. AVX-VNNI takes the AVX2 kernel: the same int32 lanes.
func gemvRowsQ4_0Aux(w []byte, rowBytes int, x, aux []byte, nb int, rows []int32, out []float32) {
	if active == levelAVX512VNNI {
		gemvQ4_0RowsX4AVX512(&w[0], rowBytes, &x[0], &aux[0], nb, &rows[0], len(rows), &out[0])
	} else {
		gemvQ4_0RowsX4AVX2(&w[0], rowBytes, &x[0], &aux[0], nb, &rows[0], len(rows), &out[0])
	}
}
