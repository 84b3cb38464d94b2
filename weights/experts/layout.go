// Package experts keeps a model's MoE expert weights on disk and a budgeted
// LRU cache of them in memory. Experts are read straight from the GGUF file:
// expert e of a stacked tensor blk.L.ffn_{gate,up,down}_exps.weight is the
// contiguous byte range [e*slice, (e+1)*slice) of that tensor, so no converted
// copy of the model is needed. Reads bypass the page cache (O_DIRECT where the
// file system allows it) into slots of memory the cache owns outside the Go
// heap, so the memory budget covers everything the experts cost.
package experts

import (
	"fmt"

	"smallthinker/weights/gguf"
)

// Part is one of an expert's three matrices.
type Part int

const (
	Gate Part = iota
	Up
	Down
	numParts
)

func (p Part) String() string {
	switch p {
	case Gate:
		return "gate"
	case Up:
		return "up"
	case Down:
		return "down"
	}
	return fmt.Sprintf("Part(%d)", int(p))
}

// tensorName is the stacked expert tensor holding part p of layer il.
func tensorName(il int, p Part) string {
	return fmt.Sprintf("blk.%d.ffn_%s_exps.weight", il, p)
}

// pageSize is the alignment O_DIRECT needs for offsets, lengths and buffers.
// 4 KiB covers every common logical block size.
const pageSize = 4096

func alignDown(x int64) int64 { return x &^ (pageSize - 1) }
func alignUp(x int64) int64   { return (x + pageSize - 1) &^ (pageSize - 1) }

// stacked locates one stacked expert tensor in the file.
type stacked struct {
	off   int64 // absolute file offset of expert 0
	slice int64 // bytes of one expert's slice
	typ   gguf.TensorType
}

// Layout says where every expert slice lies in the file and how big a cache
// slot must be to hold any expert.
type Layout struct {
	Layers, Experts, TopK int

	tensors  [numParts][]stacked // per layer
	span     [numParts]int64     // bytes a slot reserves for part p (page multiple)
	base     [numParts]int64     // offset of part p inside a slot
	slot     int64
	fileSize int64
}

// MinSlots is the smallest cache (in experts) that the engine can run with:
// the top-k experts of one layer pinned at once, plus one slot so a read can
// proceed while they are in use.
func MinSlots(topK int) int { return topK + 1 }

// NewLayout locates the expert slices of a SmallThinker GGUF with the given
// number of layers, experts per layer and experts used per token (top-k).
// Every layer must hold the three stacked expert tensors with the expert as
// the outermost dimension; their types may differ between layers.
func NewLayout(f *gguf.File, layers, experts, topK int) (*Layout, error) {
	if layers <= 0 || experts <= 0 {
		return nil, fmt.Errorf("experts: need at least one layer and one expert, got %d layers, %d experts", layers, experts)
	}
	if topK <= 0 || topK > experts {
		return nil, fmt.Errorf("experts: top-k %d out of range 1..%d", topK, experts)
	}
	l := &Layout{Layers: layers, Experts: experts, TopK: topK, fileSize: f.Size}
	for p := Gate; p < numParts; p++ {
		l.tensors[p] = make([]stacked, layers)
		for il := 0; il < layers; il++ {
			name := tensorName(il, p)
			t, ok := f.Tensor(name)
			if !ok {
				return nil, fmt.Errorf("experts: tensor %s is missing", name)
			}
			if len(t.Dims) < 3 || t.Dims[len(t.Dims)-1] != uint64(experts) {
				return nil, fmt.Errorf("experts: tensor %s has shape %v, want the last dimension to be the %d experts", name, t.Dims, experts)
			}
			off, n := f.Range(t)
			if n <= 0 || n%int64(experts) != 0 {
				return nil, fmt.Errorf("experts: tensor %s holds %d bytes, not a multiple of %d experts", name, n, experts)
			}
			if off < 0 || off+n > f.Size {
				return nil, fmt.Errorf("experts: tensor %s (bytes %d..%d) lies outside the %d-byte file", name, off, off+n, f.Size)
			}
			st := stacked{off: off, slice: n / int64(experts), typ: t.Type}
			l.tensors[p][il] = st
			for e := 0; e < experts; e++ {
				a := st.off + int64(e)*st.slice
				if s := alignUp(a+st.slice) - alignDown(a); s > l.span[p] {
					l.span[p] = s
				}
			}
		}
	}
	for p := Gate; p < numParts; p++ {
		l.base[p] = l.slot
		l.slot += l.span[p]
	}
	return l, nil
}

// Slice returns the absolute file offset and length of one expert's part.
func (l *Layout) Slice(layer, expert int, p Part) (off, n int64) {
	st := l.tensors[p][layer]
	return st.off + int64(expert)*st.slice, st.slice
}

// Type is the tensor type of part p in layer il (K-quant files mix types).
func (l *Layout) Type(layer int, p Part) gguf.TensorType { return l.tensors[p][layer].typ }

// ExpertBytes is the size of one cache slot: the page-aligned file ranges
// around an expert's gate, up and down slices. It is the unit of the budget.
func (l *Layout) ExpertBytes() int64 { return l.slot }

// MinBytes is the smallest cache size Open and Resize accept.
func (l *Layout) MinBytes() int64 { return int64(MinSlots(l.TopK)) * l.slot }

// AllBytes is the cache size at which every expert stays resident.
func (l *Layout) AllBytes() int64 { return int64(l.Layers*l.Experts) * l.slot }

// SliceBytes is the unpadded size of all three parts of one expert in layer il.
func (l *Layout) SliceBytes(layer int) int64 {
	var n int64
	for p := Gate; p < numParts; p++ {
		n += l.tensors[p][layer].slice
	}
	return n
}
