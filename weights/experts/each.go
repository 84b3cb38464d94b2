package experts

import (
	"fmt"
	"time"
)

// Each calls fn for every listed expert of a layer, pinned, in the order they
// become available: cached experts first, then the others as their reads
// complete, so the caller waits only for what has not arrived. It starts any
// read not yet requested (as Prefetch would) and does queued reads itself
// rather than wait for a worker. i is the expert's index in experts. Each
// stops at the first error from a read or from fn; experts are released when
// fn returns and must not be kept.
func (c *Cache) Each(layer int, experts []int, fn func(i int, e *Expert) error) error {
	if len(experts) > 64 {
		return fmt.Errorf("experts: Each takes at most 64 experts, got %d", len(experts))
	}
	for _, e := range experts {
		if _, err := c.id(layer, e); err != nil {
			return err
		}
	}
	c.Prefetch(layer, experts)
	var done uint64
	for range experts {
		x, i, err := c.next(layer, experts, done)
		if err != nil {
			return err
		}
		done |= 1 << i
		err = fn(i, x)
		c.Release(x)
		if err != nil {
			return err
		}
	}
	return nil
}

// next pins one of the experts not marked in done: a present one if any, else
// one whose queued read it performs, else one it reads on demand, else the
// first of the in-flight reads to finish.
func (c *Cache) next(layer int, experts []int, done uint64) (*Expert, int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var t0 time.Time
	for {
		if c.closed {
			return nil, 0, ErrClosed
		}
		queued, absent := -1, -1
		for i, e := range experts {
			if done>>i&1 != 0 {
				continue
			}
			s := c.table[layer*c.layout.Experts+e]
			switch {
			case s == nil:
				if absent < 0 {
					absent = i
				}
			case s.state == stPresent:
				if t0.IsZero() {
					c.pinPresent(s)
				} else { // arrived while we waited
					c.pin(s)
					s.fresh = false
					c.stats.Stalls++
					c.stats.WaitTime += time.Since(t0)
				}
				return s, i, nil
			case !s.start:
				if queued < 0 {
					queued = i
				}
			}
		}
		switch {
		case queued >= 0:
			s := c.table[layer*c.layout.Experts+experts[queued]]
			c.pin(s)
			c.stats.Stalls++
			s.start = true
			t := time.Now()
			c.load(s)
			c.stats.WaitTime += time.Since(t)
			if s.state == stPresent {
				s.fresh = false
				return s, queued, nil
			}
			err := s.err
			c.unpin(s)
			if s.pins == 0 {
				c.recycle(s)
			}
			return nil, 0, err
		case absent >= 0:
			id := layer*c.layout.Experts + experts[absent]
			s, err := c.acquireSlow(id, layer, experts[absent])
			return s, absent, err
		}
		if t0.IsZero() {
			t0 = time.Now()
		}
		c.changed.Wait()
	}
}
