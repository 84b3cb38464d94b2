// Package parallel is the engine's worker pool: a fixed set of persistent
// goroutines that split a range of items between themselves and the caller.
//
// It is built for the decode loop, which issues on the order of a thousand
// short mat-vecs per token, so a call must cost far less than a goroutine
// spawn or a channel round trip:
//
//	p := parallel.NewPool(runtime.GOMAXPROCS(0))
//	defer p.Close()
//	p.For(rows, 64, task) // task.Run(worker, lo, hi) covers every row once
//
// For publishes a job with one atomic store per worker, the workers
// (threads-1 of them; the caller is worker 0) claim chunks with
// compare-and-swap, each from its own contiguous share first and then from
// the back of the others' (so a fast worker balances a slow one), and the caller
// waits for the last chunk by spinning (parking after 50 µs). Idle workers
// spin on the job word for 50 µs before parking on a sync.Cond, so the
// decode loop's back-to-back calls find them awake while an idle pool costs
// no CPU. In steady state For
// makes no heap allocation: pass a pointer to a preallocated struct as the
// Task (a pointer fits in an interface without boxing).
//
// For is meant to be called from one goroutine at a time. A call that
// overlaps another one (from another goroutine, or from inside a Task) is
// still correct but runs entirely on its own caller. A Task must not panic:
// a panic on a worker goroutine ends the program.
package parallel

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Task is the work of one For call: Run processes items [lo, hi) on the
// given worker (0 ≤ worker < Threads(); worker 0 is the caller of For), so
// per-worker scratch space can be indexed by it without locking.
type Task interface {
	Run(worker, lo, hi int)
}

// spinFor is how long an idle worker polls for the next job before parking.
// A park/unpark round trip costs tens of microseconds, and the decode loop's
// gaps between mat-vecs (norms, routing, attention) are mostly shorter than
// 50 µs: on the 4B model with 2 threads, 50 µs decoded ~15% faster than
// 5 µs, and 200 µs no faster than 50 µs.
const spinFor = 50 * time.Microsecond

// callerSpinFor is how long For spins for workers to finish their chunks
// before parking: longer than a typical chunk, short enough that a worker
// descheduled by the OS does not cost a core's worth of spinning.
const callerSpinFor = 50 * time.Microsecond

// maxChunks bounds the chunk count so it fits the job word's 16-bit fields.
const maxChunks = 1<<16 - 1

// Pool is a set of worker goroutines. Create it with NewPool.
type Pool struct {
	threads int

	// job holds the generation (upper 32 bits): workers watch it for new
	// work.
	job  atomic.Uint64
	_    [56]byte // keep the job word on its own cache line
	done atomic.Int64
	_    [56]byte
	// ranges[w] is worker w's share of the chunks: generation (upper 32
	// bits), front and back (16 bits each, [front, back) unclaimed). A
	// worker reads the fields below only after claiming a chunk of the
	// current generation; the caller does not rewrite them before every
	// claimed chunk is done, which keeps the plain fields race-free.
	ranges []chunkRange

	task    Task
	n       int
	nchunks int

	busy   atomic.Bool // a For is running; overlapping calls run serially
	closed atomic.Bool
	parked atomic.Int32 // workers inside the parking section
	mu     sync.Mutex
	wake   *sync.Cond // workers wait here for a job

	callerWaiting atomic.Bool
	finished      *sync.Cond // the caller of For waits here for the last chunk
	workers       sync.WaitGroup
}

// chunkRange is one worker's claim word, alone on its cache line: the
// owner takes chunks from the front and only a worker that has run out
// takes from the back, so the two workers rarely touch the same line.
type chunkRange struct {
	v atomic.Uint64
	_ [56]byte
}

// NewPool starts threads-1 worker goroutines (threads < 1 is treated as 1).
// More threads than GOMAXPROCS only adds contention.
func NewPool(threads int) *Pool {
	if threads < 1 {
		threads = 1
	}
	p := &Pool{threads: threads, ranges: make([]chunkRange, threads)}
	p.wake = sync.NewCond(&p.mu)
	p.finished = sync.NewCond(&p.mu)
	for w := 1; w < threads; w++ {
		p.workers.Add(1)
		go p.worker(w)
	}
	return p
}

// Threads is the number of workers including the caller.
func (p *Pool) Threads() int { return p.threads }

// Close stops the workers and waits for them to exit. Later For calls run on
// the caller alone. Close must not overlap a For call.
func (p *Pool) Close() {
	if p.closed.Swap(true) {
		return
	}
	p.mu.Lock()
	p.wake.Broadcast()
	p.mu.Unlock()
	p.workers.Wait()
}

// For calls t.Run over [0, n) split into chunks of grain to 2·grain items
// (grain < 1 means 1; at most 65535 chunks), each chunk exactly once, and
// returns when all are done. Chunks are claimed dynamically, so a grain well
// below n/Threads() balances uneven workers; each claim costs ~50 ns.
func (p *Pool) For(n, grain int, t Task) {
	if n <= 0 {
		return
	}
	grain = max(grain, 1)
	nchunks := min(n/grain, maxChunks)
	if nchunks <= 1 || p.threads == 1 || p.closed.Load() || !p.busy.CompareAndSwap(false, true) {
		t.Run(0, 0, n)
		return
	}
	p.task, p.n, p.nchunks = t, n, nchunks
	p.done.Store(0)
	gen := p.job.Load()>>32 + 1
	// Each worker owns a contiguous run of chunks: its reads are one
	// stream (the kernels' prefetches past a chunk's end land in its own
	// next chunk) and claims stay on its own cache line. The stores
	// publish task/n/nchunks to any worker that claims from them.
	for w := range p.ranges {
		lo, hi := w*nchunks/p.threads, (w+1)*nchunks/p.threads
		p.ranges[w].v.Store(gen<<32 | uint64(lo)<<16 | uint64(hi))
	}
	p.job.Store(gen << 32)
	if p.parked.Load() > 0 {
		// A worker increments parked before re-checking job under mu, so
		// either it sees the new job or we see it parked and wake it.
		p.mu.Lock()
		p.wake.Broadcast()
		p.mu.Unlock()
	}
	p.runChunks(0, uint32(gen))
	p.waitDone(int64(nchunks))
	p.task = nil // don't keep the caller's data alive
	p.busy.Store(false)
}

// waitDone waits until want chunks are done: spinning first, then, if a
// worker is slow (its thread preempted by another process, say), parking so
// that our core is free for it.
func (p *Pool) waitDone(want int64) {
	start := time.Now()
	for spins := 1; p.done.Load() != want; spins++ {
		if spins%1024 != 0 {
			continue
		}
		if time.Since(start) > callerSpinFor {
			p.mu.Lock()
			p.callerWaiting.Store(true)
			for p.done.Load() != want {
				p.finished.Wait()
			}
			p.callerWaiting.Store(false)
			p.mu.Unlock()
			return
		}
		// A worker holding a chunk may be waiting for a P (GC or I/O
		// goroutines), so offer ours.
		runtime.Gosched()
	}
}

// runChunks runs chunks of generation gen until none are left: its own
// range's from the front, then the other workers' from the back.
func (p *Pool) runChunks(worker int, gen uint32) {
	ran := 0
	for v := 0; v < p.threads; v++ {
		r := &p.ranges[(worker+v)%p.threads].v
		for {
			c, ok := claim(r, gen, v == 0)
			if !ok {
				break
			}
			p.task.Run(worker, c*p.n/p.nchunks, (c+1)*p.n/p.nchunks)
			ran++
		}
	}
	if ran == 0 {
		return
	}
	// Read before adding: once the chunks count as done the caller may
	// start the next job. The caller sets callerWaiting before re-checking
	// done under mu, so either it sees our increment or we see it waiting.
	total := int64(p.nchunks)
	if p.done.Add(int64(ran)) == total && p.callerWaiting.Load() {
		p.mu.Lock()
		p.finished.Broadcast()
		p.mu.Unlock()
	}
}

// claim takes a chunk of generation gen from the front (or back) of r.
func claim(r *atomic.Uint64, gen uint32, front bool) (int, bool) {
	for {
		v := r.Load()
		lo, hi := int(v>>16&0xffff), int(v&0xffff)
		if uint32(v>>32) != gen || lo >= hi {
			return 0, false
		}
		if front {
			if r.CompareAndSwap(v, v+1<<16) {
				return lo, true
			}
		} else if r.CompareAndSwap(v, v-1) {
			return hi - 1, true
		}
	}
}

func (p *Pool) worker(id int) {
	defer p.workers.Done()
	seen := uint32(p.job.Load() >> 32)
	for {
		gen, ok := p.waitJob(seen)
		if !ok {
			return
		}
		seen = gen
		p.runChunks(id, gen)
	}
}

// waitJob returns the generation of the next job after seen, spinning
// briefly and then parking; ok is false once the pool is closed.
func (p *Pool) waitJob(seen uint32) (gen uint32, ok bool) {
	start := time.Now()
	for i := 0; ; i++ {
		if g := uint32(p.job.Load() >> 32); g != seen {
			return g, true
		}
		if p.closed.Load() {
			return 0, false
		}
		// No Gosched here: with an empty run queue it only takes the
		// scheduler lock, and the spin is short enough not to starve anyone.
		if i&255 == 255 && time.Since(start) > spinFor {
			break
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.parked.Add(1)
	defer p.parked.Add(-1)
	for {
		if g := uint32(p.job.Load() >> 32); g != seen {
			return g, true
		}
		if p.closed.Load() {
			return 0, false
		}
		p.wake.Wait()
	}
}
