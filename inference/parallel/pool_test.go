package parallel

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// countTask records how often each item was processed and by which workers.
type countTask struct {
	hits    []atomic.Int32
	workers []atomic.Int32
	minSpan atomic.Int64
}

func newCountTask(n, threads int) *countTask {
	t := &countTask{hits: make([]atomic.Int32, n), workers: make([]atomic.Int32, threads)}
	t.minSpan.Store(int64(n) + 1)
	return t
}

func (t *countTask) Run(worker, lo, hi int) {
	t.workers[worker].Add(1)
	for {
		m := t.minSpan.Load()
		if int64(hi-lo) >= m || t.minSpan.CompareAndSwap(m, int64(hi-lo)) {
			break
		}
	}
	for i := lo; i < hi; i++ {
		t.hits[i].Add(1)
	}
}

func (t *countTask) check(tb testing.TB, n, grain int) {
	tb.Helper()
	for i := range t.hits {
		if h := t.hits[i].Load(); h != 1 {
			tb.Fatalf("item %d processed %d times", i, h)
		}
	}
	// Every chunk holds at least grain items unless the whole range is smaller.
	if want := int64(min(max(grain, 1), n)); t.minSpan.Load() < want {
		tb.Fatalf("smallest chunk %d items, grain %d", t.minSpan.Load(), grain)
	}
}

func TestForCoversEveryItemOnce(t *testing.T) {
	for _, threads := range []int{1, 2, 3, 4, 8} {
		p := NewPool(threads)
		for _, n := range []int{0, 1, 2, 7, 63, 64, 65, 1000, 4096, 151936} {
			for _, grain := range []int{0, 1, 3, 16, 64, 1000, 200000} {
				name := fmt.Sprintf("threads=%d/n=%d/grain=%d", threads, n, grain)
				ct := newCountTask(n, threads)
				p.For(n, grain, ct)
				if t.Failed() {
					t.Fatal(name)
				}
				ct.check(t, n, grain)
			}
		}
		p.Close()
	}
}

// TestForUsesWorkers checks that chunks actually reach the worker goroutines.
func TestForUsesWorkers(t *testing.T) {
	p := NewPool(2)
	defer p.Close()
	ct := newCountTask(1<<14, 2)
	for range 2000 {
		ct = newCountTask(256, 2)
		p.For(256, 1, &slowTask{ct})
		if ct.workers[1].Load() > 0 {
			return
		}
	}
	t.Fatalf("worker 1 never ran a chunk in 2000 calls (worker 0 ran %d)", ct.workers[0].Load())
}

// slowTask gives the worker time to wake up and claim a chunk.
type slowTask struct{ *countTask }

func (s *slowTask) Run(worker, lo, hi int) {
	x := 0
	for i := 0; i < 2000; i++ {
		x += i * i
	}
	sink.Add(int64(x))
	s.countTask.Run(worker, lo, hi)
}

var sink atomic.Int64

func TestConcurrentAndNestedFor(t *testing.T) {
	p := NewPool(3)
	defer p.Close()
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 200 {
				n := 100 + g*37
				ct := newCountTask(n, 3)
				p.For(n, 4, ct)
				ct.check(t, n, 4)
			}
		}()
	}
	wg.Wait()

	// A Task that calls For on the same pool must not deadlock.
	outer := &nestedTask{p: p, inner: make([]*countTask, 64)}
	for i := range outer.inner {
		outer.inner[i] = newCountTask(50, 3)
	}
	p.For(64, 1, outer)
	for _, ct := range outer.inner {
		ct.check(t, 50, 2)
	}
}

type nestedTask struct {
	p     *Pool
	inner []*countTask
}

func (n *nestedTask) Run(worker, lo, hi int) {
	for i := lo; i < hi; i++ {
		n.p.For(50, 2, n.inner[i])
	}
}

func TestCloseThenFor(t *testing.T) {
	p := NewPool(4)
	p.Close()
	p.Close() // idempotent
	ct := newCountTask(1000, 4)
	p.For(1000, 1, ct)
	ct.check(t, 1000, 1)
	if ct.workers[0].Load() != 1 {
		t.Fatalf("after Close, For should run once on the caller; got %d runs", ct.workers[0].Load())
	}
}

func TestThreads(t *testing.T) {
	for _, tc := range []struct{ in, want int }{{-1, 1}, {0, 1}, {1, 1}, {6, 6}} {
		p := NewPool(tc.in)
		if p.Threads() != tc.want {
			t.Errorf("NewPool(%d).Threads() = %d, want %d", tc.in, p.Threads(), tc.want)
		}
		p.Close()
	}
}

// sumTask is a typical engine task: preallocated, pointer receiver.
type sumTask struct {
	x   []float32
	out [64]float32 // per-worker partial sums, indexed by worker
}

func (s *sumTask) Run(worker, lo, hi int) {
	acc := float32(0)
	for _, v := range s.x[lo:hi] {
		acc += v
	}
	s.out[worker] += acc
}

func TestForAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector allocates")
	}
	p := NewPool(2)
	defer p.Close()
	st := &sumTask{x: make([]float32, 4096)}
	allocs := testing.AllocsPerRun(1000, func() { p.For(len(st.x), 64, st) })
	if allocs != 0 {
		t.Fatalf("For allocated %.1f times per call", allocs)
	}
}

func BenchmarkFor(b *testing.B) {
	for _, threads := range []int{1, 2} {
		for _, n := range []int{768, 151936} {
			b.Run(fmt.Sprintf("threads=%d/n=%d", threads, n), func(b *testing.B) {
				p := NewPool(threads)
				defer p.Close()
				st := &sumTask{x: make([]float32, n)}
				b.ReportAllocs()
				b.SetBytes(int64(4 * n))
				for b.Loop() {
					p.For(n, 64, st)
				}
			})
		}
	}
}

// BenchmarkForEmpty measures the dispatch overhead of one For call.
func BenchmarkForEmpty(b *testing.B) {
	p := NewPool(2)
	defer p.Close()
	st := &sumTask{x: make([]float32, 128)}
	b.ReportAllocs()
	for b.Loop() {
		p.For(128, 1, st)
	}
}

// sleepyTask makes every worker slower than the caller, so For must wait
// (and park) for chunks still running on other goroutines.
type sleepyTask struct{ *countTask }

func (s *sleepyTask) Run(worker, lo, hi int) {
	if worker != 0 {
		time.Sleep(300 * time.Microsecond)
	} else {
		time.Sleep(20 * time.Microsecond) // gives parked workers time to wake
	}
	s.countTask.Run(worker, lo, hi)
}

func TestForWaitsForSlowWorkers(t *testing.T) {
	p := NewPool(3)
	defer p.Close()
	slowRuns := int32(0)
	for i := 0; i < 50; i++ {
		ct := newCountTask(64, 3)
		p.For(64, 1, &sleepyTask{ct})
		ct.check(t, 64, 1)
		slowRuns += ct.workers[1].Load() + ct.workers[2].Load()
	}
	if slowRuns == 0 {
		t.Fatal("no chunk ever ran on a worker goroutine")
	}
}

// TestClaim: the owner takes its range from the front, a thief from the
// back, and neither takes a chunk of another generation or past the other.
func TestClaim(t *testing.T) {
	word := func(gen uint32, lo, hi int) uint64 { return uint64(gen)<<32 | uint64(lo)<<16 | uint64(hi) }
	var r atomic.Uint64
	r.Store(word(7, 3, 6))
	var got []int
	for _, front := range []bool{true, false, true, true} {
		c, ok := claim(&r, 7, front)
		if !ok {
			got = append(got, -1)
			continue
		}
		got = append(got, c)
	}
	if want := []int{3, 5, 4, -1}; fmt.Sprint(got) != fmt.Sprint(want) {
		t.Fatalf("claims %v, want %v", got, want)
	}
	r.Store(word(8, 0, 4))
	if c, ok := claim(&r, 7, true); ok {
		t.Fatalf("claimed chunk %d of another generation", c)
	}
	r.Store(word(9, 65534, 65535))
	if c, ok := claim(&r, 9, true); !ok || c != 65534 {
		t.Fatalf("last chunk of the 16-bit range: %d, %v", c, ok)
	}
	if r.Load() != word(9, 65535, 65535) {
		t.Fatalf("front overflowed into the generation: %x", r.Load())
	}
}
