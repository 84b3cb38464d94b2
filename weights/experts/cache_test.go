package experts

import (
	"errors"
	"io"
	"math/rand/v2"
	"os"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

var testModels = []string{"tiny-swa-sigmoid-q4_0.gguf", "kq-q8_0.gguf", "kq-q4_k_m.gguf", "tiny-tdown-sigmoid-q4_0.gguf"}

func TestLayout(t *testing.T) {
	for _, name := range testModels {
		t.Run(name, func(t *testing.T) {
			m := openModel(t, testModel(t, name))
			l := m.layout
			if l.ExpertBytes()%pageSize != 0 {
				t.Fatalf("slot of %d bytes is not page-aligned", l.ExpertBytes())
			}
			for il := 0; il < l.Layers; il++ {
				if l.SliceBytes(il) > l.ExpertBytes() {
					t.Fatalf("layer %d: slices of %d bytes exceed the %d-byte slot", il, l.SliceBytes(il), l.ExpertBytes())
				}
				for e := 0; e < l.Experts; e++ {
					for p := Gate; p < numParts; p++ {
						off, n := l.Slice(il, e, p)
						if int64(len(m.want(t, il, e, p))) != n {
							t.Fatalf("layer %d expert %d %s: %d bytes, tensor slice has %d", il, e, p, n, len(m.want(t, il, e, p)))
						}
						if span := alignUp(off+n) - alignDown(off); span > l.span[p] {
							t.Fatalf("layer %d expert %d %s: span %d exceeds reserved %d", il, e, p, span, l.span[p])
						}
						ti, _ := m.f.Tensor(tensorName(il, p))
						if l.Type(il, p) != ti.Type {
							t.Fatalf("type %v, tensor has %v", l.Type(il, p), ti.Type)
						}
					}
				}
			}
			if l.MinBytes() != int64(MinSlots(l.TopK))*l.ExpertBytes() || l.AllBytes() != int64(l.Layers*l.Experts)*l.ExpertBytes() {
				t.Fatal("MinBytes/AllBytes inconsistent with ExpertBytes")
			}
		})
	}
}

func TestLayoutErrors(t *testing.T) {
	m := openModel(t, testModel(t, "tiny-swa-sigmoid-q4_0.gguf"))
	for _, tc := range []struct {
		name                  string
		layers, experts, topK int
		want                  string
	}{
		{"too many layers", 4, 8, 2, "blk.3.ffn_gate_exps.weight is missing"},
		{"wrong expert count", 3, 4, 2, "last dimension"},
		{"no layers", 0, 8, 2, "at least one layer"},
		{"top-k zero", 3, 8, 0, "top-k"},
		{"top-k above experts", 3, 8, 9, "top-k"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := NewLayout(m.f, tc.layers, tc.experts, tc.topK)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

// Every expert's bytes equal the file's at every cache size, with O_DIRECT
// and buffered reads, whatever the access order.
func TestBytesMatchFileAtEverySize(t *testing.T) {
	for _, name := range testModels {
		m := openModel(t, testModel(t, name))
		l := m.layout
		total := l.Layers * l.Experts
		for _, direct := range []bool{true, false} {
			for _, slots := range []int{MinSlots(l.TopK), MinSlots(l.TopK) + 1, total / 2, total - 1, total} {
				c := m.open(t, slots, Options{DisableDirect: !direct})
				rng := rand.New(rand.NewPCG(uint64(slots), 7))
				for pass := 0; pass < 3; pass++ {
					for _, id := range rng.Perm(total) {
						il, e := id/l.Experts, id%l.Experts
						if pass == 1 {
							c.Prefetch(il, []int{e, (e + 1) % l.Experts})
						}
						x, err := c.Acquire(il, e)
						if err != nil {
							t.Fatal(err)
						}
						if err := m.check(t, x, il, e); err != nil {
							t.Fatalf("%s direct=%v slots=%d: %v", name, direct, slots, err)
						}
						c.Release(x)
					}
				}
				st := c.Stats()
				if st.Slots > slots || st.Pinned != 0 {
					t.Fatalf("%s slots=%d: %d slots mapped, %d pinned", name, slots, st.Slots, st.Pinned)
				}
				if got := st.Hits + st.Misses(); got != int64(3*total) {
					t.Fatalf("%d acquires counted, want %d: %+v", got, 3*total, st)
				}
				if direct && !st.Direct {
					t.Logf("%s: O_DIRECT refused by this file system; buffered fallback used", name)
				}
				if err := c.Close(); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
}

// When the budget holds every expert, each is read once and never again.
func TestResidentWhenEverythingFits(t *testing.T) {
	m := openModel(t, testModel(t, "kq-q4_k_m.gguf"))
	l := m.layout
	var reads atomic.Int64
	c, err := Open(m.path, l, l.AllBytes()+12345, Options{WrapReader: func(r io.ReaderAt) io.ReaderAt { return countingReader{r, &reads} }})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for pass := 0; pass < 4; pass++ {
		for il := 0; il < l.Layers; il++ {
			all := make([]int, l.Experts)
			for e := range all {
				all[e] = e
			}
			c.Prefetch(il, all)
			for e := 0; e < l.Experts; e++ {
				x, err := c.Acquire(il, e)
				if err != nil {
					t.Fatal(err)
				}
				if err := m.check(t, x, il, e); err != nil {
					t.Fatal(err)
				}
				c.Release(x)
			}
		}
	}
	st := c.Stats()
	n := int64(l.Layers * l.Experts)
	if st.Reads != n || reads.Load() != 3*n || st.Evictions != 0 || st.Resident != int(n) || st.Capacity != int(n) {
		t.Fatalf("want %d expert reads (%d file reads), no evictions, all resident; got %+v, %d file reads", n, 3*n, st, reads.Load())
	}
	if st.Hits != 3*n {
		t.Fatalf("passes after the first should all hit: %+v", st)
	}
}

func TestMinimumSizeRefused(t *testing.T) {
	m := openModel(t, testModel(t, "tiny-swa-sigmoid-q4_0.gguf"))
	l := m.layout
	_, err := Open(m.path, l, l.MinBytes()-1, Options{})
	if err == nil || !strings.Contains(err.Error(), "minimum") || !strings.Contains(err.Error(), "bytes") {
		t.Fatalf("Open below the minimum: %v", err)
	}
	c := m.open(t, MinSlots(l.TopK), Options{})
	if err := c.Resize(l.MinBytes() - 1); err == nil {
		t.Fatal("Resize below the minimum accepted")
	}
	if err := c.Resize(l.MinBytes()); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Acquire(l.Layers, 0); err == nil {
		t.Fatal("out-of-range layer accepted")
	}
	if _, err := c.Acquire(0, -1); err == nil {
		t.Fatal("negative expert accepted")
	}
	c.Prefetch(-1, []int{0})
	c.Prefetch(0, []int{99, -3})
	if st := c.Stats(); st.Prefetches != 0 {
		t.Fatalf("invalid prefetches started reads: %+v", st)
	}
}

// Several goroutines acquire random experts (pinning up to top-k each, like
// the engine) while another resizes the cache; every byte must stay right.
func TestConcurrentAccessWithResize(t *testing.T) {
	for _, name := range []string{"tiny-swa-sigmoid-q4_0.gguf", "kq-q4_k_m.gguf"} {
		t.Run(name, func(t *testing.T) {
			m := openModel(t, testModel(t, name))
			l := m.layout
			const workers = 4
			min := workers * l.TopK // enough slots for every worker's pins
			c := m.open(t, min, Options{IOWorkers: 3, SlotWait: 30 * time.Second})
			var acquires atomic.Int64
			stop := make(chan struct{})
			resized := make(chan error, 1)
			go func() {
				rng := rand.New(rand.NewPCG(1, 2))
				for i := 0; ; i++ {
					select {
					case <-stop:
						resized <- nil
						return
					default:
					}
					slots := min + rng.IntN(l.Layers*l.Experts-min+1)
					if err := c.Resize(int64(slots) * l.ExpertBytes()); err != nil {
						resized <- err
						return
					}
					time.Sleep(time.Duration(rng.IntN(300)) * time.Microsecond)
				}
			}()
			err := runConcurrently(workers, func(w int) error {
				rng := rand.New(rand.NewPCG(uint64(w), 99))
				held := make([]*Expert, 0, l.TopK)
				for step := 0; step < 300; step++ {
					il := rng.IntN(l.Layers)
					sel := rng.Perm(l.Experts)[:l.TopK]
					if rng.IntN(2) == 0 {
						c.Prefetch(il, sel)
					}
					if rng.IntN(3) == 0 {
						err := c.Each(il, sel, func(i int, x *Expert) error {
							acquires.Add(1)
							return m.check(t, x, il, sel[i])
						})
						if err != nil {
							return err
						}
						continue
					}
					for _, e := range sel {
						x, err := c.Acquire(il, e)
						if err != nil {
							return err
						}
						acquires.Add(1)
						held = append(held, x)
					}
					for i, x := range held {
						if err := m.check(t, x, il, sel[i]); err != nil {
							return err
						}
						c.Release(x)
					}
					held = held[:0]
				}
				return nil
			})
			close(stop)
			if rerr := <-resized; rerr != nil {
				t.Fatal(rerr)
			}
			if err != nil {
				t.Fatal(err)
			}
			st := c.Stats()
			if st.Pinned != 0 || st.Slots > st.Capacity {
				t.Fatalf("after the run: %+v", st)
			}
			if st.Hits+st.Misses() != acquires.Load() {
				t.Fatalf("%d acquires, stats count %d: %+v", acquires.Load(), st.Hits+st.Misses(), st)
			}
			// Shrinking to the minimum with nothing pinned frees everything above it.
			if err := c.Resize(l.MinBytes()); err != nil {
				t.Fatal(err)
			}
			if st := c.Stats(); st.Slots > MinSlots(l.TopK) || st.Resident > st.Slots {
				t.Fatalf("after shrinking: %+v", st)
			}
		})
	}
}

// With 2 ms per read, prefetching before a simulated attention step hides
// the reads that Acquire would otherwise wait for.
func TestPrefetchHidesSlowReads(t *testing.T) {
	m := openModel(t, testModel(t, "tiny-swa-sigmoid-q4_0.gguf"))
	l := m.layout
	const delay = 2 * time.Millisecond
	attention := 15 * time.Millisecond
	run := func(prefetch, each bool) Stats {
		c := m.open(t, MinSlots(l.TopK)+l.TopK, Options{WrapReader: func(r io.ReaderAt) io.ReaderAt { return slowReader{r, delay} }})
		rng := rand.New(rand.NewPCG(5, 5))
		for tok := 0; tok < 5; tok++ {
			for il := 0; il < l.Layers; il++ {
				sel := rng.Perm(l.Experts)[:l.TopK]
				if prefetch {
					c.Prefetch(il, sel)
				}
				time.Sleep(attention)
				if each {
					if err := c.Each(il, sel, func(i int, x *Expert) error { return m.check(t, x, il, sel[i]) }); err != nil {
						t.Fatal(err)
					}
					continue
				}
				for _, e := range sel {
					x, err := c.Acquire(il, e)
					if err != nil {
						t.Fatal(err)
					}
					if err := m.check(t, x, il, e); err != nil {
						t.Fatal(err)
					}
					c.Release(x)
				}
			}
		}
		st := c.Stats()
		c.Close()
		return st
	}
	without := run(false, false)
	// A loaded machine (or -race) stretches every read: give attention time
	// for about three of them, as the real ratio is what the test is about.
	if perRead := without.ReadTime / time.Duration(max(without.Reads, 1)); 3*perRead > attention {
		attention = 3 * perRead
	}
	with, each := run(true, false), run(true, true)
	t.Logf("without prefetch: wait %v (%d sync reads, %d hits, read time %v/%d); with: wait %v (%d prefetched in time, %d stalls, %d hits)",
		without.WaitTime, without.SyncReads, without.Hits, without.ReadTime, without.Reads, with.WaitTime, with.PrefetchHits, with.Stalls, with.Hits)
	if without.SyncReads == 0 {
		t.Fatal("the access pattern never missed: test proves nothing")
	}
	if with.SyncReads != 0 || with.PrefetchHits == 0 {
		t.Fatalf("with prefetch, Acquire still read on demand: %+v", with)
	}
	if with.WaitTime*3 > without.WaitTime || each.WaitTime*3 > without.WaitTime {
		t.Fatalf("prefetch did not hide the reads: wait %v with (%v with Each), %v without", with.WaitTime, each.WaitTime, without.WaitTime)
	}
}

// Failed reads come back as clear errors naming the expert and the file; the
// cache stays usable and the slot is not poisoned.
func TestReadFaults(t *testing.T) {
	m := openModel(t, testModel(t, "kq-q8_0.gguf"))
	l := m.layout
	for _, tc := range []struct {
		name string
		mode int32
		want string
	}{
		{"EIO", 1, "input/output error"},
		{"short read", 2, "short read"},
		{"short read with EOF", 3, "short read"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var mode atomic.Int32
			c := m.open(t, MinSlots(l.TopK), Options{WrapReader: func(r io.ReaderAt) io.ReaderAt { return faultReader{r, &mode} }})
			mode.Store(tc.mode)
			_, err := c.Acquire(1, 3)
			var re *ReadError
			if !errors.As(err, &re) || re.Layer != 1 || re.Expert != 3 || re.Path != m.path {
				t.Fatalf("got %v, want a ReadError for layer 1 expert 3", err)
			}
			msg := err.Error()
			if !strings.Contains(msg, tc.want) || !strings.Contains(msg, "layer 1") || !strings.Contains(msg, m.path) {
				t.Fatalf("unclear error: %s", msg)
			}
			if tc.mode == 1 && !errors.Is(err, syscall.EIO) {
				t.Fatalf("EIO not wrapped: %v", err)
			}
			// A failed prefetch leaves nothing behind either.
			c.Prefetch(1, []int{4, 5})
			waitIdle(t, c)
			// Concurrent waiters all see the error.
			err = runConcurrently(3, func(int) error {
				if x, err := c.Acquire(0, 2); err == nil {
					c.Release(x)
					return errors.New("read succeeded under a fault")
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if st := c.Stats(); st.Resident != 0 || st.Pinned != 0 || st.ReadErrors == 0 {
				t.Fatalf("after faults: %+v", st)
			}
			mode.Store(0)
			for _, e := range []int{3, 4, 5, 2} {
				il := 1
				if e == 2 {
					il = 0
				}
				x, err := c.Acquire(il, e)
				if err != nil {
					t.Fatalf("cache unusable after a fault: %v", err)
				}
				if err := m.check(t, x, il, e); err != nil {
					t.Fatal(err)
				}
				c.Release(x)
			}
		})
	}
}

// waitIdle waits until no read is queued or in flight.
func waitIdle(t *testing.T, c *Cache) {
	t.Helper()
	for i := 0; i < 2000; i++ {
		c.mu.Lock()
		idle := c.reading == 0 && c.qhead == len(c.queue)
		c.mu.Unlock()
		if idle {
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatal("reads never finished")
}

// A model file truncated or rewritten while loaded gives a clear error, not
// wrong bytes; experts already cached keep working.
func TestFileChangedUnderUs(t *testing.T) {
	src := testModel(t, "tiny-swa-sigmoid-q4_0.gguf")
	data, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name   string
		change func(path string) error
		want   string
	}{
		{"truncated", func(p string) error { return os.Truncate(p, int64(len(data))/2) }, "truncated"},
		{"rewritten in place", func(p string) error {
			later := time.Now().Add(time.Hour)
			return os.Chtimes(p, later, later)
		}, "modified"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := t.TempDir() + "/model.gguf"
			if err := os.WriteFile(path, data, 0o644); err != nil {
				t.Fatal(err)
			}
			m := openModel(t, path)
			c := m.open(t, MinSlots(m.layout.TopK)+2, Options{})
			x, err := c.Acquire(0, 0)
			if err != nil {
				t.Fatal(err)
			}
			c.Release(x)
			if err := tc.change(path); err != nil {
				t.Fatal(err)
			}
			last := m.layout.Layers - 1
			_, err = c.Acquire(last, m.layout.Experts-1)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), path) {
				t.Fatalf("got %v, want an error saying the file was %s", err, tc.want)
			}
			x, err = c.Acquire(0, 0)
			if err != nil {
				t.Fatalf("cached expert lost: %v", err)
			}
			c.Release(x)
		})
	}
}

// Pinned slots are never handed out; a caller asking for more slots than
// exist gets an error instead of hanging, and succeeds once one is released.
func TestAllSlotsPinned(t *testing.T) {
	m := openModel(t, testModel(t, "tiny-swa-sigmoid-q4_0.gguf"))
	l := m.layout
	n := MinSlots(l.TopK)
	c := m.open(t, n, Options{SlotWait: 100 * time.Millisecond})
	var held []*Expert
	for e := 0; e < n; e++ {
		x, err := c.Acquire(0, e)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, x)
	}
	c.Prefetch(1, []int{0, 1})
	if st := c.Stats(); st.PrefetchSkipped != 2 || st.Prefetches != 0 {
		t.Fatalf("prefetch with every slot pinned: %+v", st)
	}
	start := time.Now()
	_, err := c.Acquire(1, 0)
	if err == nil || !strings.Contains(err.Error(), "pinned") {
		t.Fatalf("got %v, want an all-pinned error", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Fatal("gave up too late")
	}
	for e, x := range held {
		if err := m.check(t, x, 0, e); err != nil {
			t.Fatalf("pinned expert changed: %v", err)
		}
	}
	// A release lets a waiting Acquire through.
	got := make(chan error, 1)
	go func() {
		x, err := c.Acquire(2, 7)
		if err == nil {
			err = m.check(t, x, 2, 7)
			c.Release(x)
		}
		got <- err
	}()
	time.Sleep(20 * time.Millisecond)
	c.Release(held[0])
	if err := <-got; err != nil {
		t.Fatal(err)
	}
	for _, x := range held[1:] {
		c.Release(x)
	}
	c.Release(held[1]) // double release is ignored
	if st := c.Stats(); st.Pinned != 0 {
		t.Fatalf("%d pinned after releasing all", st.Pinned)
	}
}

// Shrinking while experts are pinned never frees them under the reader; they
// go when released.
func TestShrinkWhilePinned(t *testing.T) {
	m := openModel(t, testModel(t, "tiny-swa-sigmoid-q4_0.gguf"))
	l := m.layout
	all := l.Layers * l.Experts
	c := m.open(t, all, Options{})
	var held []*Expert
	for id := 0; id < all; id++ {
		x, err := c.Acquire(id/l.Experts, id%l.Experts)
		if err != nil {
			t.Fatal(err)
		}
		if id%l.Experts < 5 {
			held = append(held, x)
		} else {
			c.Release(x)
		}
	}
	if err := c.Resize(l.MinBytes()); err != nil {
		t.Fatal(err)
	}
	if st := c.Stats(); st.Slots != len(held) || st.Pinned != len(held) {
		t.Fatalf("after shrinking: want only the %d pinned slots left, got %+v", len(held), st)
	}
	for i, x := range held {
		if err := m.check(t, x, i/5, i%5); err != nil {
			t.Fatal(err)
		}
		c.Release(x)
	}
	if st := c.Stats(); st.Slots != MinSlots(l.TopK) || st.Resident != st.Slots {
		t.Fatalf("after releasing: %+v", st)
	}
}

func TestCloseWithPinned(t *testing.T) {
	m := openModel(t, testModel(t, "tiny-swa-sigmoid-q4_0.gguf"))
	c := m.open(t, 4, Options{})
	x, err := c.Acquire(0, 1)
	if err != nil {
		t.Fatal(err)
	}
	c.Prefetch(1, []int{2, 3})
	if err := c.Close(); err == nil || !strings.Contains(err.Error(), "pinned") {
		t.Fatalf("Close with a pinned expert: %v", err)
	}
	if err := m.check(t, x, 0, 1); err != nil {
		t.Fatalf("pinned expert freed by Close: %v", err)
	}
	c.Release(x)
	if _, err := c.Acquire(0, 1); !errors.Is(err, ErrClosed) {
		t.Fatalf("Acquire after Close: %v", err)
	}
	if err := c.Resize(1 << 30); !errors.Is(err, ErrClosed) {
		t.Fatalf("Resize after Close: %v", err)
	}
	if st := c.Stats(); st.Slots != 0 {
		t.Fatalf("%d slots left mapped after Close and Release", st.Slots)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestOpenWrongFile(t *testing.T) {
	m := openModel(t, testModel(t, "tiny-swa-sigmoid-q4_0.gguf"))
	other := testModel(t, "kq-q8_0.gguf")
	if _, err := Open(other, m.layout, m.layout.AllBytes(), Options{}); err == nil || !strings.Contains(err.Error(), "layout") {
		t.Fatalf("layout of another file accepted: %v", err)
	}
	if _, err := Open(t.TempDir()+"/missing.gguf", m.layout, m.layout.AllBytes(), Options{}); err == nil {
		t.Fatal("missing file accepted")
	}
}

// Hits and misses in steady state allocate nothing.
func TestNoAllocsInSteadyState(t *testing.T) {
	m := openModel(t, testModel(t, "kq-q4_k_m.gguf"))
	l := m.layout
	c := m.open(t, MinSlots(l.TopK), Options{})
	sel := []int{0, 1}
	cycle := func(il int) {
		c.Prefetch(il, sel)
		for _, e := range sel {
			x, err := c.Acquire(il, e)
			if err != nil {
				t.Fatal(err)
			}
			c.Release(x)
		}
	}
	for il := 0; il < l.Layers; il++ {
		cycle(il) // warm up: map every slot, grow the queue
	}
	if n := testing.AllocsPerRun(50, func() { cycle(0) }); n != 0 {
		t.Fatalf("hit path: %v allocations per cycle", n)
	}
	layer := 0
	if n := testing.AllocsPerRun(50, func() { layer = (layer + 1) % l.Layers; cycle(layer) }); n != 0 {
		t.Fatalf("miss path: %v allocations per cycle", n)
	}
	use := func(int, *Expert) error { return nil }
	if n := testing.AllocsPerRun(50, func() {
		layer = (layer + 1) % l.Layers
		if err := c.Each(layer, sel, use); err != nil {
			t.Fatal(err)
		}
	}); n != 0 {
		t.Fatalf("Each: %v allocations per layer", n)
	}
}

func BenchmarkAcquireReleaseHit(b *testing.B) {
	m := openModel(b, testModel(b, "tiny-swa-sigmoid-q4_0.gguf"))
	c := m.open(b, m.layout.Layers*m.layout.Experts, Options{})
	x, err := c.Acquire(0, 0)
	if err != nil {
		b.Fatal(err)
	}
	c.Release(x)
	b.ReportAllocs()
	for b.Loop() {
		x, _ := c.Acquire(0, 0)
		c.Release(x)
	}
}

// Experts prefetched for the next layer survive a prefetch made for the one
// after, even when they arrived before the current layer's experts were
// released (and so sit behind them in LRU order).
func TestPrefetchedExpertsEvictedLast(t *testing.T) {
	m := openModel(t, testModel(t, "tiny-swa-sigmoid-q4_0.gguf"))
	l := m.layout
	c := m.open(t, 2*l.TopK+1, Options{})
	var held []*Expert
	for _, e := range []int{0, 1} {
		x, err := c.Acquire(0, e)
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, x)
	}
	c.Prefetch(1, []int{2, 3})
	waitIdle(t, c)
	for _, x := range held {
		c.Release(x)
	}
	c.Prefetch(2, []int{4, 5})
	waitIdle(t, c)
	for _, e := range []int{2, 3} {
		x, err := c.Acquire(1, e)
		if err != nil {
			t.Fatal(err)
		}
		c.Release(x)
	}
	if st := c.Stats(); st.PrefetchHits != 2 || st.PrefetchWasted != 0 || st.SyncReads != 2 {
		t.Fatalf("layer 1's prefetched experts were evicted: %+v", st)
	}
}

func TestEach(t *testing.T) {
	m := openModel(t, testModel(t, "kq-q4_k_m.gguf"))
	l := m.layout
	var mode atomic.Int32
	c := m.open(t, MinSlots(l.TopK)+2, Options{WrapReader: func(r io.ReaderAt) io.ReaderAt {
		return slowReader{faultReader{r, &mode}, time.Millisecond}
	}})
	// Expert 5 is cached, so it comes first; every expert comes exactly once.
	x, err := c.Acquire(1, 5)
	if err != nil {
		t.Fatal(err)
	}
	c.Release(x)
	sel := []int{2, 5, 7}
	var order []int
	err = c.Each(1, sel, func(i int, x *Expert) error {
		order = append(order, sel[i])
		return m.check(t, x, 1, sel[i])
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(order) != 3 || order[0] != 5 || order[1] == order[2] || order[1] == 5 || order[2] == 5 {
		t.Fatalf("order %v: want 5 first, then 2 and 7 once each", order)
	}
	if st := c.Stats(); st.Pinned != 0 || st.Hits+st.Misses() != 4 {
		t.Fatalf("after Each: %+v", st)
	}
	// An error from fn stops the walk and leaves nothing pinned.
	stop := errors.New("stop")
	calls := 0
	if err := c.Each(0, []int{0, 1}, func(int, *Expert) error { calls++; return stop }); err != stop || calls != 1 {
		t.Fatalf("got %v after %d calls", err, calls)
	}
	// Read faults surface; nothing stays pinned; the cache recovers.
	mode.Store(1)
	if err := c.Each(0, []int{3, 4}, func(int, *Expert) error { return nil }); err == nil || !strings.Contains(err.Error(), "layer 0") {
		t.Fatalf("fault: %v", err)
	}
	mode.Store(0)
	waitIdle(t, c)
	if err := c.Each(0, []int{3, 4}, func(i int, x *Expert) error { return m.check(t, x, 0, []int{3, 4}[i]) }); err != nil {
		t.Fatal(err)
	}
	if st := c.Stats(); st.Pinned != 0 {
		t.Fatalf("%d pinned", st.Pinned)
	}
	if err := c.Each(0, []int{0, 99}, func(int, *Expert) error { return nil }); err == nil {
		t.Fatal("invalid expert accepted")
	}
}

// Closing while other goroutines use the cache neither crashes nor leaks:
// they get ErrClosed, and slots they held go when released.
func TestCloseWhileInUse(t *testing.T) {
	m := openModel(t, testModel(t, "kq-q4_k_m.gguf"))
	l := m.layout
	c := m.open(t, MinSlots(l.TopK)*3, Options{WrapReader: func(r io.ReaderAt) io.ReaderAt { return slowReader{r, 200 * time.Microsecond} }})
	started := make(chan struct{})
	var once atomic.Bool
	done := make(chan error, 1)
	go func() {
		done <- runConcurrently(3, func(w int) error {
			rng := rand.New(rand.NewPCG(uint64(w), 3))
			for {
				il, e := rng.IntN(l.Layers), rng.IntN(l.Experts)
				c.Prefetch(il, []int{e, (e + 1) % l.Experts})
				x, err := c.Acquire(il, e)
				if errors.Is(err, ErrClosed) {
					return nil
				}
				if err != nil {
					return err
				}
				if once.CompareAndSwap(false, true) {
					close(started)
				}
				err = m.check(t, x, il, e)
				c.Release(x)
				if err != nil {
					return err
				}
			}
		})
	}()
	<-started
	time.Sleep(10 * time.Millisecond)
	c.Close() // may report experts pinned at that instant
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if st := c.Stats(); st.Slots != 0 || st.Pinned != 0 {
		t.Fatalf("after Close and the last Release: %+v", st)
	}
}
