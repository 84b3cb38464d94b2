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
// hides the DRAM latency of each scattered row start; other types and
// builds call Gemv row by row.
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
	for i := 0; i < len(rows); i += step {
		part := rows[i:min(i+step, len(rows))]
		if t == gguf.Q4_0 {
			gemvRowsQ4_0Q8_0(w, rowBytes, x, n/qk, part, out)
		} else {
			gemvRowsQ8_0Q8_0(w, rowBytes, x, n/qk, part, out)
		}
	}
}

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
