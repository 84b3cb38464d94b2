package kernels

import (
	"encoding/binary"
	"math"

	"smallthinker/weights/quant"
)

// The plain-Go kernels: the fallback on CPUs and architectures without
// assembly, and the documented semantics of the assembly versions (which
// differ only in float summation order). Bounds are checked by the callers.

func gemvQ4_0Q8_0Generic(w []byte, rowBytes int, x []byte, nb int, out []float32) {
	for r := range out {
		out[r] = quant.DotQ4_0Q8_0(w[r*rowBytes:], x, nb*qk)
	}
}

func gemvQ8_0Q8_0Generic(w []byte, rowBytes int, x []byte, nb int, out []float32) {
	for r := range out {
		out[r] = quant.DotQ8_0Q8_0(w[r*rowBytes:], x, nb*qk)
	}
}

// dotF16Generic sums in float32 like the SIMD kernels (quant.DotF16 sums in float64).
func dotF16Generic(w, x []byte, n int) float32 {
	s := float32(0)
	for i := 0; i < n; i++ {
		s += quant.FP16ToFP32(binary.LittleEndian.Uint16(w[2*i:])) * quant.FP16ToFP32(binary.LittleEndian.Uint16(x[2*i:]))
	}
	return s
}

func dotBF16Generic(w, x []byte, n int) float32 {
	s := float32(0)
	for i := 0; i < n; i++ {
		s += quant.BF16ToFP32(binary.LittleEndian.Uint16(w[2*i:])) * quant.BF16ToFP32(binary.LittleEndian.Uint16(x[2*i:]))
	}
	return s
}

func dotF32BytesGeneric(w, x []byte, n int) float32 {
	s := float32(0)
	for i := 0; i < n; i++ {
		s += math.Float32frombits(binary.LittleEndian.Uint32(w[4*i:])) * math.Float32frombits(binary.LittleEndian.Uint32(x[4*i:]))
	}
	return s
}

func dotF32Generic(a, b []float32) float32 {
	s := float32(0)
	for i, v := range a {
		s += v * b[i]
	}
	return s
}

func axpyGeneric(a float32, x, y []float32) {
	for i, v := range x {
		y[i] += a * v
	}
}

func scaleGeneric(a float32, x []float32) {
	for i := range x {
		x[i] *= a
	}
}

func scaleMulGeneric(dst, x, w []float32, a float32) {
	for i, v := range x {
		dst[i] = v * a * w[i]
	}
}

func gemm4Generic(q4 bool, w []byte, rowBytes int, xs [][]byte, nb int, out [][]float32, r0, r1 int) {
	for j, x := range xs[:4] {
		if q4 {
			gemvQ4_0Q8_0Generic(w[r0*rowBytes:], rowBytes, x, nb, out[j][r0:r1])
		} else {
			gemvQ8_0Q8_0Generic(w[r0*rowBytes:], rowBytes, x, nb, out[j][r0:r1])
		}
	}
}
