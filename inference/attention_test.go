package inference

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"smallthinker/inference/kernels"
	"smallthinker/weights/arch"
	"smallthinker/weights/quant"
)

// referenceAttention is the reference engine's attention written out one
// query head at a time, each KV position in turn: scores by ggml_vec_dot_f32,
// softmax, then the weighted value sum as a dot product over positions with
// 32 (vec_dot) or 8 (tinyBLAS, batches of 2+) lane accumulators. The engine
// regroups this work (heads sharing a KV head, blocks of positions, kernels
// taking whole runs) and must give the same bits.
func referenceAttention(c *arch.Config, kl *kvLayer, q [][]float32, kvDim, pos0, window int) [][]float32 {
	d, group := c.HeadDim, c.Heads/c.KVHeads
	scale := 1 / float32(math.Sqrt(float64(d)))
	lanes := 32
	if len(q) > 1 {
		lanes = 8
	}
	out := make([][]float32, len(q))
	for tok := range q {
		out[tok] = make([]float32, c.QDim())
		qpos := pos0 + tok
		first := 0
		if window > 0 {
			first = max(0, qpos-window+1)
		}
		for h := 0; h < c.Heads; h++ {
			kvh := h / group
			sc := make([]float32, qpos-first+1)
			for p := first; p <= qpos; p++ {
				sc[p-first] = vecDotF32(kl.keys(p, kvDim)[kvh*d:(kvh+1)*d], q[tok][h*d:(h+1)*d]) * scale
			}
			softmaxGGML(sc, first)
			acc := make([]float32, lanes*d)
			for p := first; p <= qpos; p++ {
				l := p % lanes
				v := kl.values(p, kvDim)[kvh*d : (kvh+1)*d]
				for e, x := range v {
					acc[l*d+e] = fma32(sc[p-first], x, acc[l*d+e])
				}
			}
			for e := 0; e < d; e++ {
				if lanes == 8 {
					var v [8]float32
					for l := range v {
						v[l] = acc[l*d+e]
					}
					out[tok][h*d+e] = hsum8(&v)
				} else {
					var v [32]float32
					for l := range v {
						v[l] = acc[l*d+e]
					}
					out[tok][h*d+e] = reduceF32x8(&v)
				}
			}
		}
	}
	return out
}

func TestAttentionMatchesReference(t *testing.T) {
	cfgs := []arch.Config{
		{Heads: 12, KVHeads: 2, HeadDim: 128}, // 4B
		{Heads: 28, KVHeads: 4, HeadDim: 128}, // 21B: groups of 7, an odd number of heads
		{Heads: 4, KVHeads: 4, HeadDim: 64},
		{Heads: 4, KVHeads: 2, HeadDim: 40}, // head size the assembly does not take
		{Heads: 2, KVHeads: 1, HeadDim: 256},
	}
	lens := []int{1, 2, 7, 8, 9, 33, 64, 257, 300, 513}
	if testing.Short() {
		lens = []int{1, 9, 257}
	}
	for ci := range cfgs {
		c := &cfgs[ci]
		for _, threads := range []int{1, 2, 3} {
			m := &Model{Config: c, exec: newExecutor(threads)}
			kvDim := c.KVDim()
			for _, window := range []int{0, 1, 7, 100, 256} {
				for _, T := range []int{1, 2, 5} {
					for _, n := range lens {
						if n < T {
							continue
						}
						name := fmt.Sprintf("%s/h%d-kv%d-d%d/threads=%d/window=%d/T=%d/n=%d", kernels.Impl(), c.Heads, c.KVHeads, c.HeadDim, threads, window, T, n)
						const ctx = 600 // a ring smaller than ctx wraps, for windowed layers
						kv := newKVCache([]int{window}, ctx, kvDim, c.HeadDim, 8, false)
						kl := &kv.layers[0]
						rng := rand.New(rand.NewPCG(uint64(n*131+T*7+window), uint64(ci)))
						s := attnTestState(m, T, threads, ctx, rng)
						for p := 0; p < n; p++ {
							k, v := randomVector(rng, kvDim, 0.6), randomVector(rng, kvDim, 1)
							if p%97 == 13 {
								k[3] = 30 // one dominant score
							}
							kl.store(p, kvDim, k, v)
						}
						pos0 := n - T
						s.attention(kl, pos0, T, window)
						want := referenceAttention(c, kl, s.q, kvDim, pos0, window)
						for tok := range want {
							for i, w := range want[tok] {
								if got := s.att[tok].f32[i]; math.Float32bits(got) != math.Float32bits(w) {
									t.Fatalf("%s: token %d [%d] = %g, reference %g", name, tok, i, got, w)
								}
							}
						}
					}
				}
			}
			m.exec.Close()
		}
	}
}

// TestAttentionF16 checks attention over an F16 cache against attention
// computed in float64 from the same F16-rounded keys and values: windows,
// ring wrap, head groups split between threads, batches.
func TestAttentionF16(t *testing.T) {
	cfgs := []arch.Config{
		{Heads: 12, KVHeads: 2, HeadDim: 128},
		{Heads: 28, KVHeads: 4, HeadDim: 128},
		{Heads: 4, KVHeads: 2, HeadDim: 40},
		{Heads: 4, KVHeads: 2, HeadDim: 16},
	}
	for ci := range cfgs {
		c := &cfgs[ci]
		for _, threads := range []int{1, 2, 3} {
			m := &Model{Config: c, exec: newExecutor(threads)}
			kvDim := c.KVDim()
			for _, window := range []int{0, 7, 256} {
				for _, T := range []int{1, 5} {
					for _, n := range []int{1, 9, 300, 513} {
						if n < T {
							continue
						}
						name := fmt.Sprintf("%s/h%d-kv%d-d%d/threads=%d/window=%d/T=%d/n=%d", kernels.Impl(), c.Heads, c.KVHeads, c.HeadDim, threads, window, T, n)
						const ctx = 600
						kv := newKVCache([]int{window}, ctx, kvDim, c.HeadDim, 8, true)
						kl := &kv.layers[0]
						if kl.k != nil || kl.k16 == nil {
							t.Fatal("an F16 cache holds F32 rows")
						}
						rng := rand.New(rand.NewPCG(uint64(n*131+T*7+window), uint64(ci)))
						s := attnTestState(m, T, threads, ctx, rng)
						keys, vals := make([][]float64, n), make([][]float64, n)
						for p := 0; p < n; p++ {
							k, v := randomVector(rng, kvDim, 0.6), randomVector(rng, kvDim, 1)
							if p%97 == 13 {
								k[3] = 30
							}
							kl.store(p, kvDim, k, v)
							keys[p], vals[p] = make([]float64, kvDim), make([]float64, kvDim)
							for i := range k {
								keys[p][i] = float64(quant.FP16ToFP32(quant.FP32ToFP16(k[i])))
								vals[p][i] = float64(quant.FP16ToFP32(quant.FP32ToFP16(v[i])))
							}
						}
						pos0 := n - T
						s.attention(kl, pos0, T, window)
						d, group := c.HeadDim, c.Heads/c.KVHeads
						for tok := 0; tok < T; tok++ {
							qpos := pos0 + tok
							first := 0
							if window > 0 {
								first = max(0, qpos-window+1)
							}
							for h := 0; h < c.Heads; h++ {
								off := h / group * d
								sc := make([]float64, qpos+1-first)
								mx := math.Inf(-1)
								for p := first; p <= qpos; p++ {
									dot := 0.0
									for e := 0; e < d; e++ {
										dot += float64(s.q[tok][h*d+e]) * keys[p][off+e]
									}
									sc[p-first] = dot / math.Sqrt(float64(d))
									mx = max(mx, sc[p-first])
								}
								sum := 0.0
								for i := range sc {
									sc[i] = math.Exp(sc[i] - mx)
									sum += sc[i]
								}
								for e := 0; e < d; e++ {
									want := 0.0
									for p := first; p <= qpos; p++ {
										want += sc[p-first] / sum * vals[p][off+e]
									}
									if got := float64(s.att[tok].f32[h*d+e]); math.Abs(got-want) > 1e-5*(1+math.Abs(want)) {
										t.Fatalf("%s: token %d head %d [%d] = %g, want %g", name, tok, h, e, got, want)
									}
								}
							}
						}
					}
				}
			}
			m.exec.Close()
		}
	}
}

// attnTestState is a state with T random queries and score rows of ctx
// for threads workers: what attention reads and writes.
func attnTestState(m *Model, T, threads, ctx int, rng *rand.Rand) *state {
	s := &state{m: m, q: make([][]float32, T), att: make([]*actRow, T), scores: make([][]float32, threads)}
	for i := range s.scores {
		s.scores[i] = make([]float32, ctx)
	}
	for tok := range s.q {
		s.q[tok] = randomVector(rng, m.Config.QDim(), 0.6)
		s.att[tok] = newActRow(m.Config.QDim())
	}
	return s
}

func randomVector(rng *rand.Rand, n int, sd float64) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(rng.NormFloat64() * sd)
	}
	return x
}
