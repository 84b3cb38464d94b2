package inference

import (
	"sort"

	"smallthinker/weights/experts"
	"smallthinker/weights/quant"
)

// A decode step runs hundreds of small mat-vecs (Q, K, V, and gate, up and
// down of every routed expert of every layer). Each parallel For costs a
// wake-up and a wait for the slowest worker, so mat-vecs that read the same
// activations, or that are independent, are fused into one For over the
// concatenated rows.

// mmSeg is one matrix's share of a fused mat-mul: rows [r0, r1) of W times
// the activations xb, into out[j][r].
type mmSeg struct {
	W      *Matrix
	xb     [][]byte
	out    [][]float32
	r0, r1 int
	start  int // index of row r0 in the fused row space
}

// fusedTask runs several mat-muls as one parallel task.
type fusedTask struct {
	segs  []mmSeg
	n     int // fused rows
	xb    []([]byte)
	sgemm bool
}

func (t *fusedTask) reset(sgemm bool) {
	t.segs, t.xb, t.n, t.sgemm = t.segs[:0], t.xb[:0], 0, sgemm
}

// add queues rows [r0, r1) of W for the activations xs, converting them to
// W's activation type now (not inside the parallel run).
func (t *fusedTask) add(W *Matrix, xs []*actRow, out [][]float32, r0, r1 int) {
	if r1 <= r0 || len(xs) == 0 {
		return
	}
	vd, _ := quant.VecDotFor(W.Type) // checked at load
	first := len(t.xb)
	for _, x := range xs {
		t.xb = append(t.xb, x.as(vd.Act, vd))
	}
	t.segs = append(t.segs, mmSeg{W: W, xb: t.xb[first:len(t.xb):len(t.xb)], out: out, r0: r0, r1: r1, start: t.n})
	t.n += r1 - r0
}

// addSame is add for rows that reuse the previous segment's activations.
func (t *fusedTask) addSame(W *Matrix, out [][]float32, r0, r1 int) {
	if r1 <= r0 || len(t.segs) == 0 {
		return
	}
	prev := t.segs[len(t.segs)-1]
	t.segs = append(t.segs, mmSeg{W: W, xb: prev.xb, out: out, r0: r0, r1: r1, start: t.n})
	t.n += r1 - r0
}

func (t *fusedTask) Run(_, lo, hi int) {
	i := sort.Search(len(t.segs), func(i int) bool { return t.segs[i].start+t.segs[i].r1-t.segs[i].r0 > lo })
	for ; i < len(t.segs) && t.segs[i].start < hi; i++ {
		sg := &t.segs[i]
		a := max(lo, sg.start) - sg.start + sg.r0
		b := min(hi, sg.start+sg.r1-sg.r0) - sg.start + sg.r0
		gemmGGML(sg.W.Type, sg.W.Data, sg.W.RowBytes, sg.xb, sg.W.Cols, sg.out, a, b, t.sgemm)
	}
}

// runFused executes the queued mat-muls, chunks of about 24 KiB of weights per claim.
func (s *state) runFused() {
	t := &s.fused
	if t.n == 0 {
		return
	}
	rowBytes := t.segs[0].W.RowBytes
	s.m.exec.For(t.n, max(1, (24<<10)/max(rowBytes, 1)), t)
}

// expertJob is one routed expert's share of a layer's MoE: its matrices
// (mapped or in a pinned cache slot) and where its tokens' rows start in the
// job scratch.
type expertJob struct {
	e              int
	gate, up, down Matrix
	row            int
}

// jobScratch holds per (expert, token) rows for fused expert work.
type jobScratch struct {
	gate, up, down [][]float32
	act            []*actRow
	acts           []*actRow // gather buffer for a job's inputs
}

func (s *state) ensureJobScratch(rows int) {
	c := s.m.Config
	js := &s.js
	for len(js.gate) < rows {
		js.gate = append(js.gate, make([]float32, c.ExpertFFN))
		js.up = append(js.up, make([]float32, c.ExpertFFN))
		js.down = append(js.down, make([]float32, c.Embed))
		js.act = append(js.act, newActRow(c.ExpertFFN))
	}
}

// runJobs applies the jobs' experts (upstream down layout) with three fused
// mat-muls: every gate, the up rows some token activates (ReGLU sparsity),
// every down; then adds each weighted output to its token's slot.
func (s *state) runJobs(jobs []expertJob) {
	if len(jobs) == 0 {
		return
	}
	c := s.m.Config
	F := c.ExpertFFN
	rows := 0
	for i := range jobs {
		jobs[i].row = rows
		rows += len(s.expTok[jobs[i].e])
	}
	s.ensureJobScratch(rows)
	js := &s.js
	t := &s.fused

	t.reset(false)
	for i := range jobs {
		j := &jobs[i]
		toks := s.expTok[j.e]
		t.add(&j.gate, s.gatherNorm(toks), js.gate[j.row:j.row+len(toks)], 0, F)
	}
	s.runFused()

	t.reset(false)
	for i := range jobs {
		j := &jobs[i]
		n := len(s.expTok[j.e])
		g, u := js.gate[j.row:j.row+n], js.up[j.row:j.row+n]
		xs := s.gatherNorm(s.expTok[j.e])
		first := true
		for r := 0; r < F; {
			if !anyPositive(g, r) {
				for k := range u {
					u[k][r] = 0
				}
				r++
				continue
			}
			start := r
			for r < F && r-start < 64 && anyPositive(g, r) {
				r++
			}
			if first {
				t.add(&j.up, xs, u, start, r)
				first = false
			} else {
				t.addSame(&j.up, u, start, r)
			}
		}
	}
	s.runFused()

	t.reset(false)
	for i := range jobs {
		j := &jobs[i]
		n := len(s.expTok[j.e])
		for k := 0; k < n; k++ {
			a, g, u := js.act[j.row+k], js.gate[j.row+k], js.up[j.row+k]
			for r := 0; r < F; r++ {
				a.f32[r] = max(g[r], 0) * u[r]
			}
			a.invalidate()
		}
		t.add(&j.down, js.act[j.row:j.row+n], js.down[j.row:j.row+n], 0, j.down.Rows)
	}
	s.runFused()

	for i := range jobs {
		j := &jobs[i]
		for k, tok := range s.expTok[j.e] {
			s.addExpert(tok, s.expSlot[j.e][k], s.expW[j.e][k], js.down[j.row+k])
		}
	}
}

func anyPositive(rows [][]float32, r int) bool {
	for _, g := range rows {
		if g[r] > 0 {
			return true
		}
	}
	return false
}

// mappedJob views expert e of layer l in the file mapping.
func (s *state) mappedJob(l *layer, e int) expertJob {
	D, F := s.m.Config.Embed, s.m.Config.ExpertFFN
	return expertJob{e: e, gate: l.gate.slice(e*F, F), up: l.up.slice(e*F, F), down: l.down.slice(e*D, D)}
}

// cachedJob views expert e in its pinned cache slot.
func (s *state) cachedJob(l *layer, ex *experts.Expert, e int) expertJob {
	D, F := s.m.Config.Embed, s.m.Config.ExpertFFN
	return expertJob{e: e,
		gate: Matrix{Type: l.gate.Type, Rows: F, Cols: D, RowBytes: l.gate.RowBytes, Data: ex.Gate()},
		up:   Matrix{Type: l.up.Type, Rows: F, Cols: D, RowBytes: l.up.RowBytes, Data: ex.Up()},
		down: Matrix{Type: l.down.Type, Rows: D, Cols: F, RowBytes: l.down.RowBytes, Data: ex.Down()},
	}
}
