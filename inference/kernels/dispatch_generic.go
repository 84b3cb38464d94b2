//go:build purego || !amd64

package kernels

import "smallthinker/weights/quant"

// level is the instruction set in use; without assembly there is one.
type level int

const levelGeneric level = 0

func (l level) String() string { return "purego" }

var active = levelGeneric

// levels lists the implementations that can run on this machine.
func levels() []level { return []level{levelGeneric} }

func gemvQ4_0Q8_0(w []byte, rowBytes int, x []byte, nb int, out []float32) {
	gemvQ4_0Q8_0Generic(w, rowBytes, x, nb, out)
}

func gemvQ8_0Q8_0(w []byte, rowBytes int, x []byte, nb int, out []float32) {
	gemvQ8_0Q8_0Generic(w, rowBytes, x, nb, out)
}

func dotF16(w, x []byte, n int) float32       { return dotF16Generic(w, x, n) }
func dotBF16(w, x []byte, n int) float32      { return dotBF16Generic(w, x, n) }
func dotF32Bytes(w, x []byte, n int) float32  { return dotF32BytesGeneric(w, x, n) }
func dotF32(a, b []float32) float32           { return dotF32Generic(a, b) }
func axpy(a float32, x, y []float32)          { axpyGeneric(a, x, y) }
func scale(a float32, x []float32)            { scaleGeneric(a, x) }
func scaleMul(dst, x, w []float32, a float32) { scaleMulGeneric(dst, x, w, a) }
func quantizeQ8_0(x []float32, dst []byte)    { quant.QuantizeActQ8_0(x, dst) }

func gemm4(q4 bool, w []byte, rowBytes int, xs [][]byte, nb int, out [][]float32, r0, r1 int) {
	gemm4Generic(q4, w, rowBytes, xs, nb, out, r0, r1)
}
