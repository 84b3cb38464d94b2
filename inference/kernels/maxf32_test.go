package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

// MaxF32 at every level against a plain loop: lengths around the 32-float
// blocks, NaN anywhere (also where VMAXPS would drop it), infinities, all
// negative values, signed zeros.
func TestMaxF32(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	want := func(x []float32) float32 {
		m := float32(math.Inf(-1))
		for _, v := range x {
			if v != v {
				return v
			}
			if v > m {
				m = v
			}
		}
		return m
	}
	forEachLevel(t, func(t *testing.T) {
		for _, n := range []int{0, 1, 7, 31, 32, 33, 64, 95, 96, 200, maxCallElems + 40} {
			for trial := 0; trial < 6; trial++ {
				x := make([]float32, n)
				for i := range x {
					x[i] = float32(r.NormFloat64()*100) - 300
				}
				switch {
				case trial == 1 && n > 0:
					x[r.IntN(n)] = float32(math.NaN())
				case trial == 2 && n > 0:
					x[0] = float32(math.NaN()) // the first operand of the first VMAXPS
				case trial == 3 && n > 0:
					x[r.IntN(n)] = float32(math.Inf(1))
				case trial == 4:
					for i := range x {
						x[i] = float32(math.Inf(-1))
					}
				case trial == 5 && n > 1:
					for i := range x {
						x[i] = -1
					}
					x[r.IntN(n)] = 0
				}
				got, exp := MaxF32(x), want(x)
				if got != exp && !(got != got && exp != exp) {
					t.Fatalf("n=%d trial %d: MaxF32 = %v, want %v", n, trial, got, exp)
				}
			}
		}
	})
}

func BenchmarkMaxF32(b *testing.B) {
	saved := active
	defer func() { active = saved }()
	x := randFloats(rand.New(rand.NewPCG(1, 1)), 4096)
	for _, l := range levels() {
		b.Run(l.String(), func(b *testing.B) {
			active = l
			b.SetBytes(4 * int64(len(x)))
			for b.Loop() {
				MaxF32(x)
			}
		})
	}
}
