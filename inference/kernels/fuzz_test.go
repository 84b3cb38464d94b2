package kernels

import (
	"encoding/binary"
	"math"
	"slices"
	"testing"

	"smallthinker/weights/quant"
)

// fuzzFloats turns fuzz bytes into finite floats: 16-bit mantissas with a
// per-block exponent spread, so block maxima stay where QuantizeQ8_0's
// contract holds (≥ 1e-36) and the values hit exact ties often.
func fuzzFloats(data []byte) []float32 {
	n := len(data) / 2 / qk * qk
	x := make([]float32, n)
	for i := range x {
		v := int16(binary.LittleEndian.Uint16(data[2*i:]))
		exp := int(data[(2*i+1)%len(data)]%24) - 12
		x[i] = float32(math.Ldexp(float64(v), exp-(i/qk%5)*3))
	}
	return x
}

func FuzzQuantizeQ8_0(f *testing.F) {
	f.Add([]byte("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"))
	f.Add(make([]byte, 128))
	f.Fuzz(func(t *testing.T, data []byte) {
		x := fuzzFloats(data)
		want := make([]byte, len(x)/qk*q8_0Bytes)
		quant.QuantizeActQ8_0(x, want)
		forEachLevel(t, func(t *testing.T) {
			got := make([]byte, len(want))
			QuantizeQ8_0(x, got)
			if !slices.Equal(got, want) {
				t.Fatalf("QuantizeQ8_0(%v) = %x, want %x", x, got, want)
			}
		})
	})
}

// FuzzDotQuantized checks the Q4_0 and Q8_0 dots on arbitrary weight bytes
// (any nibbles, any int8 but -128, scales limited to finite fp16) against
// the reference.
func FuzzDotQuantized(f *testing.F) {
	f.Add(make([]byte, 200), []byte("activations"))
	f.Add([]byte("weights weights weights weights weights weights weights weights weights"), make([]byte, 64))
	f.Fuzz(func(t *testing.T, wdata, xdata []byte) {
		nb := min(len(wdata)/q8_0Bytes, 8) + 1
		n := nb * qk
		w4 := make([]byte, nb*q4_0Bytes)
		w8 := make([]byte, nb*q8_0Bytes)
		for i := range w8 {
			if i < len(wdata) {
				w8[i] = wdata[i]
			}
			if i%q8_0Bytes >= 2 && int8(w8[i]) == -128 {
				w8[i] = 0x81 // -127: Q8_0 never holds -128
			}
		}
		copy(w4, wdata)
		finiteScales(w4, q4_0Bytes)
		finiteScales(w8, q8_0Bytes)
		xf := make([]float32, n)
		for i := range xf {
			if len(xdata) > 0 {
				xf[i] = float32(int8(xdata[i%len(xdata)])) * float32(i%7+1)
			}
		}
		x := make([]byte, nb*q8_0Bytes)
		QuantizeQ8_0(xf, x)
		forEachLevel(t, func(t *testing.T) {
			if got, want := DotQ4_0Q8_0(w4, x, n), quant.DotQ4_0Q8_0(w4, x, n); math.Abs(float64(got-want)) > quantTolerance(nb, absQuantTerms(w4, x, n, true)) {
				t.Fatalf("Q4_0: got %g, want %g", got, want)
			}
			if got, want := DotQ8_0Q8_0(w8, x, n), quant.DotQ8_0Q8_0(w8, x, n); math.Abs(float64(got-want)) > quantTolerance(nb, absQuantTerms(w8, x, n, false)) {
				t.Fatalf("Q8_0: got %g, want %g", got, want)
			}
		})
	})
}

// finiteScales clears the exponent top bit of each block's fp16 scale so
// that it is finite and the products cannot overflow float32.
func finiteScales(b []byte, block int) {
	for i := 0; i+1 < len(b); i += block {
		b[i+1] &^= 0x40
	}
}
