package kernels

import (
	"math"
	"math/rand/v2"
	"testing"
)

// fmaRef is a*b+c rounded once to float32 (float64 sum made round-to-odd).
func fmaRef(a, b, c float32) float32 {
	p, cc := float64(a)*float64(b), float64(c)
	s := p + cc
	bb := s - p
	if e := (p - (s - bb)) + (cc - bb); e != 0 && math.Float64bits(s)&1 == 0 {
		if (e > 0) == (s > 0) {
			s = math.Float64frombits(math.Float64bits(s) + 1)
		} else {
			s = math.Float64frombits(math.Float64bits(s) - 1)
		}
	}
	return float32(s)
}

// TestGGMLDots checks the assembly against a lane-by-lane model of ggml's
// vec_dot_f32 and tinyBLAS, bit for bit.
func TestGGMLDots(t *testing.T) {
	if _, ok := DotF32GGML(nil, nil); !ok {
		t.Skip("no assembly on this build")
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for _, n := range []int{0, 1, 7, 8, 16, 31, 32, 33, 64, 100, 128, 1536, 4104} {
		a, b := make([]float32, n), make([]float32, n)
		for i := range a {
			a[i], b[i] = float32(rng.NormFloat64()), float32(rng.NormFloat64()*3)
		}
		var acc [32]float32
		np := n &^ 31
		for i := 0; i < np; i++ {
			acc[i%32] = fmaRef(a[i], b[i], acc[i%32])
		}
		var v [8]float32
		for l := range v {
			v[l] = (acc[l] + acc[16+l]) + (acc[8+l] + acc[24+l])
		}
		want := ((v[0] + v[4]) + (v[1] + v[5])) + ((v[2] + v[6]) + (v[3] + v[7]))
		for i := np; i < n; i++ {
			want = fmaRef(a[i], b[i], want)
		}
		if got, _ := DotF32GGML(a, b); math.Float32bits(got) != math.Float32bits(want) {
			t.Errorf("DotF32GGML n=%d: %g, want %g", n, got, want)
		}
		if n%8 != 0 {
			continue
		}
		var s [8]float32
		for i := 0; i < n; i++ {
			s[i%8] = fmaRef(a[i], b[i], s[i%8])
		}
		want = ((s[0] + s[4]) + (s[2] + s[6])) + ((s[1] + s[5]) + (s[3] + s[7]))
		if got, _ := SgemmDotF32(a, b); math.Float32bits(got) != math.Float32bits(want) {
			t.Errorf("SgemmDotF32 n=%d: %g, want %g", n, got, want)
		}
	}
}
