package kernels

import (
	"bytes"
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

// FuzzQ8_0Aux checks Q8_0Aux on arbitrary Q8_0 bytes (any int8 values, any
// fp16 scale but NaN, whose payload the conversions may quiet differently)
// against the plain-Go version.
func FuzzQ8_0Aux(f *testing.F) {
	f.Add(bytes.Repeat([]byte{0x80, 0x7f, 0xff, 0x01}, 17))
	f.Add(make([]byte, 34*3))
	f.Fuzz(func(t *testing.T, data []byte) {
		nb := len(data) / q8_0Bytes
		x := data[:nb*q8_0Bytes]
		for b := 0; b < nb; b++ {
			if x[b*q8_0Bytes+1]&0x7c == 0x7c && (x[b*q8_0Bytes+1]&3 != 0 || x[b*q8_0Bytes] != 0) {
				x[b*q8_0Bytes+1] &^= 0x04 // NaN -> finite
			}
		}
		want := make([]byte, nb*Q8AuxBytes)
		q8_0AuxGeneric(x, want, nb)
		forEachLevel(t, func(t *testing.T) {
			got := make([]byte, len(want)+Q8AuxBytes)
			Q8_0Aux(x, nb*qk, got)
			if !slices.Equal(got[:len(want)], want) || !slices.Equal(got[len(want):], make([]byte, Q8AuxBytes)) {
				t.Fatalf("Q8_0Aux(%x) = %x, want %x (and nothing written past it)", x, got, want)
			}
		})
	})
}
