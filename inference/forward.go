package inference

import (
	"fmt"

	"smallthinker/weights/arch"
	"smallthinker/weights/experts"
	"smallthinker/weights/quant"
)

// state is the scratch memory of one session's forward pass, sized for a
// batch (ubatch) of up to B tokens. Nothing is allocated per token.
type state struct {
	m *Model
	B int

	x      [][]float32 // residual stream, B × D
	norm   []*actRow   // RMS-normed input (attention, then FFN), B × D
	rin    []*actRow   // router input: the raw layer input, B × D
	q      [][]float32 // B × QDim
	k, v   [][]float32 // B × KVDim
	att    []*actRow   // attention output, B × QDim
	proj   [][]float32 // attention projection, B × D
	rlog   [][]float32 // router logits, B × E
	sel    [][]int     // selected experts, B × topK
	selW   [][]float32 // their weights, B × topK
	moe    [][]float32 // MoE output accumulators, B × D
	gate   [][]float32 // per expert pass: B × F
	up     [][]float32 // B × F
	act    []*actRow   // relu(gate)*up, B × F
	down   [][]float32 // B × D
	scores [][]float32 // per worker attention scores, ctx
	rowBuf [][]float32 // per worker dequantized row (transposed down), D
	logits [][]float32 // B × Vocab (rows are filled on demand)

	// per-expert routing lists rebuilt each layer
	expTok   [][]int
	expW     [][]float32
	expSlot  [][]int     // routing slot of each of expTok's entries
	slotOut  [][]float32 // per token and slot: the weighted expert output (see addExpert)
	used     []int       // experts used by the batch, most used first
	guess    [][]float32
	guessSel []int
	guessW   []float32
	missing  []int // experts not in the cache when the FFN started
	pinned   []*experts.Expert
	jobs     []expertJob
	js       jobScratch
	fused    fusedTask
	gu       gateUpTask

	mm      matmulTask
	mr      runsTask
	runs    [][2]int32
	attT    attnTask
	tmpActs []*actRow

	// weightBytes counts the weight bytes the mat-muls read (rows ReGLU
	// or the sparse lm_head skip are not read): what decode streams from memory.
	weightBytes int64
	rope        [][]float32 // per token: RoPE cos/sin pairs at its position

	pred       *actRow   // sparse lm_head: W1·x
	predScores []float32 // sparse lm_head: W2·(W1·x)
	predIO     [][]float32
	predIn     []*actRow
}

func newState(m *Model, B, ctx int) *state {
	c := m.Config
	D, F, E := c.Embed, c.ExpertFFN, c.Experts
	mat := func(rows, cols int) [][]float32 {
		buf := make([]float32, rows*cols)
		r := make([][]float32, rows)
		for i := range r {
			r[i] = buf[i*cols : (i+1)*cols : (i+1)*cols]
		}
		return r
	}
	acts := func(rows, cols int) []*actRow {
		r := make([]*actRow, rows)
		for i := range r {
			r[i] = newActRow(cols)
		}
		return r
	}
	s := &state{m: m, B: B,
		x: mat(B, D), norm: acts(B, D), rin: acts(B, D),
		q: mat(B, c.QDim()), k: mat(B, c.KVDim()), v: mat(B, c.KVDim()),
		att: acts(B, c.QDim()), proj: mat(B, D), rlog: mat(B, E), rope: mat(B, c.HeadDim),
		selW: mat(B, c.ExpertsUsed), moe: mat(B, D),
		gate: mat(B, F), up: mat(B, F), act: acts(B, F), down: mat(B, D),
		scores: mat(m.exec.Threads(), ctx), rowBuf: mat(m.exec.Threads(), max(D, F)),
		expTok: make([][]int, E), expW: make([][]float32, E),
	}
	s.guess = mat(1, E)
	s.guessSel, s.guessW = make([]int, c.ExpertsUsed), make([]float32, c.ExpertsUsed)
	s.sel = make([][]int, B)
	for i := range s.sel {
		s.sel[i] = make([]int, c.ExpertsUsed)
	}
	for e := range s.expTok {
		s.expTok[e] = make([]int, 0, B)
		s.expW[e] = make([]float32, 0, B)
	}
	return s
}

// forward runs tokens (at most s.B) at positions kv.n, kv.n+1, ... through
// the model, appends their keys and values to kv, and computes the logits of
// the rows for which wantLogits(i) is true into s.logits[i].
func (s *state) forward(kv *kvCache, tokens []int, wantLogits func(i int) bool) error {
	m, c := s.m, s.m.Config
	m.execMu.RLock()
	defer m.execMu.RUnlock()
	if m.exec == nil {
		return errClosed
	}
	m.passes.Add(1)
	defer m.passes.Add(-1)
	for len(s.scores) < m.exec.Threads() { // the thread count may have grown since the state was made
		s.scores = append(s.scores, make([]float32, kv.ctx))
	}
	T := len(tokens)
	if T > s.B {
		return fmt.Errorf("batch of %d tokens exceeds the %d-token scratch", T, s.B)
	}
	if kv.n+T > kv.ctx {
		return ErrContextFull
	}
	pos0 := kv.n
	for t, id := range tokens {
		if id < 0 || id >= c.Vocab {
			return fmt.Errorf("token id %d out of range [0, %d)", id, c.Vocab)
		}
		if err := quant.DequantizeRow(m.embed.Type, m.embed.Row(id), s.x[t]); err != nil {
			return err
		}
		s.weightBytes += int64(m.embed.RowBytes)
	}
	for t := 0; t < T; t++ {
		ropeAngles(s.rope[t], c.HeadDim, pos0+t, c.RopeTheta)
	}
	cache := m.cache.Load()
	for il := range m.layers {
		l := &m.layers[il]
		// Router first, on the raw layer input (SmallThinker's pre-attention router):
		// this is where an expert prefetch can start while attention runs.
		for t := 0; t < T; t++ {
			copy(s.rin[t].f32, s.x[t])
			s.rin[t].invalidate()
			rmsNorm(s.norm[t].f32, s.x[t], l.attnNorm, c.RMSEps)
			s.norm[t].invalidate()
		}
		// The router and Q, K, V share one parallel pass (each pass costs a
		// wake-up and a wait for the slowest worker).
		s.fused.reset(T > 1)
		s.fused.add(&l.router, s.rin[:T], s.rlog[:T], 0, l.router.Rows)
		s.fused.add(&l.q, s.norm[:T], s.q[:T], 0, l.q.Rows)
		s.fused.add(&l.k, s.norm[:T], s.k[:T], 0, l.k.Rows) // K and V may take another activation type than Q (Q4_K_M: Q4_K q, Q8_0 k)
		s.fused.add(&l.v, s.norm[:T], s.v[:T], 0, l.v.Rows)
		s.runFused()
		for t := 0; t < T; t++ {
			route(c, s.rlog[t], s.sel[t], s.selW[t])
		}
		s.groupByExpert(T)
		if cache != nil && m.prefetch {
			// The router ran before attention: fetch the missing experts from
			// the SSD while attention computes.
			cache.Prefetch(il, s.used[:min(len(s.used), max(0, cache.Stats().Capacity-c.ExpertsUsed))])
		}

		// Attention.
		kl := &kv.layers[il]
		for t := 0; t < T; t++ {
			if c.UsesRoPE(il) {
				ropeNeox(s.q[t], c.HeadDim, s.rope[t])
				ropeNeox(s.k[t], c.HeadDim, s.rope[t])
			}
			kl.store(pos0+t, c.KVDim(), s.k[t], s.v[t])
		}
		s.attention(kl, pos0, T, c.Window(il))
		s.matmul(&l.o, s.att[:T], s.proj[:T])
		for t := 0; t < T; t++ {
			axpy(1, s.proj[t], s.x[t])
			rmsNorm(s.norm[t].f32, s.x[t], l.ffnNorm, c.RMSEps)
			s.norm[t].invalidate()
			clear(s.moe[t])
		}
		if cache != nil && m.lookAhead && il+1 < len(m.layers) && T == 1 {
			s.lookAhead(il+1, cache)
		}

		// Mixture of ReGLU experts, expert by expert so each expert's weights are read once per batch.
		if err := s.runExperts(il, cache); err != nil {
			return err
		}
		s.sumSlots(T)
		for t := 0; t < T; t++ {
			axpy(1, s.moe[t], s.x[t])
		}
	}
	kv.n += T

	// Final norm and lm_head for the rows that need logits.
	n := 0
	for t := 0; t < T; t++ {
		if wantLogits(t) {
			rmsNorm(s.norm[n].f32, s.x[t], m.outputNorm, c.RMSEps)
			s.norm[n].invalidate()
			n++
		}
	}
	s.ensureLogits(T)
	if n == 1 && m.headPredictor != nil && m.sparseHead {
		s.sparseLogits(m.headPredictor, s.logits[0])
	} else {
		s.matmul(&m.output, s.norm[:n], s.logits[:n])
	}
	// Move rows to their token index (logits of row t end up in s.logits[t]).
	for t := T - 1; t >= 0 && n > 0; t-- {
		if wantLogits(t) {
			n--
			if n != t {
				copy(s.logits[t], s.logits[n])
			}
		}
	}
	return nil
}

// ensureLogits makes room for n rows of logits; most batches need one row,
// so the (vocabulary-sized) rows are allocated only when asked for.
func (s *state) ensureLogits(n int) {
	for len(s.logits) < n {
		s.logits = append(s.logits, make([]float32, s.m.Config.Vocab))
	}
}

// route turns router logits into the top-k experts and their normalised
// weights, rounding as the reference does (see ggmlorder.go): ggml's sigmoid
// or soft_max, ggml_top_k (sel in its order: the slot order of the expert sum),
// the weights' sum in float64, the clamp, and the division.
func route(c *arch.Config, logits []float32, sel []int, w []float32) {
	probs := logits // reuse in place: logits are not needed afterwards
	if c.Gating == arch.GatingSoftmax {
		softmaxRow(probs)
	} else {
		for i, v := range probs {
			probs[i] = sigmoidGGML(v)
		}
	}
	var buf [256]int
	idx := buf[:0]
	if len(probs) > len(buf) {
		idx = make([]int, len(probs))
	} else {
		idx = buf[:len(probs)]
	}
	topKGGML(probs, sel, idx)
	for j, e := range sel {
		w[j] = probs[e]
	}
	sum := max(sumRowsGGML(w), 6.103515625e-5)
	for j := range w {
		w[j] /= sum
	}
}

// matmul computes out[t] = W · xs[t] for every row of W, converting each
// activation once into the form W's type consumes.
func (s *state) matmul(W *Matrix, xs []*actRow, out [][]float32) {
	s.matmulAs(W, xs, out, len(xs) > 1)
}

// matmulAs is matmul; sgemm picks the reference's float order for float
// weights: tinyBLAS (a mul_mat over 2+ rows) or vec_dot (one row, and
// every expert's mul_mat_id); see gemvGGML.
func (s *state) matmulAs(W *Matrix, xs []*actRow, out [][]float32, sgemm bool) {
	if len(xs) == 0 {
		return
	}
	t := &s.mm
	t.W, t.out, t.sgemm = W, out, sgemm
	t.buf.reset()
	t.xb, t.aux = t.buf.forms(W, xs), t.buf.auxs(W, xs)
	s.weightBytes += int64(W.Bytes())
	// Chunks of about fusedChunkBytes, as in runFused: long enough streams,
	// and short enough that the workers finish together (the lm_head, 131
	// MB in the 4B, made 16 chunks of 8 MB before, and a worker could wait
	// half a millisecond for the other's last one). Items of 8 rows (the
	// pool cuts items into equal chunks): a pair of packed groups is never
	// split between workers.
	s.m.exec.For((W.Rows+7)/8, max(1, fusedChunkBytes/max(W.RowBytes, 1)/8), t)
	t.W, t.out = nil, nil
}

type matmulTask struct {
	W     *Matrix
	sgemm bool
	buf   actBuf
	xb    [][]byte
	aux   [][]byte // Q8_0Aux of each activation, for a packed W
	out   [][]float32
}

// Run computes rows [lo, hi) for every activation; Gemm tiles the rows so
// they stay in cache while the activations pass over them, and shares each
// weight block's unpacking between four activations.
func (t *matmulTask) Run(_, lo, hi int) {
	gemmRows(t.W, t.xb, t.aux, t.out, 8*lo, min(8*hi, t.W.Rows), t.sgemm)
}

// runExpert applies ReGLU expert e of layer l to the given tokens and adds the
// weighted result to their MoE accumulators.
func (s *state) runExpert(gate, up, down Matrix, toks []int, w []float32, slots []int) {
	c := s.m.Config
	D, F := c.Embed, c.ExpertFFN
	xs := s.gatherNorm(toks)
	s.matmulAs(&gate, xs, s.gate[:len(toks)], false)
	// ReGLU sparsity: relu(gate) is zero for many neurons, and their up rows
	// cannot change the output; compute only rows some token activates.
	s.runs = activeRuns(s.gate[:len(toks)], 0, F, up.Packed, s.runs[:0])
	s.matmulRuns(&up, xs, s.up[:len(toks)], s.runs)
	for j := range toks {
		reglu(s.act[j].f32, s.gate[j][:F], s.up[j])
		s.act[j].invalidate()
	}
	if c.DownTransposed {
		// Row n of the transposed down matrix is column n of the original:
		// out = Σ_n act_n · row_n, the authors' engine's sparse formulation.
		for j, tok := range toks {
			out := s.down[j]
			clear(out)
			row := s.rowBuf[0][:D]
			for n := 0; n < F; n++ {
				a := s.act[j].f32[n]
				if a == 0 {
					continue
				}
				quant.DequantizeRow(down.Type, down.Row(n), row)
				s.weightBytes += int64(down.RowBytes)
				axpy(a, row, out)
			}
			s.addExpert(tok, slots[j], w[j], out)
		}
		return
	}
	s.matmulAs(&down, s.act[:len(toks)], s.down[:len(toks)], false)
	for j, tok := range toks {
		s.addExpert(tok, slots[j], w[j], s.down[j])
	}
}

// matmulRuns is matmul restricted to the row ranges in runs.
func (s *state) matmulRuns(W *Matrix, xs []*actRow, out [][]float32, runs [][2]int32) {
	if len(xs) == 0 || len(runs) == 0 {
		return
	}
	t := &s.mr
	t.W, t.runs, t.out = W, runs, out
	t.buf.reset()
	t.xb, t.aux = t.buf.forms(W, xs), t.buf.auxs(W, xs)
	for _, r := range runs {
		s.weightBytes += int64(r[1]-r[0]) * int64(W.RowBytes)
	}
	s.m.exec.For(len(runs), max(1, len(runs)/(8*s.m.exec.Threads())), t) // a few chunks per worker: runs can be a row or two each
	t.W, t.out, t.runs = nil, nil, nil
}

type runsTask struct {
	W    *Matrix
	runs [][2]int32 // whole groups of four rows for a packed W
	buf  actBuf
	xb   [][]byte
	aux  [][]byte
	out  [][]float32
}

func (t *runsTask) Run(_, lo, hi int) {
	for _, r := range t.runs[lo:hi] {
		gemmRows(t.W, t.xb, t.aux, t.out, int(r[0]), int(r[1]), false)
	}
}

// gatherNorm returns the normed FFN inputs of the given tokens (a reused slice).
func (s *state) gatherNorm(toks []int) []*actRow {
	out := s.tmpActs[:0]
	for _, t := range toks {
		out = append(out, s.norm[t])
	}
	s.tmpActs = out
	return out
}

// slice views rows [r0, r0+n) of m.
func (m *Matrix) slice(r0, n int) Matrix {
	return Matrix{Type: m.Type, Rows: n, Cols: m.Cols, RowBytes: m.RowBytes, Data: m.Data[r0*m.RowBytes : (r0+n)*m.RowBytes]}
}

// groupByExpert builds, for the batch's routing, each expert's token list and
// weights, and s.used: the experts used by any token, most used first.
func (s *state) groupByExpert(T int) {
	if s.expSlot == nil {
		s.expSlot = make([][]int, len(s.expTok))
	}
	for e := range s.expTok {
		s.expTok[e], s.expW[e], s.expSlot[e] = s.expTok[e][:0], s.expW[e][:0], s.expSlot[e][:0]
	}
	for t := 0; t < T; t++ {
		for j, e := range s.sel[t] {
			s.expTok[e] = append(s.expTok[e], t)
			s.expW[e] = append(s.expW[e], s.selW[t][j])
			s.expSlot[e] = append(s.expSlot[e], j)
		}
	}
	s.used = s.used[:0]
	for e, toks := range s.expTok {
		if len(toks) > 0 {
			s.used = append(s.used, e)
		}
	}
	// Insertion sort by use count (E is small), stable on expert index.
	for i := 1; i < len(s.used); i++ {
		for j := i; j > 0 && len(s.expTok[s.used[j]]) > len(s.expTok[s.used[j-1]]); j-- {
			s.used[j], s.used[j-1] = s.used[j-1], s.used[j]
		}
	}
}

// runExperts runs every used expert of layer il on its tokens. With an expert cache,
// experts already in memory run first, then the rest as their reads land.
func (s *state) runExperts(il int, cache *experts.Cache) error {
	if s.m.Config.DownTransposed {
		return s.runExpertsOneByOne(il, cache)
	}
	s.jobs = s.jobs[:0]
	if cache == nil {
		s.m.packMappedExperts(il, s.used)
		for _, e := range s.used {
			s.jobs = append(s.jobs, s.expertJob(il, e, nil))
		}
		s.runJobs(s.jobs)
		return nil
	}
	// Experts already in memory run together first, then the rest as their reads land.
	s.missing, s.pinned = s.missing[:0], s.pinned[:0]
	for _, e := range s.used {
		ex, ok := cache.TryAcquire(il, e)
		if !ok {
			s.missing = append(s.missing, e)
			continue
		}
		s.pinned = append(s.pinned, ex)
		s.jobs = append(s.jobs, s.expertJob(il, e, ex))
	}
	s.runJobs(s.jobs)
	for _, ex := range s.pinned {
		cache.Release(ex)
	}
	for _, e := range s.missing {
		ex, err := cache.Acquire(il, e)
		if err != nil {
			return fmt.Errorf("layer %d expert %d: %w", il, e, err)
		}
		s.jobs = append(s.jobs[:0], s.expertJob(il, e, ex))
		s.runJobs(s.jobs)
		cache.Release(ex)
	}
	return nil
}

// runExpertsOneByOne is runExperts for the transposed down layout, whose
// down projection is a sparse sum of rows rather than a mat-vec.
func (s *state) runExpertsOneByOne(il int, cache *experts.Cache) error {
	if cache == nil {
		s.m.packMappedExperts(il, s.used)
		for _, e := range s.used {
			s.runExpertIn(il, e, nil)
		}
		return nil
	}
	s.missing = s.missing[:0]
	for _, e := range s.used {
		ex, ok := cache.TryAcquire(il, e)
		if !ok {
			s.missing = append(s.missing, e)
			continue
		}
		s.runExpertIn(il, e, ex)
		cache.Release(ex)
	}
	for _, e := range s.missing {
		ex, err := cache.Acquire(il, e)
		if err != nil {
			return fmt.Errorf("layer %d expert %d: %w", il, e, err)
		}
		s.runExpertIn(il, e, ex)
		cache.Release(ex)
	}
	return nil
}

// runExpertIn runs expert e of layer il from its cache slot ex (nil: the mapping).
func (s *state) runExpertIn(il, e int, ex *experts.Expert) {
	gate, up, down := s.m.expertMatrices(il, e, ex)
	s.runExpert(gate, up, down, s.expTok[e], s.expW[e], s.expSlot[e])
}

// lookAhead guesses the next layer's experts from the residual stream after
// this layer's attention (the next router reads it after this layer's MoE adds
// to it) and prefetches them, giving the reads this layer's MoE time too.
// Only a guess: the real routing of the next layer decides what is used.
func (s *state) lookAhead(next int, cache *experts.Cache) {
	c := s.m.Config
	copy(s.rin[0].f32, s.x[0])
	s.rin[0].invalidate()
	s.matmul(&s.m.layers[next].router, s.rin[:1], s.guess[:1])
	route(c, s.guess[0], s.guessSel, s.guessW)
	cache.Prefetch(next, s.guessSel)
}
