package experts

import (
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	"smallthinker/weights/gguf"
)

// benchModel returns a big model file for throughput benchmarks: $EXPERTS_BENCH_MODEL,
// else the random 4B model `make bench` generates, else a 1 GiB synthetic
// file in the temp dir (removed when the benchmark ends).
func benchModel(b *testing.B) *model {
	b.Helper()
	for _, p := range []string{os.Getenv("EXPERTS_BENCH_MODEL"), "../../build/models/random-4b-q4_0.gguf"} {
		if p == "" {
			continue
		}
		if _, err := os.Stat(p); err == nil {
			return openModel(b, p)
		}
	}
	if testing.Short() {
		b.Skip("no big model file and -short: not writing a 1 GiB file")
	}
	dir, err := os.MkdirTemp("", "experts-bench-")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { os.RemoveAll(dir) })
	path := filepath.Join(dir, "synthetic-4b-like.gguf")
	// The 4B's expert shape (Q4_0, hidden 1536, expert ffn 768, 32 experts), 16 layers: 1.02 GB.
	writeSynthetic(b, path, 16, 32, 1536, 768, gguf.Q4_0)
	return openSynthetic(b, path, 16, 32, 4)
}

// BenchmarkReadThroughput reads every expert of the model once through the
// cache (prefetching a layer ahead) and reports MB/s, with O_DIRECT and with
// buffered reads, for 1 to 8 I/O goroutines. The file is evicted from the page
// cache before each buffered run (that file only), so both read the disk.
func BenchmarkReadThroughput(b *testing.B) {
	m := benchModel(b)
	l := m.layout
	all := make([]int, l.Experts)
	for e := range all {
		all[e] = e
	}
	for _, direct := range []bool{true, false} {
		for _, workers := range []int{1, 2, 4, 8} {
			name := fmt.Sprintf("direct=%v/workers=%d", direct, workers)
			b.Run(name, func(b *testing.B) {
				var bytes int64
				var busy, wall time.Duration
				for i := 0; i < b.N; i++ {
					b.StopTimer()
					evictFile(b, m.path)
					c, err := Open(m.path, l, int64(2*l.Experts+l.TopK)*l.ExpertBytes(), Options{IOWorkers: workers, DisableDirect: !direct})
					if err != nil {
						b.Fatal(err)
					}
					b.StartTimer()
					t0 := time.Now()
					c.Prefetch(0, all)
					for il := 0; il < l.Layers; il++ {
						if il+1 < l.Layers {
							c.Prefetch(il+1, all)
						}
						for _, e := range all {
							x, err := c.Acquire(il, e)
							if err != nil {
								b.Fatal(err)
							}
							c.Release(x)
						}
					}
					b.StopTimer()
					wall += time.Since(t0)
					st := c.Stats()
					bytes += st.BytesRead
					busy += st.BusyTime
					b.Logf("reads %d sync %d stalls %d prefetchhits %d wasted %d skipped %d evictions %d errors %d", st.Reads, st.SyncReads, st.Stalls, st.PrefetchHits, st.PrefetchWasted, st.PrefetchSkipped, st.Evictions, st.ReadErrors)
					if st.Direct != direct {
						b.Logf("O_DIRECT requested=%v, used=%v", direct, st.Direct)
					}
					c.Close()
				}
				b.ReportMetric(float64(bytes)/1e6/wall.Seconds(), "MB/s")
				b.ReportMetric(float64(bytes)/1e6/busy.Seconds(), "busyMB/s")
				b.ReportMetric(float64(bytes)/1e6/float64(b.N), "MB/op")
			})
		}
	}
}

// BenchmarkDecodePattern replays a decode-like access pattern (top-k random
// experts per layer, prefetched before a 1 ms "attention" step) with a cache
// of a quarter of the experts, and reports expert I/O per token.
func BenchmarkDecodePattern(b *testing.B) {
	m := benchModel(b)
	l := m.layout
	evictFile(b, m.path)
	c, err := Open(m.path, l, l.AllBytes()/4, Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	rng := rand.New(rand.NewPCG(1, 1))
	sel := make([]int, l.TopK)
	start := c.Stats()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		for il := 0; il < l.Layers; il++ {
			for i, e := range rng.Perm(l.Experts)[:l.TopK] {
				sel[i] = e
			}
			c.Prefetch(il, sel)
			time.Sleep(time.Millisecond)
			for _, e := range sel {
				x, err := c.Acquire(il, e)
				if err != nil {
					b.Fatal(err)
				}
				c.Release(x)
			}
		}
	}
	st := c.Stats().Sub(start)
	n := float64(b.N)
	b.ReportMetric(float64(st.BytesRead)/1e6/n, "MB/token")
	b.ReportMetric(float64(st.WaitTime.Microseconds())/1e3/n, "waitms/token")
	b.ReportMetric(st.ReadMBps(), "busyMB/s")
	b.ReportMetric(float64(st.Hits)/float64(st.Hits+st.Misses()), "hitrate")
}
