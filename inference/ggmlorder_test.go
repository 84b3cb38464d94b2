package inference

import (
	"math"
	"math/rand/v2"
	"testing"
)

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
