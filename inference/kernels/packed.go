package kernels

import (
	"encoding/binary"
	"fmt"
	"math"

	"smallthinker/weights/quant"
)

// Q4_0 matrices packed as quant.PackQ4_0x4 (four rows' blocks side by side)
// are multiplied by GemmQ4_0x4. The results are bit-identical to Gemm on
// the unpacked matrix.

// Q8AuxBytes is the size of one block's entry in a Q8_0Aux row.
const Q8AuxBytes = 64

// PacksQ4_0 reports whether packing Q4_0 matrices pays on this machine: the
// selected implementation has a Q4_0x4 kernel (the plain-Go one exists
// everywhere, for tests and as the reference, but is slower than the plain
// layout's NEON kernel on arm64).
func PacksQ4_0() bool { return packedKernel() }

// PairsQ4_0 reports whether packed matrices should pair their groups
// (quant.PackQ4_0x4's paired layout): the selected implementation has
// eight-row kernels that are faster on it. Every kernel reads both layouts.
func PairsQ4_0() bool { return pairedKernel() }

// Q8_0AuxSize is the Q8_0Aux size of an n-element activation row.
func Q8_0AuxSize(n int) int { return n / qk * Q8AuxBytes }

// Q8_0Aux precomputes what the Q4_0x4 kernels need of the Q8_0 activation x
// (n elements) into aux: per block, -8·(x[4k]+…+x[4k+3]) for k < 8 as int32,
// then the block's fp32 scale eight times.
func Q8_0Aux(x []byte, n int, aux []byte) {
	nb := n / qk
	if n%qk != 0 || len(x) < nb*q8_0Bytes || len(aux) < nb*Q8AuxBytes {
		panic(fmt.Sprintf("kernels: Q8_0Aux: %d elements need %d activation and %d aux bytes, have %d and %d",
			n, nb*q8_0Bytes, nb*Q8AuxBytes, len(x), len(aux)))
	}
	if nb > 0 {
		q8_0Aux(x, aux, nb)
	}
}

// q8_0AuxGeneric is Q8_0Aux in plain Go (the reference of the assembly).
func q8_0AuxGeneric(x, aux []byte, nb int) {
	for b := 0; b < nb; b++ {
		xb := x[b*q8_0Bytes : (b+1)*q8_0Bytes]
		a := aux[b*Q8AuxBytes : (b+1)*Q8AuxBytes]
		for k := 0; k < 8; k++ {
			s := int32(0)
			for _, v := range xb[2+4*k : 6+4*k] {
				s += int32(int8(v))
			}
			binary.LittleEndian.PutUint32(a[4*k:], uint32(-8*s))
		}
		d := math.Float32bits(fp16(xb[0], xb[1]))
		for k := 8; k < 16; k++ {
			binary.LittleEndian.PutUint32(a[4*k:], d)
		}
	}
}

// GemmQ4_0x4 is Gemm for a Q4_0 matrix of rows rows in the Q4_0x4 layout
// (paired or not): out[j][r] = dot(row r, xs[j]) for lo ≤ r < hi, where lo
// and hi are multiples of 4 and auxs[j] is Q8_0Aux(xs[j]).
func GemmQ4_0x4(w []byte, rows, rowBytes int, paired bool, xs, auxs [][]byte, n int, out [][]float32, lo, hi int) {
	if len(xs) != len(out) || len(auxs) != len(xs) {
		panic(fmt.Sprintf("kernels: GemmQ4_0x4: %d activations, %d aux rows, %d outputs", len(xs), len(auxs), len(out)))
	}
	if lo < 0 || hi < lo || hi > rows || lo%4 != 0 || hi%4 != 0 || rows%4 != 0 {
		panic(fmt.Sprintf("kernels: GemmQ4_0x4: bad row range [%d, %d) of %d rows", lo, hi, rows))
	}
	nb := n / qk
	if n%qk != 0 || rowBytes != nb*q4_0Bytes {
		panic(fmt.Sprintf("kernels: GemmQ4_0x4: %d elements do not fill rows of %d bytes", n, rowBytes))
	}
	if hi == lo || len(xs) == 0 {
		return
	}
	if len(w) < rows*rowBytes {
		panic(fmt.Sprintf("kernels: GemmQ4_0x4: %d rows need %d bytes, have %d", rows, rows*rowBytes, len(w)))
	}
	for j := range xs {
		if len(xs[j]) < nb*q8_0Bytes || len(auxs[j]) < nb*Q8AuxBytes || len(out[j]) < hi {
			panic(fmt.Sprintf("kernels: GemmQ4_0x4: activation %d: %d, %d and %d bytes/rows are too short", j, len(xs[j]), len(auxs[j]), len(out[j])))
		}
	}
	if nb == 0 {
		for j := range out {
			clear(out[j][lo:hi])
		}
		return
	}
	// Tiles of whole pairs of groups small enough to stay in L1/L2 while
	// every activation passes over them, and a bounded asm call.
	tile := max(8, (min(gemmTileBytes, maxCallBytes)/rowBytes)&^7)
	if len(xs) == 1 {
		tile = max(8, (maxCallBytes/rowBytes)&^7)
	}
	var buf [2]q4x4Run
	for r0 := lo; r0 < hi; {
		r1 := min((r0+tile)&^7, hi)
		for _, run := range q4x4Runs(rows/4, nb, r0/4, r1/4, paired, &buf) {
			j := 0
			for ; j+4 <= len(xs); j += 4 { // each block unpacked once for four
				gemm4Q4_0x4(w, run, xs[j:j+4], auxs[j:j+4], nb, out[j:j+4])
			}
			for ; j < len(xs); j++ {
				gemvQ4_0x4(w, run, xs[j], auxs[j], nb, out[j][4*run.g0:4*(run.g0+run.n)])
			}
		}
		r0 = r1
	}
}

// q4x4Run is a run of groups one single-group kernel call takes: off is the
// offset of group g0's block 0, stride the distance between a group's
// blocks (72 for the odd last group, 144 in pairs), and skip[i%2] what
// takes the block pointer from the end of the run's group i to group i+1's
// block 0.
type q4x4Run struct {
	off, stride int
	skip        [2]int
	g0, n       int
}

// q4x4Runs splits groups [g0, g1) of a packed matrix of groups groups of nb
// blocks into runs: the paired groups, then the odd last group (all of
// them, unpaired).
func q4x4Runs(groups, nb, g0, g1 int, paired bool, buf *[2]q4x4Run) []q4x4Run {
	const pairStride = 2 * quant.Q4_0x4Group
	runs := buf[:0]
	inPairs := 0
	if paired {
		inPairs = groups &^ 1
	}
	if e := min(g1, inPairs); g0 < e {
		r := q4x4Run{off: quant.Q4_0x4Offset(groups, nb, g0, 0, true), stride: pairStride, g0: g0, n: e - g0}
		// From a pair's first group to its second, from the second to the next pair's first.
		toSecond, toNext := quant.Q4_0x4Group-nb*pairStride, -quant.Q4_0x4Group
		r.skip = [2]int{toSecond, toNext}
		if g0%2 == 1 {
			r.skip = [2]int{toNext, toSecond}
		}
		runs = append(runs, r)
		g0 = e
	}
	if g0 < g1 {
		runs = append(runs, q4x4Run{off: quant.Q4_0x4Offset(groups, nb, g0, 0, paired), stride: quant.Q4_0x4Group, g0: g0, n: g1 - g0})
	}
	return runs
}

// gemvQ4_0x4Generic is the plain-Go Q4_0x4 kernel: gemvQ4_0Q8_0Generic's
// arithmetic on the packed run r of w (len(out) = 4·r.n).
func gemvQ4_0x4Generic(w []byte, r q4x4Run, x []byte, nb int, out []float32) {
	base := r.off
	for g := 0; g < r.n; g++ {
		for i := 0; i < 4; i++ {
			var acc [8]float32
			for b := 0; b < nb; b++ {
				blk := w[base+b*r.stride:]
				qs := blk[8+16*i : 8+16*i+16]
				xb := (*[q8_0Bytes]byte)(x[b*q8_0Bytes:])
				d := fp16(blk[2*i], blk[2*i+1]) * fp16(xb[0], xb[1])
				var q [qk]int32
				for j := 0; j < 16; j++ {
					q[j] = int32(qs[j]&0x0f) - 8
					q[j+16] = int32(qs[j]>>4) - 8
				}
				for k := 0; k < 8; k++ {
					j := 4 * k
					s := q[j]*int32(int8(xb[2+j])) + q[j+1]*int32(int8(xb[3+j])) +
						q[j+2]*int32(int8(xb[4+j])) + q[j+3]*int32(int8(xb[5+j]))
					acc[k] = fma32(float32(s), d, acc[k])
				}
			}
			out[4*g+i] = hsum8(&acc)
		}
		base += nb*r.stride + r.skip[g%2]
	}
}

// gemm4Q4_0x4Each is gemm4Q4_0x4 as four single-activation passes, for
// implementations without a four-activation kernel.
func gemm4Q4_0x4Each(w []byte, r q4x4Run, xs, auxs [][]byte, nb int, out [][]float32) {
	for j := range 4 {
		gemvQ4_0x4(w, r, xs[j], auxs[j], nb, out[j][4*r.g0:4*(r.g0+r.n)])
	}
}
