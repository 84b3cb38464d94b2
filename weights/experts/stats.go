package experts

import "time"

// Stats are the cache's counters since Open, plus a snapshot of its state.
// Subtract two snapshots (Sub) for per-token figures. Every Acquire counts
// as exactly one of Hits, PrefetchHits, Stalls or SyncReads.
type Stats struct {
	Hits         int64 // the expert was already cached
	PrefetchHits int64 // read by Prefetch and arrived before it was needed
	Stalls       int64 // Acquire waited for a read already started (by Prefetch or another caller)
	SyncReads    int64 // not requested before: Acquire read it on demand

	Prefetches      int64 // reads started by Prefetch
	PrefetchSkipped int64 // Prefetch requests dropped: every slot was pinned or loading
	PrefetchWasted  int64 // prefetched experts evicted before any use
	Evictions       int64

	Reads      int64 // expert reads completed
	ReadErrors int64
	BytesRead  int64         // bytes transferred from the file (page-aligned ranges)
	ReadTime   time.Duration // summed over reads (overlapping reads each count)
	BusyTime   time.Duration // wall time with at least one read in flight
	WaitTime   time.Duration // time Acquire calls spent blocked on reads or slots

	// Snapshot at the time of the call (not subtracted by Sub).
	Slots     int   // slots mapped
	Capacity  int   // slots the budget allows
	Resident  int   // experts cached
	Pinned    int   // slots pinned by callers
	SlotBytes int64 // bytes per slot
	Direct    bool  // reads bypass the page cache with O_DIRECT
}

// Misses counts the Acquires that needed a read, hidden by Prefetch or not.
func (s Stats) Misses() int64 { return s.PrefetchHits + s.Stalls + s.SyncReads }

// ReadMBps is the read throughput while reads were in flight, in MB/s (1e6 bytes).
func (s Stats) ReadMBps() float64 {
	if s.BusyTime <= 0 {
		return 0
	}
	return float64(s.BytesRead) / 1e6 / s.BusyTime.Seconds()
}

// Sub returns the counters accumulated since prev (an earlier Stats of the
// same cache), keeping s's snapshot fields.
func (s Stats) Sub(prev Stats) Stats {
	d := s
	d.Hits -= prev.Hits
	d.PrefetchHits -= prev.PrefetchHits
	d.Stalls -= prev.Stalls
	d.SyncReads -= prev.SyncReads
	d.Prefetches -= prev.Prefetches
	d.PrefetchSkipped -= prev.PrefetchSkipped
	d.PrefetchWasted -= prev.PrefetchWasted
	d.Evictions -= prev.Evictions
	d.Reads -= prev.Reads
	d.ReadErrors -= prev.ReadErrors
	d.BytesRead -= prev.BytesRead
	d.ReadTime -= prev.ReadTime
	d.BusyTime -= prev.BusyTime
	d.WaitTime -= prev.WaitTime
	return d
}

// Stats returns the counters and the current state.
func (c *Cache) Stats() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.stats
	if c.reading > 0 {
		s.BusyTime += time.Since(c.busyFrom)
	}
	s.Slots, s.Capacity, s.Resident, s.Pinned = c.nslots, c.capacity, c.resident, c.pinned
	s.SlotBytes = c.layout.slot
	s.Direct = c.src.isDirect()
	return s
}
