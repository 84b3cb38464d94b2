package quant

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestFMA32 checks the fast FMA32 against the exact construction, including
// operands chosen so that a*b+c sits next to float32 rounding midpoints and
// in the subnormal range.
func TestFMA32AgainstExact(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	f := func() float32 {
		return math.Float32frombits(rng.Uint32()&0x807fffff | uint32(100+rng.IntN(55))<<23)
	}
	for i := 0; i < 2_000_000; i++ {
		a, b, c := f(), f(), f()
		switch i % 4 {
		case 1: // c cancels most of a*b
			c = -float32(a * b)
		case 2: // c is half an ulp of a*b away from a float32
			p := float32(a * b)
			c = float32(math.Ldexp(1, int(math.Ilogb(float64(p)))-24))
		case 3: // tiny results
			a = math.Float32frombits(rng.Uint32()&0x807fffff | 1<<23)
		}
		got, want := FMA32(a, b, c), fma32Exact(a, b, c)
		if math.Float32bits(got) != math.Float32bits(want) {
			t.Fatalf("FMA32(%g, %g, %g) = %g, exact %g", a, b, c, got, want)
		}
	}
	// Exact cases: one rounding, not two.
	for _, tc := range []struct{ a, b, c, want float32 }{
		{1, 1, 1, 2},
		{3, 0.5, -1, 0.5},
		{1 + 0x1p-23, 1 + 0x1p-23, -1, 0x1p-22 + 0x1p-46},
	} {
		if got := FMA32(tc.a, tc.b, tc.c); got != tc.want {
			t.Errorf("FMA32(%g, %g, %g) = %g, want %g", tc.a, tc.b, tc.c, got, tc.want)
		}
	}
}
