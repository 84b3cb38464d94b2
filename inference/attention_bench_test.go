package inference

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"smallthinker/weights/arch"
)

// newAttnBench makes a state and a full-attention KV layer of n random
// positions for one layer's attention of T tokens ending at position n-1.
func newAttnBench(c *arch.Config, threads, n, T, window int, f16 bool) (*state, *kvLayer) {
	m := &Model{Config: c, exec: newExecutor(threads)}
	kvDim := c.KVDim()
	kv := newKVCache([]int{window}, n, kvDim, c.HeadDim, max(T, 1), f16)
	kl := &kv.layers[0]
	rng := rand.New(rand.NewPCG(uint64(n), uint64(T)))
	k, v := make([]float32, kvDim), make([]float32, kvDim)
	for p := 0; p < n; p++ {
		for i := range k {
			k[i] = float32(rng.NormFloat64()) * 0.5
			v[i] = float32(rng.NormFloat64())
		}
		kl.store(p, kvDim, k, v)
	}
	s := &state{m: m, q: make([][]float32, T), att: make([]*actRow, T), scores: make([][]float32, threads)}
	for i := range s.scores {
		s.scores[i] = make([]float32, n)
	}
	for t := range s.q {
		s.q[t] = make([]float32, c.QDim())
		for i := range s.q[t] {
			s.q[t][i] = float32(rng.NormFloat64()) * 0.5
		}
		s.att[t] = newActRow(c.QDim())
	}
	return s, kl
}

// BenchmarkAttention is one layer's attention of the 4B model (12 heads,
// 2 KV heads, head dim 128) on 2 threads, over an F32 and an F16 cache; it
// reports the cache bytes read per second (MB/s).
func BenchmarkAttention(b *testing.B) {
	c := &arch.Config{Heads: 12, KVHeads: 2, HeadDim: 128}
	for _, kv := range []string{"f32", "f16"} {
		for _, T := range []int{1, 8} {
			for _, n := range []int{512, 4096} {
				b.Run(fmt.Sprintf("kv=%s/T=%d/ctx=%d", kv, T, n), func(b *testing.B) {
					s, kl := newAttnBench(c, 2, n, T, 0, kv == "f16")
					defer s.m.exec.Close()
					elem := 4
					if kv == "f16" {
						elem = 2
					}
					b.SetBytes(int64(2 * n * c.KVDim() * elem))
					for b.Loop() {
						s.attention(kl, n-T, T, 0)
					}
				})
			}
		}
	}
}

// BenchmarkAttentionCold is BenchmarkAttention's decode case as a decode
// step meets it: the layer's keys and values were last touched a whole
// token ago, so they come from DRAM (a 64 MiB sweep evicts them before
// every timed call). The pool's own workers sweep, so they are awake when
// the timed call starts, as between a decode step's passes (parked
// workers would add a futex wake-up to every call).
func BenchmarkAttentionCold(b *testing.B) {
	c := &arch.Config{Heads: 12, KVHeads: 2, HeadDim: 128}
	sweep := &evictTask{buf: make([]byte, 64<<20)}
	for _, kv := range []string{"f32", "f16", "f16-noprefetch"} {
		for _, n := range []int{512, 2048, 4096} {
			b.Run(fmt.Sprintf("kv=%s/ctx=%d", kv, n), func(b *testing.B) {
				s, kl := newAttnBench(c, 2, n, 1, 0, kv != "f32")
				defer s.m.exec.Close()
				saved := attnPrefetchV
				defer func() { attnPrefetchV = saved }()
				attnPrefetchV = kv != "f16-noprefetch"
				for b.Loop() {
					b.StopTimer()
					s.m.exec.For(len(sweep.buf)/64, 1024, sweep)
					b.StartTimer()
					s.attention(kl, n-1, 1, 0)
				}
			})
		}
	}
}

// evictTask writes one byte of every cache line of its items (lines of buf).
type evictTask struct{ buf []byte }

func (t *evictTask) Run(_, lo, hi int) {
	for i := lo * 64; i < hi*64; i += 64 {
		t.buf[i]++
	}
}
