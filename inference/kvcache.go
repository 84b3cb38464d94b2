package inference

import "smallthinker/inference/kernels"

// kvCache holds the keys and values of every layer. Full-attention layers keep
// every position up to the context length; sliding-window layers keep a ring
// of window+ubatch slots, which is all a batch of at most ubatch tokens can
// look at, so a long 21B chat does not grow 39 of its 52 layers' caches.
type kvCache struct {
	layers []kvLayer
	n      int // positions filled: the next token goes to position n
	ctx    int // context length (maximum positions)
	kvDim  int
	// oldest is the lowest position that may be rewound to without losing ring
	// entries a later token would need (see rewind).
	ubatch int
}

// Each KV head's rows are contiguous (head-major: element e of head h in
// slot s is at (h·slots+s)·d+e), so that attention, which takes one KV head
// per work item, streams its keys and values instead of reading half of
// every cache line pair.
type kvLayer struct {
	window int // 0 = full attention
	slots  int
	d      int       // head dimension
	k, v   []float32 // heads × slots × d (F32 cache)
	// k16, v16 are the F16 cache's heads × slots × d: half the memory and half
	// the bytes attention reads per position.
	k16, v16 []uint16
	// pos[s] is the position currently stored in slot s (ring layers only).
	pos []int
}

func newKVCache(windows []int, ctx, kvDim, headDim, ubatch int, f16 bool) *kvCache {
	c := &kvCache{ctx: ctx, kvDim: kvDim, ubatch: ubatch, layers: make([]kvLayer, len(windows))}
	for il, w := range windows {
		slots := ctx
		if w > 0 && w+ubatch < ctx {
			slots = w + ubatch
		}
		l := &c.layers[il]
		l.window, l.slots, l.d = w, slots, headDim
		if f16 {
			l.k16 = make([]uint16, slots*kvDim)
			l.v16 = make([]uint16, slots*kvDim)
		} else {
			l.k = make([]float32, slots*kvDim)
			l.v = make([]float32, slots*kvDim)
		}
		if slots < ctx {
			l.pos = make([]int, slots)
			for i := range l.pos {
				l.pos[i] = -1
			}
		}
	}
	return c
}

// bytes is the memory the cache holds.
func (c *kvCache) bytes() int64 {
	n := int64(0)
	for i := range c.layers {
		l := &c.layers[i]
		n += int64(len(l.k)+len(l.v))*4 + int64(len(l.k16)+len(l.v16))*2
	}
	return n
}

func (l *kvLayer) slot(pos int) int {
	if l.pos == nil {
		return pos
	}
	return pos % l.slots
}

// at is the offset of KV head h's row in slot s.
func (l *kvLayer) at(h, s int) int { return (h*l.slots + s) * l.d }

// keys and values gather the F32 cache's row of every head at pos (tests).
func (l *kvLayer) keys(pos, kvDim int) []float32 { return l.gather(l.k, pos, kvDim) }

func (l *kvLayer) values(pos, kvDim int) []float32 { return l.gather(l.v, pos, kvDim) }

func (l *kvLayer) gather(c []float32, pos, kvDim int) []float32 {
	row := make([]float32, 0, kvDim)
	for h := 0; h < kvDim/l.d; h++ {
		row = append(row, c[l.at(h, l.slot(pos)):][:l.d]...)
	}
	return row
}

// store writes the key and value rows of position pos, rounding them to
// F16 (to nearest even, as F16C does) in an F16 cache.
func (l *kvLayer) store(pos, kvDim int, k, v []float32) {
	s := l.slot(pos)
	for h := 0; h < kvDim/l.d; h++ {
		src, dst := h*l.d, l.at(h, s)
		if l.k16 != nil {
			kernels.ToF16(l.k16[dst:dst+l.d], k[src:src+l.d])
			kernels.ToF16(l.v16[dst:dst+l.d], v[src:src+l.d])
		} else {
			copy(l.k[dst:dst+l.d], k[src:src+l.d])
			copy(l.v[dst:dst+l.d], v[src:src+l.d])
		}
	}
	if l.pos != nil {
		l.pos[s] = pos
	}
}

// rewind drops positions ≥ n. It reports false when a ring layer has already
// overwritten entries that positions from n on would need; the caller must
// then start over from position 0.
func (c *kvCache) rewind(n int) bool {
	if n >= c.n {
		return n == c.n
	}
	for i := range c.layers {
		l := &c.layers[i]
		if l.pos == nil {
			continue
		}
		// The next token at position n needs positions [n-window+1, n-1].
		for p := max(0, n-l.window+1); p < n; p++ {
			if l.pos[l.slot(p)] != p {
				return false
			}
		}
	}
	c.n = n
	return true
}

func (c *kvCache) reset() {
	c.n = 0
	for i := range c.layers {
		for j := range c.layers[i].pos {
			c.layers[i].pos[j] = -1
		}
	}
}
