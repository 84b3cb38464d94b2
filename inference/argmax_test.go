package inference

import (
	"math"
	"math/rand/v2"
	"testing"
)

// Argmax is the first index of the largest logit, skipping NaNs as the
// plain loop does, for lengths on and off the vector kernel's blocks.
func TestArgmax(t *testing.T) {
	plain := func(x []float32) int {
		best := 0
		for i, v := range x {
			if v > x[best] {
				best = i
			}
		}
		return best
	}
	nan, inf := float32(math.NaN()), float32(math.Inf(1))
	negZero := float32(math.Copysign(0, -1))
	r := rand.New(rand.NewPCG(3, 4))
	cases := [][]float32{
		nil, {1}, {-inf, -inf}, {0, negZero, 0}, {negZero, 0}, {1, 3, 3, 2}, {nan, 1, 2}, {1, nan, 5, 5},
	}
	for _, n := range []int{31, 32, 33, 100, 151936} {
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(r.IntN(50)) // many ties
		}
		cases = append(cases, x)
		y := append([]float32(nil), x...)
		y[n/2] = nan
		cases = append(cases, y)
		z := append([]float32(nil), x...)
		z[n-1] = inf
		cases = append(cases, z)
	}
	for i, x := range cases {
		if got, want := Argmax(x), plain(x); got != want {
			t.Errorf("case %d (len %d): Argmax = %d, want %d", i, len(x), got, want)
		}
	}
}
