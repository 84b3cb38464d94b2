package inference

import (
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"smallthinker/weights/experts"
)

// MemoryBreakdown is what a memory budget buys for this model.
type MemoryBreakdown struct {
	Budget      int64 // the budget (0 = unlimited)
	Resident    int64 // non-expert weights kept in RAM: embeddings, attention, router, norms, lm_head
	KVCache     int64 // keys and values for the context length
	Scratch     int64 // activations and buffers of the forward pass
	ExpertCache int64 // what is left for experts (all of them when everything fits)
	ExpertTotal int64 // bytes of every expert of every layer
	MinBudget   int64 // the smallest budget the engine can run with
	FullBudget  int64 // the budget at which every expert is resident
}

// ExpertShare is the fraction of all experts the expert cache holds.
func (b MemoryBreakdown) ExpertShare() float64 {
	if b.ExpertTotal == 0 {
		return 1
	}
	return min(1, float64(b.ExpertCache)/float64(b.ExpertTotal))
}

// ErrBudgetTooSmall is returned for a budget below the model's minimum.
var ErrBudgetTooSmall = errors.New("memory budget too small")

// residentBytes is the size of every non-expert weight.
func (m *Model) residentBytes() int64 {
	n := int64(m.embed.Bytes())
	if !m.Config.TiedEmbedding {
		n += int64(m.output.Bytes())
	}
	n += int64(len(m.outputNorm)) * 4
	if h := m.headPredictor; h != nil {
		n += int64(h.w1.Bytes() + h.w2.Bytes())
	}
	for i := range m.layers {
		l := &m.layers[i]
		n += int64(l.q.Bytes() + l.k.Bytes() + l.v.Bytes() + l.o.Bytes() + l.router.Bytes())
		n += int64(len(l.attnNorm)+len(l.ffnNorm)) * 4
	}
	return n
}

// expertTotalBytes is the size of every expert of every layer.
func (m *Model) expertTotalBytes() int64 {
	n := int64(0)
	for i := range m.layers {
		l := &m.layers[i]
		n += int64(l.gate.Bytes() + l.up.Bytes() + l.down.Bytes())
	}
	return n
}

// kvBytes is the KV cache size of a session with ctx positions.
func (m *Model) kvBytes(ctx int) int64 {
	c := m.Config
	n := int64(0)
	for il := 0; il < c.Layers; il++ {
		slots := ctx
		if w := c.Window(il); w > 0 && w+DefaultUBatch < ctx {
			slots = w + DefaultUBatch
		}
		n += int64(slots) * int64(c.KVDim()) * 2 * m.kvElemBytes()
	}
	return n
}

// kvElemBytes is the size of one cached key or value element.
func (m *Model) kvElemBytes() int64 {
	if m.kvF16 {
		return 2
	}
	return 4
}

// scratchBytes estimates a session's forward-pass buffers.
func (m *Model) scratchBytes(ctx int) int64 {
	c := m.Config
	B := int64(min(DefaultUBatch, ctx))
	perTok := int64(4*c.Embed + 2*c.QDim() + 2*c.KVDim() + c.Experts + 3*c.ExpertFFN + 2*c.Embed)
	// activation byte forms are at most the F32 size again; logits of one row; attention scores per thread.
	return B*perTok*4*2 + int64(c.Vocab)*4 + int64(m.threads)*int64(ctx)*4
}

// Breakdown says how a budget would be spent with the session context ctx
// (0 = the model's load-time context). budget 0 means unlimited.
func (m *Model) Breakdown(budget int64) MemoryBreakdown {
	ctx := m.ctxLen
	b := MemoryBreakdown{
		Budget:      budget,
		Resident:    m.residentBytes(),
		KVCache:     m.kvBytes(ctx),
		Scratch:     m.scratchBytes(ctx),
		ExpertTotal: m.expertTotalBytes(),
	}
	fixed := b.Resident + b.KVCache + b.Scratch
	b.MinBudget = fixed
	b.FullBudget = fixed + b.ExpertTotal
	if m.layout != nil {
		b.MinBudget += m.layout.MinBytes()
	}
	if budget <= 0 || budget >= b.FullBudget {
		b.ExpertCache = b.ExpertTotal
	} else {
		b.ExpertCache = max(0, budget-fixed)
	}
	return b
}

// Budget is the current memory budget (0 = unlimited).
func (m *Model) Budget() int64 { return m.budget.Load() }

// SetBudget changes the memory budget live: the expert cache grows or shrinks
// (evicting least recently used experts) without a reload; a generation in
// progress keeps running. 0 means unlimited. A budget below the minimum is
// refused with an error that names it.
func (m *Model) SetBudget(budget int64) error {
	m.budgetMu.Lock()
	defer m.budgetMu.Unlock()
	b := m.Breakdown(budget)
	if budget > 0 && budget < b.MinBudget {
		return fmt.Errorf("%w: %s needs at least %s (resident weights %s, KV cache %s, scratch %s, %d experts)",
			ErrBudgetTooSmall, fmtBytes(budget), fmtBytes(b.MinBudget), fmtBytes(b.Resident), fmtBytes(b.KVCache),
			fmtBytes(b.Scratch), experts.MinSlots(m.Config.ExpertsUsed))
	}
	cache := m.cache.Load()
	switch {
	case cache == nil && (budget <= 0 || budget >= b.FullBudget):
		// Everything fits: experts stay mapped in place, no I/O at all.
	case cache == nil:
		c, err := experts.Open(m.Path, m.layout, b.ExpertCache, m.expOpts)
		if err != nil {
			return err
		}
		m.cache.Store(c)
		// From now on experts come from the cache: once the forward pass in
		// progress (which may still read them in the mapping) is done, give
		// back the memory of those packed in place.
		m.execMu.Lock()
		m.dropMappedExperts()
		m.execMu.Unlock()
	default:
		if err := cache.Resize(b.ExpertCache); err != nil {
			return err
		}
	}
	m.budget.Store(max(budget, 0))
	return nil
}

// ExpertStats are the expert cache's cumulative counters (zero when every
// expert is resident in the mapping).
func (m *Model) ExpertStats() experts.Stats {
	if c := m.cache.Load(); c != nil {
		return c.Stats()
	}
	return experts.Stats{}
}

// HitRate is the share of expert lookups that found the expert already in
// memory (a prefetched read that arrived in time still counts as a miss: it
// cost a disk read).
func HitRate(s experts.Stats) float64 {
	total := s.Hits + s.Misses()
	if total == 0 {
		return 1
	}
	return float64(s.Hits) / float64(total)
}

// WeightBytesPerToken is how many weight bytes one decoded token reads:
// every non-expert matrix, the top-k experts of each layer, the lm_head and
// one embedding row.
func (m *Model) WeightBytesPerToken() int64 {
	c := m.Config
	n := int64(m.output.Bytes() + m.embed.RowBytes)
	for i := range m.layers {
		l := &m.layers[i]
		n += int64(l.q.Bytes() + l.k.Bytes() + l.v.Bytes() + l.o.Bytes() + l.router.Bytes())
		n += int64(c.ExpertsUsed) * int64(l.gate.Bytes()+l.up.Bytes()+l.down.Bytes()) / int64(c.Experts)
	}
	return n
}

func fmtBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.0f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%d KiB", n/1024)
}

// cachePtr is the live expert cache (nil while experts are used in place).
type cachePtr = atomic.Pointer[experts.Cache]

// expertStats fills the expert-cache figures of st with what happened since
// the snapshot since (hit rate 1 when every expert is resident).
func (m *Model) expertStats(st *Stats, since experts.Stats) {
	d := m.ExpertStats().Sub(since)
	st.CacheHitRate = HitRate(d)
	st.SSDBytesRead = d.BytesRead
	st.SSDMBs = d.ReadMBps()
	if n := max(st.GeneratedTokens, 1); d.WaitTime > 0 {
		st.IOWaitPerToken = d.WaitTime / time.Duration(n)
	}
}
