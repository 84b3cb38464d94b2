package inference

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestFMA32 checks the fast fma32 against the exact construction, including
// operands chosen so that a*b+c sits next to float32 rounding midpoints and
// in the subnormal range.
func TestFMA32(t *testing.T) {
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
		got, want := fma32(a, b, c), fma32Exact(a, b, c)
		if math.Float32bits(got) != math.Float32bits(want) {
			t.Fatalf("fma32(%g, %g, %g) = %g, exact %g", a, b, c, got, want)
		}
	}
	// Exact cases: one rounding, not two.
	for _, tc := range []struct{ a, b, c, want float32 }{
		{1, 1, 1, 2},
		{3, 0.5, -1, 0.5},
		{1 + 0x1p-23, 1 + 0x1p-23, -1, 0x1p-22 + 0x1p-46},
	} {
		if got := fma32(tc.a, tc.b, tc.c); got != tc.want {
			t.Errorf("fma32(%g, %g, %g) = %g, want %g", tc.a, tc.b, tc.c, got, tc.want)
		}
	}
}

// TestExpGroups checks the assembly softmax groups (when present) against
// the Go model of ggml_v_expf, bit for bit, over the whole input range the
// softmax sees (x-max ≤ 0, down to -Inf for masked cells).
func TestExpGroups(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, scale := range []float64{1, 10, 60, 100, 150, 1000} {
		x := make([]float32, 4096)
		for i := range x {
			x[i] = float32(-math.Abs(rng.NormFloat64() * scale))
		}
		x[5] = float32(math.Inf(-1))
		x[77] = 0
		m := float32(rng.Float64())
		a, b := append([]float32(nil), x...), append([]float32(nil), x...)
		sa, sb := expGroups(a, m, 0.25), expGroupsGo(b, m, 0.25)
		if sa != sb {
			t.Errorf("scale %g: sum %v, Go model %v", scale, sa, sb)
		}
		for i := range a {
			if math.Float32bits(a[i]) != math.Float32bits(b[i]) {
				t.Fatalf("scale %g: exp(%g) = %g, Go model %g", scale, x[i]-m, a[i], b[i])
			}
		}
	}
	// The Go model of ggml_v_expf against math.Exp: within its documented 1.5 ulp.
	for _, v := range []float32{0, -0.5, -1, -10, -87} {
		got, want := expf8(v), math.Exp(float64(v))
		if math.Abs(float64(got)-want) > 2e-7*want {
			t.Errorf("expf8(%g) = %g, want %g", v, got, want)
		}
	}
	if got := expf8(float32(math.Inf(-1))); got != 0 {
		t.Errorf("expf8(-Inf) = %g, want 0", got)
	}
}
