package quant

import (
	"math"
	"math/big"
	"math/rand/v2"
	"testing"
)

// exactFMA32 rounds a·b+c once, computed exactly with big.Float.
func exactFMA32(a, b, c float32) float32 {
	p := new(big.Float).SetPrec(256).SetFloat64(float64(a))
	p.Mul(p, new(big.Float).SetPrec(256).SetFloat64(float64(b)))
	p.Add(p, new(big.Float).SetPrec(256).SetFloat64(float64(c)))
	f, _ := p.Float32()
	return f
}

func TestFMA32RoundsOnce(t *testing.T) {
	u := float32(1.0 / (1 << 15))
	cases := []struct{ a, b, c float32 }{
		// a·b = 2^-24 - 2^-54; the float64 sum rounds onto the float32
		// midpoint 1+3·2^-24, and rounding again would give 1+2^-22.
		{float32(math.Ldexp(1, -24)) * (1 + u), 1 - u, 1 + float32(math.Ldexp(1, -23))},
		{-float32(math.Ldexp(1, -24)) * (1 + u), 1 - u, -1 - float32(math.Ldexp(1, -23))},
		{3, 5, -15},
		{1e-30, 1e-10, 1e-39}, // subnormal result
		{float32(math.MaxFloat32), 2, 0},
	}
	for _, c := range cases {
		if got, want := FMA32(c.a, c.b, c.c), exactFMA32(c.a, c.b, c.c); math.Float32bits(got) != math.Float32bits(want) {
			t.Errorf("FMA32(%g, %g, %g) = %g, want %g", c.a, c.b, c.c, got, want)
		}
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 20000; i++ {
		a := float32(rng.NormFloat64()) * float32(rng.IntN(4)+1)
		b := float32(rng.IntN(1<<20) - 1<<19) // the integer lane sums of the dots
		c := float32(rng.NormFloat64() * 1e3)
		if got, want := FMA32(a, b, c), exactFMA32(a, b, c); math.Float32bits(got) != math.Float32bits(want) {
			t.Fatalf("FMA32(%g, %g, %g) = %g, want %g", a, b, c, got, want)
		}
	}
}

func TestHsum8IsAVX2Order(t *testing.T) {
	// Sequential float32 addition would lose the ones against 1e8.
	a := [8]float32{1e8, 1, 1, 1, -1e8, 0, 0, 0}
	if got := Hsum8(&a); got != 3 {
		t.Errorf("Hsum8 = %v, want 3 ((a0+a4)+(a2+a6) + (a1+a5)+(a3+a7))", got)
	}
	b := [8]float32{1, 1e8, 0, -1e8, 0, 0, 0, 0}
	if got := Hsum8(&b); got != 1 {
		t.Errorf("Hsum8 = %v, want 1", got)
	}
}

func TestFMA32MidpointCaseNeedsTheExactPath(t *testing.T) {
	u := float32(1.0 / (1 << 15))
	a, b, c := float32(math.Ldexp(1, -24))*(1+u), 1-u, 1+float32(math.Ldexp(1, -23))
	if float32(math.FMA(float64(a), float64(b), float64(c))) == exactFMA32(a, b, c) {
		t.Fatal("the midpoint case does not exercise double rounding")
	}
}
