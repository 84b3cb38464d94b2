package kernels

import (
	"fmt"

	"smallthinker/weights/gguf"
)

// gemmTileBytes is how many weight bytes one tile of rows spans: small
// enough to stay in L2 while every activation passes over it.
const gemmTileBytes = 32 << 10

// Gemm computes rows [lo, hi) of a weight matrix times several activation
// rows: out[j][r] = dot(row r of w, xs[j]) for every j and lo ≤ r < hi,
// with rows rowBytes apart starting at w[0] and each xs[j] in t's
// activation format (see Gemv). For Q4_0 and Q8_0 weights, four
// activations share each weight block's load and unpacking, which makes a
// prompt's mat-muls about twice as fast per token as one Gemv per activation;
// Q4_K, Q5_K and Q6_K do the same (kquants.go). Results are bit-identical to
// Gemv's. Other types run Gemv tile by tile.
func Gemm(t gguf.TensorType, w []byte, rowBytes int, xs [][]byte, n int, out [][]float32, lo, hi int) {
	GemmAux(t, w, rowBytes, xs, nil, n, out, lo, hi)
}

// GemmReadsAux reports whether GemmAux uses the activations' Q8_0Aux for
// Q4_0 weights and batches of acts activations (else callers need not
// compute it).
func GemmReadsAux(acts int) bool { return acts >= 4 && hasGemm4Q4_0Rows() }

// GemmAux is Gemm, given auxs[j] = Q8_0Aux(xs[j]) for Q4_0 weights (nil:
// Gemm computes what it needs itself).
func GemmAux(t gguf.TensorType, w []byte, rowBytes int, xs, auxs [][]byte, n int, out [][]float32, lo, hi int) {
	if len(xs) != len(out) {
		panic(fmt.Sprintf("kernels: Gemm: %d activations but %d outputs", len(xs), len(out)))
	}
	if lo < 0 || hi < lo {
		panic(fmt.Sprintf("kernels: Gemm: bad row range [%d, %d)", lo, hi))
	}
	if hi == lo || len(xs) == 0 {
		return
	}
	for j := range out {
		if len(out[j]) < hi {
			panic(fmt.Sprintf("kernels: Gemm: output %d has %d rows, need %d", j, len(out[j]), hi))
		}
	}
	if kBlockBytes(t) != 0 {
		gemmK(t, w, rowBytes, xs, n, out, lo, hi)
		return
	}
	tile := quadRows(max(1, gemmTileBytes/max(rowBytes, 1))) // whole four-row groups for the gemv
	if t != gguf.Q4_0 && t != gguf.Q8_0 {
		for r0 := lo; r0 < hi; r0 += tile {
			r1 := min(r0+tile, hi)
			for j, x := range xs {
				Gemv(t, w[r0*rowBytes:], rowBytes, x, n, out[j][r0:r1])
			}
		}
		return
	}
	q4 := t == gguf.Q4_0
	blockW := q8_0Bytes
	if q4 {
		blockW = q4_0Bytes
	}
	for _, x := range xs {
		checkQuant("Gemm", rowBytes, blockW, len(x), n)
	}
	checkGemv("Gemm", w, rowBytes, hi, n/qk*blockW)
	if n == 0 {
		for j := range out {
			clear(out[j][lo:hi])
		}
		return
	}
	if q4 && GemmReadsAux(len(xs)) && hi-lo >= 4 && (auxs != nil || n/qk <= gemmAuxBlocks) {
		if auxs != nil && len(auxs) != len(xs) {
			panic(fmt.Sprintf("kernels: GemmAux: %d activations but %d aux rows", len(xs), len(auxs)))
		}
		for j := range auxs {
			if len(auxs[j]) < Q8_0AuxSize(n) {
				panic(fmt.Sprintf("kernels: GemmAux: aux row %d has %d bytes, need %d", j, len(auxs[j]), Q8_0AuxSize(n)))
			}
		}
		gemmQ4Rows(w, rowBytes, xs, auxs, n, out, lo, hi)
		return
	}
	if q4 && len(xs) >= 4 {
		gemmQ4Pre(w, rowBytes, xs, n, out, lo, hi, tile)
		return
	}
	gemmQ(q4, w, rowBytes, xs, n, out, lo, hi, tile, nil)
}

// gemmQ4Pre is gemmQ for Q4_0 with gemm4's scratch on its own stack frame:
// zeroing it costs as much as a small mat-vec, so single-activation calls
// (every decode step) must not pay for it.
func gemmQ4Pre(w []byte, rowBytes int, xs [][]byte, n int, out [][]float32, lo, hi, tile int) {
	var pre gemmScratch
	gemmQ(true, w, rowBytes, xs, n, out, lo, hi, tile, &pre)
}

// gemmAuxBlocks bounds the rows, in blocks (n ≤ 4096), whose four
// activations' Q8_0Aux gemmQ4Rows keeps on its stack (32 KiB).
const gemmAuxBlocks = 128

// gemmQ4Rows is Gemm for Q4_0 through the gathered four-activation kernel
// (gemm4Q4_0Rows), which wants each activation's Q8_0Aux: auxs, or (auxs
// nil) computed here, four activations at a time, into a stack buffer. Rows past the last
// whole four are done as the last four rows (hi-lo ≥ 4), some a second
// time (the same values); activations past the last whole four take gemmQ.
func gemmQ4Rows(w []byte, rowBytes int, xs, auxs [][]byte, n int, out [][]float32, lo, hi int) {
	if auxs == nil {
		gemmQ4RowsOwnAux(w, rowBytes, xs, n, out, lo, hi)
		return
	}
	gemmQ4RowsAux(w, rowBytes, xs, auxs, n, out, lo, hi, nil)
}

// gemmQ4RowsOwnAux is gemmQ4Rows computing the Q8_0Aux itself.
func gemmQ4RowsOwnAux(w []byte, rowBytes int, xs [][]byte, n int, out [][]float32, lo, hi int) {
	var buf [4 * gemmAuxBlocks * Q8AuxBytes]byte
	gemmQ4RowsAux(w, rowBytes, xs, nil, n, out, lo, hi, &buf)
}

// gemmQ4RowsAux runs the kernel with auxs, or with each group of four
// activations' Q8_0Aux computed into buf.
func gemmQ4RowsAux(w []byte, rowBytes int, xs, auxs [][]byte, n int, out [][]float32, lo, hi int, buf *[4 * gemmAuxBlocks * Q8AuxBytes]byte) {
	nb := n / qk
	var own [4][]byte
	if buf != nil {
		for k := range own {
			own[k] = buf[k*nb*Q8AuxBytes : (k+1)*nb*Q8AuxBytes]
		}
	}
	quadEnd := lo + (hi-lo)&^3
	step := max(4, (maxCallBytes/max(rowBytes, 1))&^3) // rows per asm call
	j := 0
	for ; j+4 <= len(xs); j += 4 {
		a := auxs[min(j, len(auxs)):min(j+4, len(auxs))]
		if buf != nil {
			for k := range own {
				q8_0Aux(xs[j+k], own[k], nb)
			}
			a = own[:]
		}
		for r0 := lo; r0 < quadEnd; r0 += step {
			r1 := min(r0+step, quadEnd)
			gemm4Q4_0Rows(w, rowBytes, xs[j:j+4], a, nb, out[j:j+4], r0, r1)
		}
		if quadEnd < hi { // the last four rows again: 1-3 of them are new
			gemm4Q4_0Rows(w, rowBytes, xs[j:j+4], a, nb, out[j:j+4], hi-4, hi)
		}
	}
	if j < len(xs) {
		gemmQ(true, w, rowBytes, xs[j:], n, out[j:], lo, hi, quadRows(max(1, gemmTileBytes/max(rowBytes, 1))), nil)
	}
}

// gemmQ is Gemm's tile loop for Q4_0 and Q8_0 weights; pre is gemm4's
// scratch (nil for Q8_0).
func gemmQ(q4 bool, w []byte, rowBytes int, xs [][]byte, n int, out [][]float32, lo, hi, tile int, pre *gemmScratch) {
	for r0 := lo; r0 < hi; r0 += tile {
		r1 := min(r0+tile, hi)
		j := 0
		for ; j+4 <= len(xs); j += 4 {
			gemm4(q4, w, rowBytes, xs[j:j+4], n/qk, out[j:j+4], r0, r1, pre)
		}
		for ; j < len(xs); j++ {
			if q4 {
				gemvQ4_0Q8_0(w[r0*rowBytes:], rowBytes, xs[j], n/qk, out[j][r0:r1])
			} else {
				gemvQ8_0Q8_0(w[r0*rowBytes:], rowBytes, xs[j], n/qk, out[j][r0:r1])
			}
		}
	}
}

// GemmTask is Gemm shaped as a parallel.Task over output rows.
type GemmTask struct {
	Type     gguf.TensorType
	W        []byte
	RowBytes int
	Xs       [][]byte
	N        int
	Out      [][]float32 // Out[j][r] for activation j, row r
}

// Run computes rows [lo, hi) for every activation.
func (g *GemmTask) Run(_, lo, hi int) { Gemm(g.Type, g.W, g.RowBytes, g.Xs, g.N, g.Out, lo, hi) }
