package inference

import (
	"math"

	"smallthinker/inference/kernels"
)

// attention computes softmax(q·k/√d)·v for every token and head of the batch,
// in the reference's float order (see ggmlorder.go): scores by
// ggml_vec_dot_f32, softmax by ggml_soft_max over cells aligned to position 0,
// and the weighted sum of values as the reference's mul_mat of the transposed
// V cache with the scores: tinyBLAS for a batch of 2+ tokens, ggml_vec_dot_f32
// for a single token.
func (s *state) attention(kl *kvLayer, kvDim, pos0, T, window int) {
	t := &s.attT
	t.s, t.kl, t.kvDim, t.pos0, t.window, t.sgemm = s, kl, kvDim, pos0, window, T > 1
	if n := s.m.exec.Threads(); len(t.acc) < n {
		t.acc = make([][]float32, n)
	}
	s.m.exec.For(T*s.m.Config.Heads, 1, t)
	// Workers write different heads of the same rows: mark the rows changed
	// here, once, not from every worker (that would be a data race).
	for tok := 0; tok < T; tok++ {
		s.att[tok].invalidate()
	}
}

type attnTask struct {
	s      *state
	kl     *kvLayer
	kvDim  int
	pos0   int
	window int
	sgemm  bool
	// acc[worker] holds the 32 (vec_dot) or 8 (tinyBLAS) lane accumulators of
	// the weighted value sum, each HeadDim long.
	acc [][]float32
}

func (t *attnTask) Run(worker, lo, hi int) {
	c := t.s.m.Config
	d := c.HeadDim
	group := c.Heads / c.KVHeads
	scale := 1 / float32(math.Sqrt(float64(d)))
	if len(t.acc[worker]) < 32*d {
		t.acc[worker] = make([]float32, 32*d)
	}
	lanes := 32
	if t.sgemm {
		lanes = 8
	}
	acc := t.acc[worker][:lanes*d]
	for i := lo; i < hi; i++ {
		tok, h := i/c.Heads, i%c.Heads
		qpos := t.pos0 + tok
		first := 0
		if t.window > 0 {
			first = max(0, qpos-t.window+1)
		}
		q := t.s.q[tok][h*d : (h+1)*d]
		kvh := h / group
		sc := t.s.scores[worker][:qpos-first+1]
		for p := first; p <= qpos; p++ {
			k := t.kl.keys(p, t.kvDim)[kvh*d : (kvh+1)*d]
			sc[p-first] = float32(vecDotF32(k, q) * scale)
		}
		softmaxGGML(sc, first)
		clear(acc)
		for p := first; p <= qpos; p++ {
			l := p % lanes
			fmaAxpy(sc[p-first], t.kl.values(p, t.kvDim)[kvh*d:(kvh+1)*d], acc[l*d:(l+1)*d])
		}
		out := t.s.att[tok].f32[h*d : (h+1)*d]
		if t.sgemm {
			var v [8]float32
			for e := range out {
				for l := range v {
					v[l] = acc[l*d+e]
				}
				out[e] = hsum8(&v)
			}
		} else {
			var v [32]float32
			for e := range out {
				for l := range v {
					v[l] = acc[l*d+e]
				}
				out[e] = reduceF32x8(&v)
			}
		}
	}
}

// fmaAxpy does y[i] = fma(a, x[i], y[i]) (one rounding), as a vector FMA lane does.
func fmaAxpy(a float32, x, y []float32) {
	if fusedAxpy && len(x)%8 == 0 {
		kernels.Axpy(a, x, y) // the assembly fuses multiply and add
		return
	}
	for i, v := range x {
		y[i] = fma32(a, v, y[i])
	}
}

// fusedAxpy: kernels.Axpy rounds once per element (its assembly uses FMA).
var fusedAxpy = kernels.Impl() != "purego"

// ropeNeox rotates each head of x in place (GGML_ROPE_TYPE_NEOX: pairs (i, i+d/2)),
// computing the angles the way ggml does: theta starts at pos and is multiplied
// by base^(-2/d) in float32 for each pair; cosf/sinf are glibc's (libmf.go).
func ropeNeox(x []float32, headDim, pos int, base float32) {
	half := headDim / 2
	thetaScale := float32(math.Pow(float64(base), -2.0/float64(headDim)))
	theta := float32(pos)
	for i := 0; i < half; i++ {
		sin, cos := sincosfGlibc(theta)
		for h := 0; h+headDim <= len(x); h += headDim {
			x0, x1 := x[h+i], x[h+i+half]
			x[h+i], x[h+i+half] = ropeRotate(x0, x1, cos, sin)
		}
		theta *= thetaScale
	}
}

// ropeRotate is ggml's x0*cos - x1*sin, x0*sin + x1*cos as GCC contracts it:
// the first product of each line fused with the rounded second one.
func ropeRotate(x0, x1, cos, sin float32) (float32, float32) {
	return fma32(x0, cos, -float32(x1*sin)), fma32(x0, sin, float32(x1*cos))
}
