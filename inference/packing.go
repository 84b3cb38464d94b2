package inference

import (
	"fmt"
	"sync"
	"time"

	"smallthinker/inference/kernels"
	"smallthinker/weights/experts"
	"smallthinker/weights/gguf"
	"smallthinker/weights/hugemem"
	"smallthinker/weights/quant"
)

// Q4_0 matrices are repacked in memory into the Q4_0x4 layout (four rows'
// blocks side by side, quant.PackQ4_0x4) where the kernels have a faster
// path for it; the results are bit-identical. Resident matrices are packed
// at load, in the copy-on-write file mapping. Experts are packed when first
// needed: as a cache slot is filled (experts.Options.Prepare), or, while
// every expert is used in place, on first use in the mapping.

// packsQ4_0 says whether to pack; tests force it on to cover the plain-Go
// packed kernel where the assembly one does not exist.
var packsQ4_0 = kernels.PacksQ4_0

// pairsQ4_0 says whether packed groups go in pairs (the kernels' choice;
// tests force both layouts).
var pairsQ4_0 = kernels.PairsQ4_0

// packable reports whether a matrix of this shape gets the Q4_0x4 layout.
func (m *Model) packable(t gguf.TensorType, rows, rowBytes int) bool {
	return m.packQ4 && t == gguf.Q4_0 && quant.CanPackQ4_0x4(rows, rowBytes)
}

// packResident moves the packable resident matrices into one huge-page
// buffer and packs them there (hugemem: decode streams them every token,
// and from huge pages faster than from the mapping's copy-on-write 4 KiB
// pages), giving the mapping's pages back.
func (m *Model) packResident(ws []*Matrix) error {
	total := 0
	for _, w := range ws {
		if m.packable(w.Type, w.Rows, w.RowBytes) {
			total += align64(w.Bytes())
		}
	}
	if total == 0 {
		return nil
	}
	buf, err := hugemem.Alloc(total)
	if err != nil {
		return fmt.Errorf("resident weights: %w", err)
	}
	m.resident = buf
	mem := buf.Bytes()
	for _, w := range ws {
		if !m.packable(w.Type, w.Rows, w.RowBytes) {
			continue
		}
		dst := carve(&mem, w.Bytes())
		m.copyOut(dst, w.Data)
		if err := quant.PackQ4_0x4(dst, w.Rows, w.RowBytes, m.pairQ4); err != nil {
			return err
		}
		w.Data = dst
		w.Packed, w.Paired = true, m.pairQ4
	}
	return nil
}

// align64 rounds n up to a cache line: matrices carved from one buffer
// start on their own lines.
func align64(n int) int { return (n + 63) &^ 63 }

// carve takes n bytes (then up to the next cache line) off the front of *mem.
func carve(mem *[]byte, n int) []byte {
	b := (*mem)[:n:n]
	*mem = (*mem)[align64(n):]
	return b
}

// copyOut copies src, a part of the mapping read only this once, to dst,
// giving back src's pages as it goes: the copy never holds both whole (the
// lm_head alone is 131 MB in the 4B).
func (m *Model) copyOut(dst, src []byte) {
	const step = 4 << 20
	for off := 0; off < len(src); off += step {
		end := min(off+step, len(src))
		copy(dst[off:end], src[off:end])
		_ = m.file.DropPages(src[off:end]) // only memory is at stake
	}
	_ = m.file.DropPages(src) // the pages straddling two steps
}

// expertShape is the rows and row bytes of one expert's part in layer il.
func (m *Model) expertShape(il int, p experts.Part) (t gguf.TensorType, rows, rowBytes int) {
	l := &m.layers[il]
	c := m.Config
	switch p {
	case experts.Gate:
		return l.gate.Type, c.ExpertFFN, l.gate.RowBytes
	case experts.Up:
		return l.up.Type, c.ExpertFFN, l.up.RowBytes
	}
	if c.DownTransposed {
		return l.down.Type, c.ExpertFFN, l.down.RowBytes
	}
	return l.down.Type, c.Embed, l.down.RowBytes
}

// expertPacked reports whether part p of layer il's experts is used packed.
// Up stays plain: ReGLU skips its rows one by one (about half of them for
// random weights), while a packed group of four can only be skipped whole
// (1 in 16), and reading fewer bytes beats reading them faster. The
// transposed down layout is read row by row and stays plain too.
func (m *Model) expertPacked(il int, p experts.Part) bool {
	if p == experts.Up || (p == experts.Down && m.Config.DownTransposed) {
		return false
	}
	t, rows, rowBytes := m.expertShape(il, p)
	return m.packable(t, rows, rowBytes)
}

// prepareExpert is the expert cache's Prepare hook: it packs a freshly read part.
func (m *Model) prepareExpert(il int, p experts.Part, data []byte) error {
	if !m.expertPacked(il, p) {
		return nil
	}
	_, rows, rowBytes := m.expertShape(il, p)
	if len(data) != rows*rowBytes {
		return fmt.Errorf("expert %s is %d bytes, want %d", p, len(data), rows*rowBytes)
	}
	return quant.PackQ4_0x4(data, rows, rowBytes, m.pairQ4)
}

// expertMatrices returns expert e of layer il: from its pinned cache slot
// ex, or (ex nil) from the mapping, packed there first if it is not yet.
func (m *Model) expertMatrices(il, e int, ex *experts.Expert) (gate, up, down Matrix) {
	l := &m.layers[il]
	c := m.Config
	D, F := c.Embed, c.ExpertFFN
	if ex != nil {
		gate = Matrix{Type: l.gate.Type, Rows: F, Cols: D, RowBytes: l.gate.RowBytes, Data: ex.Gate()}
		up = Matrix{Type: l.up.Type, Rows: F, Cols: D, RowBytes: l.up.RowBytes, Data: ex.Up()}
		down = Matrix{Type: l.down.Type, Rows: D, Cols: F, RowBytes: l.down.RowBytes, Data: ex.Down()}
		if c.DownTransposed {
			down.Rows, down.Cols = F, D
		}
	} else {
		gate, up, down = expertSlices(l.gate, l.up, l.down, e, D, F, c.DownTransposed)
		if a := m.expArena; a != nil {
			src := [3]Matrix{gate, up, down}
			gate, up, down = expertSlices(a.layers[il][0], a.layers[il][1], a.layers[il][2], e, D, F, c.DownTransposed)
			m.packMapped(il, e, &src, [3]*Matrix{&gate, &up, &down})
		} else {
			m.packMapped(il, e, nil, [3]*Matrix{&gate, &up, &down})
		}
	}
	gate.Packed = m.expertPacked(il, experts.Gate)
	up.Packed = m.expertPacked(il, experts.Up)
	down.Packed = m.expertPacked(il, experts.Down)
	gate.Paired, up.Paired, down.Paired = gate.Packed && m.pairQ4, up.Packed && m.pairQ4, down.Packed && m.pairQ4
	return gate, up, down
}

// expertSlices is expert e's rows of a layer's gate, up and down matrices.
func expertSlices(gate, up, down Matrix, e, D, F int, downTransposed bool) (Matrix, Matrix, Matrix) {
	if downTransposed {
		return gate.slice(e*F, F), up.slice(e*F, F), down.slice(e*F, F)
	}
	return gate.slice(e*F, F), up.slice(e*F, F), down.slice(e*D, D)
}

// expertArena holds, while every expert is used in place, the experts
// copied out of the mapping on first use (or by the background packer)
// and packed there: huge pages, where the mapping's copy-on-write 4 KiB
// pages stream slower (see hugemem). Its pages are touched, so count, only
// as experts arrive; it goes when the expert cache takes over.
type expertArena struct {
	buf    *hugemem.Buffer
	layers [][3]Matrix // per layer: gate, up, down, shaped as the layer's
}

// placeExperts makes the expert arena when experts are used in place and
// packed. Without one (it could not be reserved: ~11 GB of address space
// for the 21B) experts are packed in the mapping instead.
func (m *Model) placeExperts() {
	if !m.packQ4 || m.cache.Load() != nil || len(m.layers) == 0 {
		return
	}
	total := 0
	for i := range m.layers {
		l := &m.layers[i]
		total += align64(l.gate.Bytes()) + align64(l.up.Bytes()) + align64(l.down.Bytes())
	}
	buf, err := hugemem.Alloc(total)
	if err != nil {
		return
	}
	a := &expertArena{buf: buf, layers: make([][3]Matrix, len(m.layers))}
	mem := buf.Bytes()
	for i := range m.layers {
		l := &m.layers[i]
		for j, w := range []Matrix{l.gate, l.up, l.down} {
			w.Data = carve(&mem, w.Bytes())
			a.layers[i][j] = w
		}
	}
	m.expArena = a
}

// packMappedExperts packs the listed experts of layer il in the mapping, in
// parallel, before a forward pass uses them (first use only: a prompt that
// touches every expert would otherwise pack them one by one on one core).
func (m *Model) packMappedExperts(il int, es []int) {
	if !m.packQ4 {
		return
	}
	var t *packTask // allocated only while experts are still being packed
	for _, e := range es {
		if !m.mappedPacked[il*m.Config.Experts+e].Load() {
			if t == nil {
				t = &packTask{m: m, il: il}
			}
			t.es = append(t.es, e)
		}
	}
	if t != nil {
		m.exec.For(len(t.es), 1, t)
	}
}

type packTask struct {
	m  *Model
	il int
	es []int
}

func (t *packTask) Run(_, lo, hi int) {
	for _, e := range t.es[lo:hi] {
		t.m.expertMatrices(t.il, e, nil)
	}
}

// packMapped prepares expert e of layer il once: copied from src (its
// parts in the mapping) into parts (in the expert arena) and packed there,
// or, src nil, packed in the mapping in place.
func (m *Model) packMapped(il, e int, src *[3]Matrix, parts [3]*Matrix) {
	done := &m.mappedPacked[il*m.Config.Experts+e]
	if done.Load() {
		return
	}
	mu := &m.packMu[(il*m.Config.Experts+e)%len(m.packMu)]
	mu.Lock()
	defer mu.Unlock()
	if done.Load() {
		return
	}
	for i, w := range parts {
		if src != nil {
			m.copyOut(w.Data, src[i].Data)
		}
		if m.expertPacked(il, experts.Part(i)) {
			if src == nil {
				m.file.PrefaultWrite(w.Data)
			}
			// Shapes were validated at load: this cannot fail.
			if err := quant.PackQ4_0x4(w.Data, w.Rows, w.RowBytes, m.pairQ4); err != nil {
				panic(err)
			}
		}
	}
	done.Store(true)
}

// dropMappedExperts gives back the memory of experts prepared for use in
// place (the arena, or pages packed in the mapping) once the expert cache
// has taken over (it never gives them back). The mapping's pages revert to
// the file's plain layout, and so do the flags: the caller holds execMu, so
// no pass is packing or reading them.
func (m *Model) dropMappedExperts() {
	for i := range m.mappedPacked {
		m.mappedPacked[i].Store(false)
	}
	if a := m.expArena; a != nil {
		m.expArena = nil
		_ = a.buf.Free()
	}
	for il := range m.layers {
		for _, name := range []string{"ffn_gate_exps", "ffn_up_exps", "ffn_down_exps"} {
			if t, ok := m.file.Tensor(fmt.Sprintf("blk.%d.%s.weight", il, name)); ok {
				_ = m.file.DropPrivate(t) // only memory is at stake
			}
		}
	}
}

// gemmRows computes out[j][r] = W·xs[j] for rows [lo, hi) of W. aux holds
// the Q8_0Aux of each activation when W is packed; packed matrices work in
// groups of four rows, so lo and hi are rounded up to whole groups (adjacent
// ranges round their shared bound alike, so together they still cover every
// row exactly once).
func gemmRows(W *Matrix, xb, aux [][]byte, out [][]float32, lo, hi int, sgemm bool) {
	if W.Packed {
		lo, hi = (lo+3)&^3, (hi+3)&^3
		if lo < hi {
			kernels.GemmQ4_0x4(W.Data, W.Rows, W.RowBytes, W.Paired, xb, aux, W.Cols, out, lo, hi)
		}
		return
	}
	gemmGGML(W.Type, W.Data, W.RowBytes, xb, aux, W.Cols, out, lo, hi, sgemm)
}

// backgroundPacker packs the mapped experts after load, one at a time on
// one goroutine, while no forward pass runs: otherwise a chat's first
// prompt pays for it (about 1.9 CPU-seconds on the 4B), and that is spent
// while the user is still typing. It stops for good when the expert cache
// takes over or the model closes; first use still packs whatever it has
// not reached.
type backgroundPacker struct {
	quit chan struct{}
	done chan struct{}
	once sync.Once
}

// packerIdleWait is how long the packer sleeps while a forward pass runs.
const packerIdleWait = 5 * time.Millisecond

func (m *Model) startPacker() {
	p := &m.packer
	p.quit, p.done = make(chan struct{}), make(chan struct{})
	if !m.packQ4 || m.cache.Load() != nil || m.mappedPacked == nil {
		close(p.done)
		return
	}
	E := m.Config.Experts
	go func() {
		defer close(p.done)
		idle := time.NewTimer(packerIdleWait) // reused: a decode step allocates nothing, here neither
		defer idle.Stop()
		for i := 0; i < len(m.layers)*E; i++ {
			for m.passes.Load() > 0 {
				idle.Reset(packerIdleWait)
				select {
				case <-p.quit:
					return
				case <-idle.C:
				}
			}
			select {
			case <-p.quit:
				return
			default:
			}
			if !m.packOneMapped(i/E, i%E) {
				return
			}
		}
	}()
}

// packOneMapped packs expert e of layer il in the mapping unless the model
// is closed or its experts have moved to the cache (then it reports false).
func (m *Model) packOneMapped(il, e int) bool {
	m.execMu.RLock()
	defer m.execMu.RUnlock()
	if m.exec == nil || m.file == nil || m.cache.Load() != nil {
		return false
	}
	m.expertMatrices(il, e, nil) // packs it unless it already is
	return true
}

// stop ends the packer and waits for it (at most one expert's packing).
func (p *backgroundPacker) stop() {
	if p.quit == nil {
		return
	}
	p.once.Do(func() { close(p.quit) })
	<-p.done
}

// WaitPacked blocks until the background packing of experts has finished
// or stopped (benchmarks: the reference engine, too, repacks at load).
func (m *Model) WaitPacked() {
	if m.packer.done != nil {
		<-m.packer.done
	}
}
