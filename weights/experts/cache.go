package experts

import (
	"errors"
	"fmt"
	"io"
	"sync"
	"time"
)

// ErrClosed is returned by calls on a closed cache.
var ErrClosed = errors.New("experts: cache is closed")

// Options tune a Cache. The zero value is the production setting.
type Options struct {
	// IOWorkers is the number of goroutines serving Prefetch reads (default 4).
	IOWorkers int
	// DisableDirect uses buffered reads (plus FADV_DONTNEED) instead of O_DIRECT.
	DisableDirect bool
	// WrapReader, when set, wraps the file readers (tests add latency or faults).
	// Buffers, offsets and lengths passed to the wrapped reader are page-aligned.
	WrapReader func(io.ReaderAt) io.ReaderAt
	// SlotWait bounds how long Acquire waits for another caller to Release a
	// slot when every slot is pinned (default 10 s); then it returns an error
	// instead of hanging.
	SlotWait time.Duration
	// Prepare, when set, runs on each part of an expert after its read and
	// before anyone can use it (the engine repacks weights for its kernels
	// there). An error fails the load like a read error.
	Prepare func(layer int, part Part, data []byte) error
}

type slotState uint8

const (
	stFree    slotState = iota // mapped, holds nothing
	stLoading                  // a read is queued or in flight
	stPresent                  // holds the expert's bytes
	stFailed                   // its read failed; waiting for pinned waiters to see the error
)

// Expert is one cached expert, pinned between Acquire and Release: its bytes
// stay valid and unchanged until then, and must not be used afterwards (the
// slot is reused for other experts).
type Expert struct {
	mem    []byte // the slot's memory (page-aligned, outside the Go heap)
	parts  [numParts][]byte
	id     int // layer*Experts+expert while loading or present, else -1
	layer  int
	expert int
	state  slotState
	pins   int
	fresh  bool // read by Prefetch and not used yet
	start  bool // its read has been taken by a goroutine
	err    error
	prev   *Expert // LRU neighbours (only present, unpinned slots are listed)
	next   *Expert
	inLRU  bool
}

// Gate, Up and Down are the raw GGUF bytes of the expert's slices.
func (e *Expert) Gate() []byte { return e.parts[Gate] }
func (e *Expert) Up() []byte   { return e.parts[Up] }
func (e *Expert) Down() []byte { return e.parts[Down] }

// Part returns the bytes of part p.
func (e *Expert) Part(p Part) []byte { return e.parts[p] }

// Layer and Index name the expert.
func (e *Expert) Layer() int { return e.layer }
func (e *Expert) Index() int { return e.expert }

// ReadError reports a failed expert read; it names the expert and the file.
type ReadError struct {
	Path          string
	Layer, Expert int
	Part          Part
	Err           error
}

func (e *ReadError) Error() string {
	return fmt.Sprintf("experts: reading %s of expert %d in layer %d from %s: %v", e.Part, e.Expert, e.Layer, e.Path, e.Err)
}

func (e *ReadError) Unwrap() error { return e.Err }

// Cache holds up to a budget's worth of experts in fixed-size slots and
// reads the rest from the model file on demand. All methods are safe for
// concurrent use. Reads happen outside the lock; concurrent requests for one
// expert share its read; pinned slots are never evicted or unmapped.
type Cache struct {
	layout *Layout
	src    *source
	opts   Options

	mu       sync.Mutex
	changed  sync.Cond // a read finished, a slot was released or freed, capacity grew
	work     sync.Cond // a read was queued, or the cache closed
	table    []*Expert // id → slot loading or holding it
	free     []*Expert // mapped, empty slots
	head     *Expert   // most recently used unpinned present slot
	tail     *Expert   // least recently used: the next victim
	queue    []*Expert // slots whose Prefetch read waits for a worker
	qhead    int       // queue[qhead:] is pending
	nslots   int       // mapped slots
	capacity int       // slot limit from the budget
	resident int       // present slots
	pinned   int       // slots with pins > 0
	reading  int       // reads in flight
	busyFrom time.Time // when reading became > 0
	allocErr error     // last failure to map a slot
	stats    Stats
	closed   bool
	wg       sync.WaitGroup
}

// Open opens the model file at path for expert reads with a cache of
// cacheBytes (at least layout.MinBytes()). The layout must come from the
// same file.
func Open(path string, layout *Layout, cacheBytes int64, opts Options) (*Cache, error) {
	if layout == nil {
		return nil, errors.New("experts: nil layout")
	}
	n, err := layout.slotsFor(cacheBytes)
	if err != nil {
		return nil, err
	}
	if opts.IOWorkers <= 0 {
		opts.IOWorkers = 4
	}
	if opts.SlotWait <= 0 {
		opts.SlotWait = 10 * time.Second
	}
	src, err := openSource(path, opts)
	if err != nil {
		return nil, err
	}
	if src.id.size != layout.fileSize {
		src.close()
		return nil, fmt.Errorf("experts: %s is %d bytes, but the layout was made from a %d-byte file", path, src.id.size, layout.fileSize)
	}
	c := &Cache{
		layout:   layout,
		src:      src,
		opts:     opts,
		table:    make([]*Expert, layout.Layers*layout.Experts),
		capacity: n,
	}
	c.changed.L = &c.mu
	c.work.L = &c.mu
	c.wg.Add(opts.IOWorkers)
	for i := 0; i < opts.IOWorkers; i++ {
		go c.worker()
	}
	return c, nil
}

// slotsFor converts a byte budget to a slot count, refusing budgets below the minimum.
func (l *Layout) slotsFor(bytes int64) (int, error) {
	n := bytes / l.slot
	if min := MinSlots(l.TopK); n < int64(min) {
		return 0, fmt.Errorf("experts: a cache of %d bytes holds %d experts of %d bytes; the minimum is %d experts (%d bytes)",
			bytes, n, l.slot, min, l.MinBytes())
	}
	if all := int64(l.Layers * l.Experts); n > all {
		n = all
	}
	return int(n), nil
}

// Layout returns the layout the cache was opened with.
func (c *Cache) Layout() *Layout { return c.layout }

func (c *Cache) id(layer, expert int) (int, error) {
	if layer < 0 || layer >= c.layout.Layers || expert < 0 || expert >= c.layout.Experts {
		return 0, fmt.Errorf("experts: expert %d of layer %d out of range (%d layers, %d experts)", expert, layer, c.layout.Layers, c.layout.Experts)
	}
	return layer*c.layout.Experts + expert, nil
}

// Prefetch starts reading the listed experts of a layer that are not cached,
// without blocking. It is best effort: experts for which no slot can be freed
// (all pinned or loading) are skipped and read later by Acquire. Invalid
// indices are ignored (Acquire reports them).
func (c *Cache) Prefetch(layer int, experts []int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || layer < 0 || layer >= c.layout.Layers {
		return
	}
	// Promote the cached ones first, so making room for the others cannot evict them.
	for _, e := range experts {
		if id, err := c.id(layer, e); err == nil {
			if s := c.table[id]; s != nil && s.inLRU {
				c.lruRemove(s)
				c.lruPush(s)
			}
		}
	}
	queued := false
	for _, e := range experts {
		id, err := c.id(layer, e)
		if err != nil || c.table[id] != nil {
			continue
		}
		s := c.takeSlot(layer, experts)
		if s == nil {
			c.stats.PrefetchSkipped++
			continue
		}
		c.assign(s, id, layer, e)
		s.fresh = true
		c.queue = append(c.queue, s)
		c.stats.Prefetches++
		queued = true
	}
	if queued {
		c.work.Broadcast()
	}
}

// TryAcquire pins the expert if it is cached and returns false at once if not
// (the engine runs present experts first, then Acquires the rest).
func (c *Cache) TryAcquire(layer, expert int) (*Expert, bool) {
	id, err := c.id(layer, expert)
	if err != nil {
		return nil, false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if s := c.table[id]; !c.closed && s != nil && s.state == stPresent {
		c.pinPresent(s)
		return s, true
	}
	return nil, false
}

// Acquire returns the expert pinned, reading it first if needed (or waiting
// for a read already in flight). Every successful Acquire needs one Release.
// A failed read returns a *ReadError; the cache stays usable and a later
// Acquire retries the read.
func (c *Cache) Acquire(layer, expert int) (*Expert, error) {
	id, err := c.id(layer, expert)
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil, ErrClosed
	}
	if s := c.table[id]; s != nil && s.state == stPresent {
		c.pinPresent(s)
		c.mu.Unlock()
		return s, nil
	}
	s, err := c.acquireSlow(id, layer, expert)
	c.mu.Unlock()
	return s, err
}

// acquireSlow waits for or performs the read of an expert that is not
// present. Called and returns with c.mu held.
func (c *Cache) acquireSlow(id, layer, expert int) (*Expert, error) {
	t0 := time.Now()
	var slotDeadline time.Time
	var timer *time.Timer
	defer func() {
		if timer != nil {
			timer.Stop()
		}
	}()
	for {
		if c.closed {
			return nil, ErrClosed
		}
		s := c.table[id]
		switch {
		case s == nil:
			if s = c.takeSlot(-1, nil); s == nil {
				if err := c.waitForSlot(layer, expert, &slotDeadline, &timer); err != nil {
					return nil, err
				}
				continue
			}
			c.assign(s, id, layer, expert)
			c.pin(s)
			s.start = true
			c.stats.SyncReads++
			c.load(s)
		case s.state == stLoading:
			c.pin(s)
			c.stats.Stalls++
			if !s.start {
				// Its Prefetch read is still queued: do it here rather than wait behind the queue.
				s.start = true
				c.load(s)
			}
			for s.state == stLoading {
				c.changed.Wait()
			}
		default: // present: another goroutine read it while we waited for a slot
			c.pin(s)
			s.fresh = false
			c.stats.Stalls++
			c.stats.WaitTime += time.Since(t0)
			return s, nil
		}
		c.stats.WaitTime += time.Since(t0)
		if s.state == stPresent {
			s.fresh = false
			return s, nil
		}
		err := s.err
		c.unpin(s)
		if s.pins == 0 {
			c.recycle(s)
		}
		return nil, err
	}
}

// waitForSlot blocks until something changes, giving up after SlotWait when
// every slot stays pinned (a caller holding more experts than the cache can
// give out would otherwise hang forever).
func (c *Cache) waitForSlot(layer, expert int, deadline *time.Time, timer **time.Timer) error {
	now := time.Now()
	if deadline.IsZero() {
		*deadline = now.Add(c.opts.SlotWait)
		*timer = time.AfterFunc(c.opts.SlotWait, c.wake)
	} else if !now.Before(*deadline) {
		if c.allocErr != nil && c.nslots < c.capacity {
			return fmt.Errorf("experts: no memory for a cache slot for expert %d of layer %d: %v", expert, layer, c.allocErr)
		}
		return fmt.Errorf("experts: no cache slot for expert %d of layer %d after %v: all %d slots are pinned or loading (callers must Release experts; the engine may pin at most top-k = %d at once)",
			expert, layer, c.opts.SlotWait, c.nslots, c.layout.TopK)
	}
	c.changed.Wait()
	return nil
}

func (c *Cache) wake() {
	c.mu.Lock()
	c.changed.Broadcast()
	c.mu.Unlock()
}

// Release unpins an expert returned by Acquire or TryAcquire. Releasing nil
// or an already released expert does nothing.
func (c *Cache) Release(e *Expert) {
	if e == nil {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if e.pins <= 0 {
		return
	}
	c.unpin(e)
	if e.pins > 0 {
		return
	}
	switch {
	case c.closed:
		c.unmap(e)
	case e.state == stPresent:
		c.lruPush(e)
		c.trim()
	case e.state == stFailed:
		c.recycle(e)
	}
	c.changed.Broadcast()
}

// Resize changes the budget while the cache is in use. Shrinking evicts least
// recently used experts and returns their memory; pinned or loading slots are
// freed when released, never under a reader.
func (c *Cache) Resize(cacheBytes int64) error {
	n, err := c.layout.slotsFor(cacheBytes)
	if err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClosed
	}
	c.capacity = n
	c.trim()
	c.changed.Broadcast()
	return nil
}

// Present reports whether the expert is cached (a hint: it may be evicted
// right after unless pinned).
func (c *Cache) Present(layer, expert int) bool {
	id, err := c.id(layer, expert)
	if err != nil {
		return false
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.table[id]
	return s != nil && s.state == stPresent
}

// Close stops the I/O workers and frees the slots. Slots still pinned are
// freed by their Release; Close reports them as an error.
func (c *Cache) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.work.Broadcast()
	c.changed.Broadcast()
	c.mu.Unlock()
	c.wg.Wait()

	c.mu.Lock()
	defer c.mu.Unlock()
	// Reads an Acquire is doing in its own goroutine still use the file.
	for c.reading > 0 {
		c.changed.Wait()
	}
	for id, s := range c.table {
		if s == nil {
			continue
		}
		c.table[id] = nil
		if s.inLRU {
			c.lruRemove(s)
		}
		// Pinned slots (and reads an Acquire is doing) are freed by Release.
		if s.pins == 0 {
			c.unmap(s)
		}
	}
	for _, s := range c.free {
		c.unmap(s)
	}
	c.free = nil
	c.queue, c.qhead = nil, 0
	err := c.src.close()
	if c.pinned > 0 {
		err = errors.Join(err, fmt.Errorf("experts: closed with %d experts still pinned", c.pinned))
	}
	return err
}

// worker serves queued Prefetch reads.
func (c *Cache) worker() {
	defer c.wg.Done()
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		for c.qhead == len(c.queue) && !c.closed {
			c.work.Wait()
		}
		if c.closed {
			return
		}
		s := c.queue[c.qhead]
		c.queue[c.qhead] = nil
		if c.qhead++; c.qhead == len(c.queue) {
			c.queue, c.qhead = c.queue[:0], 0
		}
		// Entries go stale when an Acquire took the read over or the slot moved on.
		if s.state != stLoading || s.start {
			continue
		}
		s.start = true
		c.load(s)
	}
}

// load reads the expert assigned to slot s (state loading, start set).
// Called with c.mu held; releases it during the read.
func (c *Cache) load(s *Expert) {
	layer, expert := s.layer, s.expert
	if c.reading == 0 {
		c.busyFrom = time.Now()
	}
	c.reading++
	c.mu.Unlock()
	t0 := time.Now()
	parts, n, err := c.read(s.mem, layer, expert)
	d := time.Since(t0)
	c.mu.Lock()
	if c.reading--; c.reading == 0 {
		c.stats.BusyTime += time.Since(c.busyFrom)
	}
	c.stats.ReadTime += d
	c.stats.BytesRead += n
	if err != nil {
		c.stats.ReadErrors++
		s.state, s.err = stFailed, err
		c.table[s.id] = nil
		if s.pins == 0 {
			c.recycle(s)
		}
	} else {
		c.stats.Reads++
		s.parts, s.state = parts, stPresent
		c.resident++
		if s.pins == 0 {
			c.lruPush(s)
			c.trim()
		}
	}
	c.changed.Broadcast()
}

// read fills mem with the page-aligned file ranges around the expert's three
// slices and returns views of the exact slices. It runs without the lock.
func (c *Cache) read(mem []byte, layer, expert int) (parts [numParts][]byte, total int64, err error) {
	l := c.layout
	for p := Gate; p < numParts; p++ {
		off, n := l.Slice(layer, expert, p)
		start, end := alignDown(off), alignUp(off+n)
		buf := mem[l.base[p] : l.base[p]+end-start]
		got, rerr := c.src.readAt(buf, start)
		total += int64(got)
		if need := off + n - start; int64(got) < need {
			cause := c.src.changed()
			if cause == nil {
				cause = rerr
			}
			if cause == nil || cause == io.EOF {
				cause = fmt.Errorf("short read: got %d of %d bytes at offset %d", got, need, start)
			}
			return parts, total, &ReadError{Path: c.src.path, Layer: layer, Expert: expert, Part: p, Err: cause}
		}
		lo := off - start
		parts[p] = buf[lo : lo+n : lo+n]
	}
	// A file rewritten in place may read fine yet hold other bytes now.
	if cause := c.src.changed(); cause != nil {
		return parts, total, &ReadError{Path: c.src.path, Layer: layer, Expert: expert, Part: Down, Err: cause}
	}
	if c.opts.Prepare != nil {
		for p := Gate; p < numParts; p++ {
			if err := c.opts.Prepare(layer, p, parts[p]); err != nil {
				return parts, total, &ReadError{Path: c.src.path, Layer: layer, Expert: expert, Part: p, Err: err}
			}
		}
	}
	return parts, total, nil
}

// takeSlot returns an empty slot: a free one, a newly mapped one while under
// capacity, or the least recently used unpinned expert's (prefetched, unused
// ones last), skipping the experts of layer listed in protect. nil when every
// slot is busy.
func (c *Cache) takeSlot(layer int, protect []int) *Expert {
	if n := len(c.free); n > 0 {
		s := c.free[n-1]
		c.free[n-1] = nil
		c.free = c.free[:n-1]
		return s
	}
	if c.nslots < c.capacity {
		mem, err := allocSlot(c.layout.slot)
		if err == nil {
			c.nslots++
			c.allocErr = nil
			return &Expert{mem: mem, id: -1}
		}
		c.allocErr = err
	}
	// Prefetched experts not used yet go last: a prefetch that finished
	// before the previous layer released its experts sits behind them in
	// LRU order, yet is the one about to be needed.
	for _, fresh := range [2]bool{false, true} {
		for v := c.tail; v != nil; v = v.prev {
			if v.fresh != fresh || v.layer == layer && contains(protect, v.expert) {
				continue
			}
			c.evict(v)
			return v
		}
	}
	return nil
}

func contains(xs []int, x int) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

func (c *Cache) assign(s *Expert, id, layer, expert int) {
	s.id, s.layer, s.expert = id, layer, expert
	s.state, s.start, s.fresh, s.err = stLoading, false, false, nil
	c.table[id] = s
}

// evict drops the present, unpinned expert in s from the cache.
func (c *Cache) evict(s *Expert) {
	c.lruRemove(s)
	c.table[s.id] = nil
	c.resident--
	c.stats.Evictions++
	if s.fresh {
		c.stats.PrefetchWasted++
	}
	c.clear(s)
}

func (c *Cache) clear(s *Expert) {
	s.id, s.state, s.fresh, s.err = -1, stFree, false, nil
	s.parts = [numParts][]byte{}
}

// recycle returns an empty, unpinned slot to the free list, or unmaps it
// when the cache is over capacity or closed.
func (c *Cache) recycle(s *Expert) {
	c.clear(s)
	if c.closed || c.nslots > c.capacity {
		c.unmap(s)
		return
	}
	c.free = append(c.free, s)
	c.changed.Broadcast()
}

func (c *Cache) unmap(s *Expert) {
	if s.mem == nil {
		return
	}
	if s.state == stPresent {
		c.resident--
	}
	c.clear(s)
	_ = freeSlot(s.mem)
	s.mem = nil
	c.nslots--
}

// trim frees slots until the cache is within capacity: empty ones first, then
// least recently used experts. Pinned and loading slots wait for their turn.
func (c *Cache) trim() {
	for c.nslots > c.capacity {
		if n := len(c.free); n > 0 {
			s := c.free[n-1]
			c.free[n-1] = nil
			c.free = c.free[:n-1]
			c.unmap(s)
			continue
		}
		v := c.tail
		if v == nil {
			return
		}
		c.evict(v)
		c.unmap(v)
	}
}

func (c *Cache) pin(s *Expert) {
	if s.pins == 0 {
		c.pinned++
		if s.inLRU {
			c.lruRemove(s)
		}
	}
	s.pins++
}

func (c *Cache) unpin(s *Expert) {
	if s.pins--; s.pins == 0 {
		c.pinned--
	}
}

// pinPresent pins a present expert for a caller that did not wait for it.
func (c *Cache) pinPresent(s *Expert) {
	c.pin(s)
	if s.fresh {
		s.fresh = false
		c.stats.PrefetchHits++
	} else {
		c.stats.Hits++
	}
}

func (c *Cache) lruPush(s *Expert) {
	s.prev, s.next = nil, c.head
	if c.head != nil {
		c.head.prev = s
	} else {
		c.tail = s
	}
	c.head = s
	s.inLRU = true
}

func (c *Cache) lruRemove(s *Expert) {
	if s.prev != nil {
		s.prev.next = s.next
	} else {
		c.head = s.next
	}
	if s.next != nil {
		s.next.prev = s.prev
	} else {
		c.tail = s.prev
	}
	s.prev, s.next, s.inLRU = nil, nil, false
}
