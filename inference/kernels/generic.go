package kernels

import (
	"encoding/binary"
	"math"

	"smallthinker/weights/quant"
)

// The plain-Go kernels: the fallback on CPUs and architectures without
// assembly, and the documented semantics of the assembly versions (which
// differ only in float summation order). Bounds are checked by the callers.

// The quantized gemv fallbacks compute in the SIMD kernels' order (and so
// llama.cpp's AVX2 order), not quant's block-by-block reference order: per
// block, 8 int32 lanes of 4 consecutive products, each FMA'd with
// d = d_w·d_x into its own float32 lane, the lanes reduced as AVX2 does.
// The results are bit-identical to the assembly.

func gemvQ4_0Q8_0Generic(w []byte, rowBytes int, x []byte, nb int, out []float32) {
	for r := range out {
		row := w[r*rowBytes:]
		var acc [8]float32
		for b := 0; b < nb; b++ {
			wb := (*[q4_0Bytes]byte)(row[b*q4_0Bytes:])
			xb := (*[q8_0Bytes]byte)(x[b*q8_0Bytes:])
			d := fp16(wb[0], wb[1]) * fp16(xb[0], xb[1])
			var q [qk]int32
			for j := 0; j < 16; j++ {
				q[j] = int32(wb[2+j]&0x0f) - 8
				q[j+16] = int32(wb[2+j]>>4) - 8
			}
			for k := 0; k < 8; k++ {
				j := 4 * k
				s := q[j]*int32(int8(xb[2+j])) + q[j+1]*int32(int8(xb[3+j])) +
					q[j+2]*int32(int8(xb[4+j])) + q[j+3]*int32(int8(xb[5+j]))
				acc[k] = fma32(float32(s), d, acc[k])
			}
		}
		out[r] = hsum8(&acc)
	}
}

func gemvQ8_0Q8_0Generic(w []byte, rowBytes int, x []byte, nb int, out []float32) {
	for r := range out {
		row := w[r*rowBytes:]
		var acc [8]float32
		for b := 0; b < nb; b++ {
			wb := (*[q8_0Bytes]byte)(row[b*q8_0Bytes:])
			xb := (*[q8_0Bytes]byte)(x[b*q8_0Bytes:])
			d := fp16(wb[0], wb[1]) * fp16(xb[0], xb[1])
			for k := 0; k < 8; k++ {
				j := 2 + 4*k
				s := int32(int8(wb[j]))*int32(int8(xb[j])) + int32(int8(wb[j+1]))*int32(int8(xb[j+1])) +
					int32(int8(wb[j+2]))*int32(int8(xb[j+2])) + int32(int8(wb[j+3]))*int32(int8(xb[j+3]))
				acc[k] = fma32(float32(s), d, acc[k])
			}
		}
		out[r] = hsum8(&acc)
	}
}

func fp16(lo, hi byte) float32 { return quant.FP16ToFP32(uint16(lo) | uint16(hi)<<8) }

// fma32 is a·b+c rounded once to float32, as VFMADD does.
func fma32(a, b, c float32) float32 { return quant.FMA32(a, b, c) }

// hsum8 adds 8 lanes the way the AVX2 kernels do: lo+hi, movehl, movehdup.
func hsum8(a *[8]float32) float32 {
	t0, t1, t2, t3 := a[0]+a[4], a[1]+a[5], a[2]+a[6], a[3]+a[7]
	return (t0 + t2) + (t1 + t3)
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

func toF16Generic(dst []uint16, x []float32) {
	for i, v := range x {
		dst[i] = quant.FP32ToFP16(v)
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
