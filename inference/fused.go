package inference

import (
	"slices"
	"sort"

	"smallthinker/inference/kernels"
	"smallthinker/weights/experts"
	"smallthinker/weights/gguf"
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
	aux    [][]byte // Q8_0Aux of each activation, for a packed W
	out    [][]float32
	r0, r1 int
	start  int // index of row r0 in the fused row space
}

// fusedTask runs several mat-muls as one parallel task.
type fusedTask struct {
	segs  []mmSeg
	n     int // fused rows
	buf   actBuf
	sgemm bool
}

func (t *fusedTask) reset(sgemm bool) {
	t.segs, t.n, t.sgemm = t.segs[:0], 0, sgemm
	t.buf.reset()
}

// align starts a packed matrix's segment on a multiple of 8 in the fused
// row space (the rows in between belong to no segment), so that Run's
// rounding to whole groups agrees with the matrix's own groups, and chunks
// (multiples of 8 rows) split no pair of groups.
func (t *fusedTask) align(W *Matrix) {
	if W.Packed {
		t.n = (t.n + 7) &^ 7
	}
}

// add queues rows [r0, r1) of W for the activations xs, converting them to
// W's activation type now (not inside the parallel run).
func (t *fusedTask) add(W *Matrix, xs []*actRow, out [][]float32, r0, r1 int) {
	if r1 <= r0 || len(xs) == 0 {
		return
	}
	xb, aux := t.buf.forms(W, xs), t.buf.auxs(W, xs)
	t.align(W)
	t.segs = append(t.segs, mmSeg{W: W, xb: xb, aux: aux, out: out, r0: r0, r1: r1, start: t.n})
	t.n += r1 - r0
}

// Run takes items of 8 rows of the fused row space.
func (t *fusedTask) Run(_, lo, hi int) {
	lo, hi = 8*lo, min(8*hi, t.n)
	i := sort.Search(len(t.segs), func(i int) bool { return t.segs[i].start+t.segs[i].r1-t.segs[i].r0 > lo })
	for ; i < len(t.segs) && t.segs[i].start < hi; i++ {
		sg := &t.segs[i]
		a := max(lo, sg.start) - sg.start + sg.r0
		b := min(hi, sg.start+sg.r1-sg.r0) - sg.start + sg.r0
		gemmRows(sg.W, sg.xb, sg.aux, sg.out, a, b, t.sgemm)
	}
}

// runFused executes the queued mat-muls, chunks of about 160 KiB of weights
// per claim: a worker's chunk is one stream for the hardware prefetcher, and
// streams this long read memory faster (4B decode: 24 KiB chunks 36-37
// tok/s, 96 KiB 38-41, 160 KiB 40-42) while a layer's expert matrices still
// make a dozen chunks or more to balance between workers.
func (s *state) runFused() {
	t := &s.fused
	if t.n == 0 {
		return
	}
	total := 0
	for i := range t.segs {
		sg := &t.segs[i]
		total += (sg.r1 - sg.r0) * sg.W.RowBytes
	}
	s.weightBytes += int64(total)
	// Rows of the segments differ in size (an F32 router beside Q4_0 Q, K,
	// V): the grain is the average row's.
	// Items of 8 rows: the pool cuts the items into equal chunks, and
	// whole items never split a pair of packed groups (see align).
	grain := int(int64(fusedChunkBytes) * int64(t.n) / max(int64(total), 1))
	s.m.exec.For((t.n+7)/8, max(1, grain/8), t)
}

const fusedChunkBytes = 160 << 10

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

// runJobs applies the jobs' experts (upstream down layout) with two fused
// mat-muls: gate and the up rows some token activates (ReGLU sparsity),
// then every down; then adds each weighted output to its token's slot.
func (s *state) runJobs(jobs []expertJob) {
	if len(jobs) == 0 {
		return
	}
	rows := 0
	for i := range jobs {
		jobs[i].row = rows
		rows += len(s.expTok[jobs[i].e])
	}
	s.ensureJobScratch(rows)
	js := &s.js
	t := &s.fused

	s.runGateUp(jobs)

	t.reset(false)
	for i := range jobs {
		j := &jobs[i]
		n := len(s.expTok[j.e])
		for k := 0; k < n; k++ {
			js.act[j.row+k].invalidate() // runGateUp wrote its f32
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

// activeRuns appends to runs the row ranges in [lo, F) of the up projection
// that ReGLU needs: neurons whose gate is positive for some token (gate[k][r] > 0),
// merged into runs of at most 64 rows. Packed matrices work in groups of
// four rows, so a group is needed when any of its neurons is.
func activeRuns(gate [][]float32, lo, F int, packed bool, runs [][2]int32) [][2]int32 {
	unit := 1
	if packed {
		unit = 4
	}
	active := func(r int) bool {
		for _, g := range gate {
			for _, v := range g[r:min(r+unit, F)] {
				if v > 0 {
					return true
				}
			}
		}
		return false
	}
	for r := lo; r < F; {
		if !active(r) {
			r += unit
			continue
		}
		start := r
		for r < F && r-start < 64 && active(r) {
			r += unit
		}
		runs = append(runs, [2]int32{int32(start), int32(min(r, F))})
	}
	return runs
}

// reglu sets a = relu(gate)·up. Neurons with gate ≤ 0 get exactly 0 whatever
// up holds: their up rows were skipped (or computed for a packed group).
func reglu(a, gate, up []float32) {
	for r, g := range gate {
		if g > 0 {
			a[r] = g * up[r]
		} else {
			a[r] = 0
		}
	}
}

// expertJob views expert e of layer il in its pinned cache slot ex, or in
// the file mapping when ex is nil.
func (s *state) expertJob(il, e int, ex *experts.Expert) expertJob {
	j := expertJob{e: e}
	j.gate, j.up, j.down = s.m.expertMatrices(il, e, ex)
	return j
}

// gateUpTask computes, a chunk of neurons at a time, the gate rows of every
// job, then the up rows some token activates among them, then the ReGLU
// activations: a neuron's up row needs only its own gate, so one parallel
// pass does all three and no worker waits for the whole gate.
type gateUpTask struct {
	s    *state
	jobs []expertJob
	// Job i's neurons are rows [i·stride, i·stride+F) of the fused row
	// space (stride a multiple of 8, so chunk edges fall between pairs of
	// packed groups);
	// gx, gaux, ux, uaux are its activations for gate and up.
	gx, gaux  [][][]byte
	ux, uaux  [][][]byte
	upRows    [][8]int64 // per worker (padded to a cache line): up rows computed
	F, stride int
	unit      int
	runs      [][][2]int32 // per worker scratch
	rows      [][]int32    // per worker scratch
	buf       actBuf       // backing of gx, gaux, ux, uaux
	gate, up  [][]float32
	act       []*actRow
}

// runGateUp runs gate, the active up rows and ReGLU for every job.
func (s *state) runGateUp(jobs []expertJob) {
	c := s.m.Config
	F := c.ExpertFFN
	t := &s.gu
	threads := s.m.exec.Threads()
	t.s, t.jobs, t.F, t.stride = s, jobs, F, (F+7)&^7
	t.gx, t.gaux, t.ux, t.uaux = t.gx[:0], t.gaux[:0], t.ux[:0], t.uaux[:0]
	t.buf.reset()
	t.gate, t.up, t.act = s.js.gate, s.js.up, s.js.act
	for len(t.upRows) < threads {
		t.upRows = append(t.upRows, [8]int64{})
		t.runs = append(t.runs, nil)
		t.rows = append(t.rows, nil)
	}
	for w := range t.upRows {
		t.upRows[w][0] = 0
	}
	t.unit = 1
	gateBytes := 0
	for i := range jobs {
		j := &jobs[i]
		if j.gate.Packed || j.up.Packed {
			t.unit = 8 // a pair of packed groups
		}
		xs := s.gatherNorm(s.expTok[j.e])
		t.gx = append(t.gx, t.buf.forms(&j.gate, xs))
		t.gaux = append(t.gaux, t.buf.auxs(&j.gate, xs))
		t.ux = append(t.ux, t.buf.forms(&j.up, xs))
		t.uaux = append(t.uaux, t.buf.auxs(&j.up, xs))
		gateBytes += F * j.gate.RowBytes
	}
	n := len(jobs) * t.stride
	if n == 0 {
		return
	}
	// Chunks of about fusedChunkBytes of gate and (half the) up weights.
	per := max(1, jobs[0].gate.RowBytes+jobs[0].up.RowBytes/2)
	grain := max(8, fusedChunkBytes/per&^7) // whole pairs of packed groups
	s.m.exec.For(n/t.unit, max(1, grain/t.unit), t)
	s.weightBytes += int64(gateBytes)
	for w := range t.upRows {
		s.weightBytes += t.upRows[w][0] * int64(jobs[0].up.RowBytes)
	}
	t.jobs = nil
}

// Run takes items of unit rows each: rows [lo·unit, hi·unit) of the fused space.
func (t *gateUpTask) Run(worker, lo, hi int) {
	lo, hi = lo*t.unit, hi*t.unit
	for i := lo / t.stride; i < len(t.jobs) && i*t.stride < hi; i++ {
		j := &t.jobs[i]
		start := i * t.stride
		a := max(lo, start) - start
		b := min(hi, start+t.F) - start
		if a >= b {
			continue
		}
		n := len(t.s.expTok[j.e])
		gate, up := t.gate[j.row:j.row+n], t.up[j.row:j.row+n]
		gemmRows(&j.gate, t.gx[i], t.gaux[i], gate, a, b, false)
		if n == 1 && upRowsGather && !j.up.Packed && (j.up.Type == gguf.Q4_0 || j.up.Type == gguf.Q8_0) {
			// One token (decode): its active rows, scattered, in one call
			// that fetches the next rows while it computes these. (Only
			// for the types whose Gemv rounds as gemmRows does: float
			// weights take ggml's order there.)
			rows := slices.Grow(t.rows[worker][:0], b-a)[:b-a]
			k := 0
			for r, g := range gate[0][a:b] {
				// Branch-free (UCOMISS, SETHI): a test would
				// mispredict about half the time.
				rows[k] = int32(a + r)
				inc := 0
				if g > 0 {
					inc = 1
				}
				k += inc
			}
			rows = rows[:k]
			kernels.GemvRows(j.up.Type, j.up.Data, j.up.RowBytes, t.ux[i][0], j.up.Cols, rows, up[0])
			t.upRows[worker][0] += int64(len(rows))
			t.rows[worker] = rows
			// ReGLU over the list: reglu's test of every gate mispredicts
			// about half the time under random weights.
			act, g, u := t.act[j.row].f32, gate[0], up[0]
			clear(act[a:b])
			for _, r := range rows {
				act[r] = g[r] * u[r]
			}
			continue
		}
		runs := activeRuns(gate, a, b, j.up.Packed, t.runs[worker][:0])
		for _, r := range runs {
			gemmRows(&j.up, t.ux[i], t.uaux[i], up, int(r[0]), int(r[1]), false)
			t.upRows[worker][0] += int64(r[1] - r[0])
		}
		t.runs[worker] = runs
		for k := 0; k < n; k++ {
			reglu(t.act[j.row+k].f32[a:b], gate[k][a:b], up[k][a:b])
		}
	}
}

// upRowsGather lets a decode step's active up rows go to kernels.GemvRows;
// tests turn it off to compare with the general path.
var upRowsGather = true
