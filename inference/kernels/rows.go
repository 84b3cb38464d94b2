package kernels

import (
	"fmt"

	"smallthinker/weights/gguf"
)

// GemvRows sets out[rows[i]] to the dot product of row rows[i] of w (rows
// rowBytes apart, n elements each) with x, for every i, leaving the other
// entries of out alone: a mat-vec over a scattered subset of rows, such as
// the "up" rows whose ReGLU gate is positive. x is in t's activation format
// (see Gemv). Each result is bit-identical to Gemv's for that row. Rows may
// come in any order and repeat. For Q4_0 and Q8_0 on amd64 the listed rows
// go four at a time through one kernel that prefetches the next four, which
// hides the DRAM latency of each scattered row start (Q4_0's kernel gathers
// the four rows' blocks into one register and computes as the Q4_0x4
// kernels do, with x's Q8_0Aux); other types and builds call Gemv row by
// row.
func GemvRows(t gguf.TensorType, w []byte, rowBytes int, x []byte, n int, rows []int32, out []float32) {
	if len(rows) == 0 {
		return
	}
	if t != gguf.Q4_0 && t != gguf.Q8_0 {
		checkRows("GemvRows", w, rowBytes, rowBytes, rows, len(out))
		for _, r := range rows {
			Gemv(t, w[int(r)*rowBytes:], rowBytes, x, n, out[r:r+1])
		}
		return
	}
	blockW := q8_0Bytes
	if t == gguf.Q4_0 {
		blockW = q4_0Bytes
	}
	checkQuant("GemvRows", rowBytes, blockW, len(x), n)
	checkRows("GemvRows", w, rowBytes, n/qk*blockW, rows, len(out))
	step := quadRows(max(1, maxCallBytes/max(rowBytes, 1)))
	nb := n / qk
	if t == gguf.Q4_0 && nb > 0 && nb <= rowsAuxBlocks && hasRowsQ4_0Aux() {
		// The packed kernels' arithmetic wants x's Q8_0Aux: ~80 ns per
		// 1536-wide x, against µs for the rows of a call; on the stack,
		// as the caller's unpacked matrices come without one.
		var buf [rowsAuxBlocks * Q8AuxBytes]byte
		aux := buf[:nb*Q8AuxBytes]
		q8_0Aux(x, aux, nb)
		for i := 0; i < len(rows); i += step {
			gemvRowsQ4_0Aux(w, rowBytes, x, aux, nb, rows[i:min(i+step, len(rows))], out)
		}
		return
	}
	for i := 0; i < len(rows); i += step {
		part := rows[i:min(i+step, len(rows))]
		if t == gguf.Q4_0 {
			gemvRowsQ4_0Q8_0(w, rowBytes, x, n/qk, part, out)
		} else {
			gemvRowsQ8_0Q8_0(w, rowBytes, x, n/qk, part, out)
		}
	}
}

// rowsAuxBlocks bounds the activation blocks (n ≤ 8192) whose Q8_0Aux
// GemvRows keeps on the stack for the gathered Q4_0 kernels; longer rows
// take the plain kernels.
const rowsAuxBlocks = 256

// checkRows panics unless every listed row lies in w (its rowNeed bytes at
// rows[i]·rowBytes) and indexes out.
func checkRows(kind string, w []byte, rowBytes, rowNeed int, rows []int32, outLen int) {
	if rowBytes < rowNeed {
		panic(fmt.Sprintf("kernels: %s: row stride %d is shorter than a row's %d bytes", kind, rowBytes, rowNeed))
	}
	for i, r := range rows {
		if r < 0 || int(r) >= outLen || int(r)*rowBytes+rowNeed > len(w) {
			panic(fmt.Sprintf("kernels: %s: rows[%d] = %d is out of range (%d weight bytes hold %d rows of stride %d; %d outputs)",
				kind, i, r, len(w), max(0, len(w)-rowNeed+rowBytes)/max(rowBytes, 1), rowBytes, outLen))
		}
	}
}

// gemvRowsEach is GemvRows's loop for Q4_0 (q4) or Q8_0 without a rows
// kernel: the level's gemv, one listed row at a time.
func gemvRowsEach(q4 bool, w []byte, rowBytes int, x []byte, nb int, rows []int32, out []float32) {
	for _, r := range rows {
		if q4 {
			gemvQ4_0Q8_0(w[int(r)*rowBytes:], rowBytes, x, nb, out[r:r+1])
		} else {
			gemvQ8_0Q8_0(w[int(r)*rowBytes:], rowBytes, x, nb, out[r:r+1])
		}
	}
}
