package inference

import (
	"context"
	"errors"
	"io"
	"path/filepath"
	"testing"
	"time"

	"smallthinker/weights/experts"
)

// logitsOf runs ids and returns every position's logits.
func logitsOf(t *testing.T, m *Model, ids []int) [][]float32 {
	t.Helper()
	var out [][]float32
	r := m.NewRunner(len(ids) + 1)
	if err := r.Eval(ids, true, func(_ int, l []float32) { out = append(out, append([]float32(nil), l...)) }); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestExpertCacheBitIdentical(t *testing.T) {
	cases := loadCases(t)
	for _, c := range cases {
		if c.Name != "tiny-swa-sigmoid-q4_0.p0" && c.Name != "tiny-tdown-sigmoid-q4_0.p0" && c.Name != "kq-q4_k_m.p0" && c.Name != "tiny-swa6-softmax-f32.p0" {
			continue
		}
		t.Run(c.Name, func(t *testing.T) {
			path := filepath.Join(testdataDir, c.Model)
			ids := append(append([]int{}, c.PromptIDs...), c.GreedyIDs...)
			ref, err := Load(path, LoadOptions{Threads: 2})
			if err != nil {
				t.Fatal(err)
			}
			defer ref.Close()
			want := logitsOf(t, ref, ids)
			slot := ref.layout.ExpertBytes()
			all := ref.layout.AllBytes()
			for _, size := range []int64{ref.layout.MinBytes(), ref.layout.MinBytes() + slot, all / 2, all} {
				m, err := Load(path, LoadOptions{Threads: 2, ExpertCacheBytes: size})
				if err != nil {
					t.Fatal(err)
				}
				got := logitsOf(t, m, ids)
				st := m.ExpertStats()
				for p := range want {
					for i := range want[p] {
						if got[p][i] != want[p][i] {
							t.Fatalf("cache %d bytes: position %d logit %d = %v, want %v (bit-identical)", size, p, i, got[p][i], want[p][i])
						}
					}
				}
				t.Logf("cache %d slots: hit rate %.2f, %d reads, %d bytes", size/slot, HitRate(st), st.Reads, st.BytesRead)
				m.Close()
			}
		})
	}
}

func TestBudgetLiveResize(t *testing.T) {
	cases := loadCases(t)
	c := cases[2] // tiny-swa-sigmoid-q4_0
	path := filepath.Join(testdataDir, c.Model)
	ids := append(append([]int{}, c.PromptIDs...), c.GreedyIDs...)
	ref, err := Load(path, LoadOptions{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	want := logitsOf(t, ref, ids)
	b := ref.Breakdown(0)
	ref.Close()

	if _, err := Load(path, LoadOptions{Budget: b.MinBudget - 1}); !errors.Is(err, ErrBudgetTooSmall) {
		t.Fatalf("budget below the minimum: got %v, want ErrBudgetTooSmall", err)
	}
	m, err := Load(path, LoadOptions{Threads: 1, Budget: b.MinBudget})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	// Move the budget up and down while a generation runs on another goroutine.
	done := make(chan [][]float32)
	go func() { done <- logitsOf(t, m, ids) }()
	budgets := []int64{b.FullBudget, b.MinBudget, (b.MinBudget + b.FullBudget) / 2, b.MinBudget + 1}
	var got [][]float32
	for i := 0; got == nil; i++ {
		select {
		case got = <-done:
		default:
			if err := m.SetBudget(budgets[i%len(budgets)]); err != nil {
				t.Fatal(err)
			}
			time.Sleep(200 * time.Microsecond)
		}
	}
	for p := range want {
		for i := range want[p] {
			if got[p][i] != want[p][i] {
				t.Fatalf("position %d differs after live budget changes", p)
			}
		}
	}
	if m.ExpertStats().Capacity < experts.MinSlots(m.Config.ExpertsUsed) {
		t.Fatalf("capacity below minimum")
	}
}

// slowReader adds latency to every expert read, like a slow disk.
type slowReader struct {
	r     io.ReaderAt
	delay time.Duration
}

func (s slowReader) ReadAt(p []byte, off int64) (int, error) {
	time.Sleep(s.delay)
	return s.r.ReadAt(p, off)
}

// With a slow disk, starting expert reads right after the router (before
// attention) hides read latency that the no-prefetch engine waits for.
func TestPrefetchHidesSlowReads(t *testing.T) {
	cases := loadCases(t)
	c := cases[2] // tiny-swa-sigmoid-q4_0: 3 layers, 8 experts, top-2
	path := filepath.Join(testdataDir, c.Model)
	ids := c.PromptIDs[:8]
	run := func(prefetch, lookAhead bool) (time.Duration, experts.Stats, []float32) {
		opts := LoadOptions{Threads: 1, ExpertCacheBytes: 1, NoPrefetch: !prefetch, LookAhead: lookAhead,
			Experts: experts.Options{IOWorkers: 4, WrapReader: func(r io.ReaderAt) io.ReaderAt { return slowReader{r, 3 * time.Millisecond} }}}
		probe, err := Load(path, LoadOptions{Threads: 1})
		if err != nil {
			t.Fatal(err)
		}
		opts.ExpertCacheBytes = probe.layout.MinBytes() + probe.layout.ExpertBytes()
		probe.Close()
		m, err := Load(path, opts)
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		r := m.NewRunner(64)
		var last []float32
		start := time.Now()
		for _, id := range ids { // one token at a time, like decoding
			if err := r.Eval([]int{id}, false, func(_ int, l []float32) { last = append(last[:0], l...) }); err != nil {
				t.Fatal(err)
			}
		}
		return time.Since(start) / time.Duration(len(ids)), m.ExpertStats(), last
	}
	without, s0, l0 := run(false, false)
	with, s1, l1 := run(true, false)
	ahead, s2, l2 := run(true, true)
	n := time.Duration(len(ids))
	t.Logf("per token: %v without prefetch (I/O wait %v), %v with (I/O wait %v), %v with look-ahead (I/O wait %v, %d wasted prefetches)",
		without, s0.WaitTime/n, with, s1.WaitTime/n, ahead, s2.WaitTime/n, s2.PrefetchWasted)
	for i := range l0 {
		if l0[i] != l1[i] || l0[i] != l2[i] {
			t.Fatalf("prefetch changed the logits")
		}
	}
	if !(s1.WaitTime < s0.WaitTime*3/4) {
		t.Fatalf("prefetch did not hide read latency: I/O wait %v with, %v without", s1.WaitTime, s0.WaitTime)
	}
}

// A reply's stats report the expert cache: hit rate 1 with every expert in
// RAM, lower (with bytes read) when experts stream from disk.
func TestChatReportsExpertStats(t *testing.T) {
	m := tinyModel(t, 1)
	res, err := m.NewSession(256).Chat(context.Background(), []Message{{Role: RoleUser, Content: "Hi there"}}, greedy(4), nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Stats.CacheHitRate != 1 || res.Stats.SSDBytesRead != 0 {
		t.Fatalf("resident experts: hit rate %v, %d bytes read", res.Stats.CacheHitRate, res.Stats.SSDBytesRead)
	}
	small, err := Load(m.Path, LoadOptions{Threads: 1, ExpertCacheBytes: m.layout.MinBytes()})
	if err != nil {
		t.Fatal(err)
	}
	defer small.Close()
	res, err = small.NewSession(256).Chat(context.Background(), []Message{{Role: RoleUser, Content: "Hi there"}}, greedy(4), nil)
	if err != nil {
		t.Fatal(err)
	}
	if res.Stats.CacheHitRate >= 1 || res.Stats.SSDBytesRead == 0 {
		t.Fatalf("minimal cache: hit rate %v, %d bytes read", res.Stats.CacheHitRate, res.Stats.SSDBytesRead)
	}
}

// The budget's KV share is what a session's cache really allocates, for an
// F32 and an F16 cache, with sliding-window rings and without.
func TestKVBytesMatchesCache(t *testing.T) {
	for _, name := range []string{"tiny-swa-sigmoid-q4_0.gguf", "tiny-dense-sigmoid-untied-q4_0.gguf"} {
		for _, f16 := range []bool{false, true} {
			m, err := Load(filepath.Join(testdataDir, "models", name), LoadOptions{Threads: 1, KVF16: f16})
			if err != nil {
				t.Fatal(err)
			}
			for _, ctx := range []int{1, 100, 300, 1000, 5000} {
				if got, want := m.NewRunner(ctx).kv.bytes(), m.kvBytes(ctx); got != want {
					t.Errorf("%s, F16 %v, ctx %d: the cache holds %d bytes, the budget counts %d", name, f16, ctx, got, want)
				}
			}
			if want := map[bool]int64{false: 4, true: 2}[f16]; m.kvElemBytes() != want {
				t.Errorf("%s, F16 %v: cache elements of %d bytes, want %d", name, f16, m.kvElemBytes(), want)
			}
			m.Close()
		}
	}
}
