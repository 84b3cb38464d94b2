package kernels

import (
	"encoding/binary"
	"fmt"
	"math"
	"testing"

	"smallthinker/weights/quant"
)

// toF16Cases: every class of float32 whose fp16 rounding has its own path:
// zeros, ties at both parities, the largest finite and the overflow
// boundary, subnormal results and underflow to zero, infinities, NaNs.
var toF16Cases = []float32{
	0, float32(math.Copysign(0, -1)), 1, -1, 0.1, -2.5, 3.14159,
	1 + 1.0/2048, 1 + 3.0/2048, // halfway between fp16 neighbours: even stays, odd rounds up
	65504, 65519.99, 65520, -65520, 1e6, // largest finite, just below and at the overflow tie
	6.1035156e-05, 6.0e-05, 5.9604645e-08, 2.9802322e-08, 2.98023259e-08, 1e-9, -1e-9, // normal/subnormal edge, smallest subnormal, ties, underflow
	float32(math.Inf(1)), float32(math.Inf(-1)),
	math.Float32frombits(0x7fc00000), math.Float32frombits(0xffc00001), math.Float32frombits(0x7f800001), math.Float32frombits(0x7fbfe000),
}

func TestToF16(t *testing.T) {
	forEachLevel(t, func(t *testing.T) {
		for _, n := range []int{0, 1, 7, 8, 9, 31, 32, 33, 64, 71, len(toF16Cases) * 3} {
			x := make([]float32, n)
			for i := range x {
				x[i] = toF16Cases[i%len(toF16Cases)]
			}
			got := make([]uint16, n+1)
			got[n] = 0xdead // must not be written
			ToF16(got[:n], x)
			for i, v := range x {
				if want := quant.FP32ToFP16(v); got[i] != want {
					t.Fatalf("n=%d: fp16(%g = %#08x) = %#04x, want %#04x", n, v, math.Float32bits(v), got[i], want)
				}
			}
			if got[n] != 0xdead {
				t.Fatalf("n=%d: wrote past the end", n)
			}
		}
	})
}

func FuzzToF16(f *testing.F) {
	seed := make([]byte, 4*len(toF16Cases))
	for i, v := range toF16Cases {
		binary.LittleEndian.PutUint32(seed[4*i:], math.Float32bits(v))
	}
	f.Add(seed)
	f.Fuzz(func(t *testing.T, b []byte) {
		x := make([]float32, len(b)/4)
		for i := range x {
			x[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
		}
		got := make([]uint16, len(x))
		ToF16(got, x)
		for i, v := range x {
			if want := quant.FP32ToFP16(v); got[i] != want {
				t.Fatalf("fp16(%#08x) = %#04x, want %#04x", math.Float32bits(v), got[i], want)
			}
		}
	})
}

// BenchmarkToF16: a KV row of the 4B (two heads of 128), the size a
// decode step stores per layer for K and for V.
func BenchmarkToF16(b *testing.B) {
	saved := active
	defer func() { active = saved }()
	x := make([]float32, 256)
	for i := range x {
		x[i] = float32(i) * 0.37
	}
	dst := make([]uint16, len(x))
	for _, l := range levels() {
		b.Run(fmt.Sprint(l), func(b *testing.B) {
			active = l
			b.SetBytes(int64(4 * len(x)))
			for b.Loop() {
				ToF16(dst, x)
			}
		})
	}
}
