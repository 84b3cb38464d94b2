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
	if q4 && len(xs) >= 4 && hi-lo >= 4 && n/qk <= gemmAuxBlocks && hasGemm4Q4_0Rows() {
		gemmQ4Rows(w, rowBytes, xs, n, out, lo, hi)
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
// (gemm4Q4_0Rows), which wants each activation's Q8_0Aux: computed here,
// four activations at a time, into a stack buffer. Rows past the last
// whole four, and activations past the last whole four, take gemmQ.
func gemmQ4Rows(w []byte, rowBytes int, xs [][]byte, n int, out [][]float32, lo, hi int) {
	nb := n / qk
	var buf [4 * gemmAuxBlocks * Q8AuxBytes]byte
	var auxs [4][]byte
	for k := range auxs {
		auxs[k] = buf[k*nb*Q8AuxBytes : (k+1)*nb*Q8AuxBytes]
	}
	quadEnd := lo + (hi-lo)&^3
	step := max(4, (maxCallBytes/max(rowBytes, 1))&^3) // rows per asm call
	j := 0
	for ; j+4 <= len(xs); j += 4 {
		for k := range auxs {
			q8_0Aux(xs[j+k], auxs[k], nb)
		}
		for r0 := lo; r0 < quadEnd; r0 += step {
			r1 := min(r0+step, quadEnd)
			gemm4Q4_0Rows(w, rowBytes, xs[j:j+4], auxs[:], nb, out[j:j+4], r0, r1)
		}
	}
	if quadEnd < hi {
		gemmQ(true, w, rowBytes, xs[:j], n, out[:j], quadEnd, hi, hi-quadEnd, nil)
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
