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

// hasGemm4Q4_0Rows reports whether gemm4Q4_0Rows has a kernel: the
// gathered rows beat the plain four-activation kernel with AVX-512 (16
// activations over 768x1536: 490 → 355-400 µs); with AVX2 the plain one's
// precomputed scales win.
func hasGemm4Q4_0Rows() bool { return active == levelAVX512VNNI }

// gemm4Q4_0Rows sets out[j][r0:r1] for j < 4 (r1-r0 a multiple of 4)
// through the gathered kernel; callers check the bounds.
func gemm4Q4_0Rows(w []byte, rowBytes int, xs, auxs [][]byte, nb int, out [][]float32, r0, r1 int) {
	gemm4Q4_0RowsAVX512(&w[r0*rowBytes], rowBytes, &xs[0][0], &xs[1][0], &xs[2][0], &xs[3][0],
		&auxs[0][0], &auxs[1][0], &auxs[2][0], &auxs[3][0], nb,
		&out[0][r0], &out[1][r0], &out[2][r0], &out[3][r0], (r1-r0)/4)
}
