//go:build !purego

package kernels

import "github.com/klauspost/cpuid/v2"

// level is an instruction set the kernels are compiled for.
type level int

const (
	levelGeneric level = iota
	levelNEONDot       // NEON with SDOT (ARMv8.2 dot product; every Apple M-series core)
)

func (l level) String() string { return [...]string{"purego", "neondot"}[l] }

// levels lists the implementations this CPU can run, slowest first.
func levels() []level {
	if cpuid.CPU.Supports(cpuid.ASIMD, cpuid.ASIMDDP) {
		return []level{levelGeneric, levelNEONDot}
	}
	return []level{levelGeneric}
}

var active = func() level { ls := levels(); return ls[len(ls)-1] }()

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

// gemm4 has no four-activation NEON kernel yet: one gemv per activation.
func gemm4(q4 bool, w []byte, rowBytes int, xs [][]byte, nb int, out [][]float32, r0, r1 int) {
	for j, x := range xs[:4] {
		if q4 {
			gemvQ4_0Q8_0(w[r0*rowBytes:], rowBytes, x, nb, out[j][r0:r1])
		} else {
			gemvQ8_0Q8_0(w[r0*rowBytes:], rowBytes, x, nb, out[j][r0:r1])
		}
	}
}
