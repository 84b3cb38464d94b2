//go:build purego || !amd64

package kernels

import "smallthinker/weights/quant"

// Without amd64 assembly the float kernels and the activation quantizer are
// the plain-Go ones.

func dotF16(w, x []byte, n int) float32       { return dotF16Generic(w, x, n) }
func dotBF16(w, x []byte, n int) float32      { return dotBF16Generic(w, x, n) }
func dotF32Bytes(w, x []byte, n int) float32  { return dotF32BytesGeneric(w, x, n) }
func scale(a float32, x []float32)            { scaleGeneric(a, x) }
func scaleMul(dst, x, w []float32, a float32) { scaleMulGeneric(dst, x, w, a) }
func toF16(dst []uint16, x []float32)         { toF16Generic(dst, x) }
func quantizeQ8_0(x []float32, dst []byte)    { quant.QuantizeActQ8_0(x, dst) }

func q8_0Aux(x, aux []byte, nb int) { q8_0AuxGeneric(x, aux, nb) }

func ropeNeox(x []float32, d int, cos, sin []float32) bool { return false }

func maxF32Bulk(x []float32, lanes *[8]float32) (m float32, nan, ok bool) { return 0, false, false }
