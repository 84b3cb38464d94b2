//go:build !purego

package kernels

import "github.com/klauspost/cpuid/v2"

// level is an instruction set the kernels are compiled for.
type level int

const (
	levelGeneric level = iota
	levelNEON          // baseline ARMv8 NEON: the float32 Dot and Axpy
	levelNEONDot       // + SDOT (ARMv8.2 dot product; every Apple M-series core): the quantized dots
)

func (l level) String() string { return [...]string{"purego", "neon", "neondot"}[l] }

// levels lists the implementations this CPU can run, slowest first. NEON is
// part of every arm64 CPU Go supports.
func levels() []level {
	if cpuid.CPU.Supports(cpuid.ASIMD, cpuid.ASIMDDP) {
		return []level{levelGeneric, levelNEON, levelNEONDot}
	}
	return []level{levelGeneric, levelNEON}
}

var active = pick(levels())

func gemvQ4_0Q8_0(w []byte, rowBytes int, x []byte, nb int, out []float32) {
	if active == levelNEONDot {
		gemvQ4_0Q8_0NEON(w, rowBytes, x, nb, out)
		return
	}
	gemvQ4_0Q8_0Generic(w, rowBytes, x, nb, out)
}

func gemvQ8_0Q8_0(w []byte, rowBytes int, x []byte, nb int, out []float32) {
	if active == levelNEONDot {
		gemvQ8_0Q8_0NEON(w, rowBytes, x, nb, out)
		return
	}
	gemvQ8_0Q8_0Generic(w, rowBytes, x, nb, out)
}

// gemm4 sets out[j][r] = dot(row r, xs[j]) for j < 4, r0 ≤ r < r1, for Q4_0
// (q4) or Q8_0 weights; callers check the bounds.
func gemm4(q4 bool, w []byte, rowBytes int, xs [][]byte, nb int, out [][]float32, r0, r1 int, _ *gemmScratch) {
	if active != levelNEONDot {
		gemm4Generic(q4, w, rowBytes, xs, nb, out, r0, r1)
		return
	}
	wp := &w[r0*rowBytes]
	x0, x1, x2, x3 := &xs[0][0], &xs[1][0], &xs[2][0], &xs[3][0]
	o0, o1, o2, o3 := &out[0][r0], &out[1][r0], &out[2][r0], &out[3][r0]
	if q4 {
		gemm4Q4_0Q8_0NEON(wp, rowBytes, x0, x1, x2, x3, nb, o0, o1, o2, o3, r1-r0)
	} else {
		gemm4Q8_0Q8_0NEON(wp, rowBytes, x0, x1, x2, x3, nb, o0, o1, o2, o3, r1-r0)
	}
}

// dotF32 and axpy run 16 lanes in NEON (at most maxCallElems per call, as
// the callers guarantee) and finish the tail in Go.

func dotF32(a, b []float32) float32 {
	n := len(a) &^ 15
	if n == 0 || active == levelGeneric {
		return dotF32Generic(a, b)
	}
	return dotF32NEON(&a[0], &b[0], n) + dotF32Generic(a[n:], b[n:])
}

func axpy(a float32, x, y []float32) {
	n := len(x) &^ 15
	if n == 0 || active == levelGeneric {
		axpyGeneric(a, x, y)
		return
	}
	axpyNEON(a, &x[0], &y[0], n)
	axpyGeneric(a, x[n:], y[n:])
}

// gemmScratch is the amd64 gemm4's scratch; other kernels need none.
type gemmScratch struct{}

// packedKernel: only the plain-Go Q4_0x4 kernel exists here, slower than
// the plain layout's.
func packedKernel() bool { return false }

func pairedKernel() bool { return false }

func gemvQ4_0x4(w []byte, r q4x4Run, x, aux []byte, nb int, out []float32) {
	gemvQ4_0x4Generic(w, r, x, nb, out)
}

// The rows kernels exist only on amd64: the level's gemv, row by row.
func gemvRowsQ4_0Q8_0(w []byte, rowBytes int, x []byte, nb int, rows []int32, out []float32) {
	gemvRowsEach(true, w, rowBytes, x, nb, rows, out)
}

func gemvRowsQ8_0Q8_0(w []byte, rowBytes int, x []byte, nb int, rows []int32, out []float32) {
	gemvRowsEach(false, w, rowBytes, x, nb, rows, out)
}
