package kernels

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestRopeNeox checks RopeNeox bit for bit against the plain-Go rotation at
// every level, for head sizes the assembly takes (half a multiple of 8) and
// ones it leaves to Go, over angles from 0 to large positions.
func TestRopeNeox(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 9))
	for _, d := range []int{16, 32, 64, 128, 256, 8, 24, 40} {
		for _, heads := range []int{1, 2, 3, 12} {
			cos, sin := make([]float32, d/2), make([]float32, d/2)
			for i := range cos {
				a := r.Float64() * 1e4
				cos[i], sin[i] = float32(math.Cos(a)), float32(math.Sin(a))
			}
			x := make([]float32, heads*d)
			for i := range x {
				x[i] = float32(r.NormFloat64() * math.Pow(2, float64(r.IntN(20)-10)))
			}
			want := append([]float32(nil), x...)
			ropeNeoxGo(want, d, cos, sin)
			forEachLevel(t, func(t *testing.T) {
				got := append([]float32(nil), x...)
				RopeNeox(got, d, cos, sin)
				for i := range want {
					if math.Float32bits(got[i]) != math.Float32bits(want[i]) {
						t.Fatalf("d=%d heads=%d: [%d] = %g, want %g", d, heads, i, got[i], want[i])
					}
				}
			})
		}
	}
	for _, bad := range []func(){
		func() { RopeNeox(make([]float32, 12), 8, make([]float32, 4), make([]float32, 4)) },
		func() { RopeNeox(make([]float32, 16), 16, make([]float32, 7), make([]float32, 8)) },
		func() { RopeNeox(make([]float32, 14), 7, make([]float32, 4), make([]float32, 4)) },
	} {
		mustPanic(t, bad)
	}
}

func BenchmarkRopeNeox(b *testing.B) {
	saved := active
	defer func() { active = saved }()
	const d, heads = 128, 14 // the 4B's 12 query heads and 2 key heads
	cos, sin := make([]float32, d/2), make([]float32, d/2)
	for i := range cos {
		cos[i], sin[i] = float32(math.Cos(float64(i))), float32(math.Sin(float64(i)))
	}
	x := make([]float32, heads*d)
	for _, l := range levels() {
		b.Run(fmt.Sprint(l), func(b *testing.B) {
			active = l
			for b.Loop() {
				RopeNeox(x, d, cos, sin)
			}
		})
	}
}
