package inference

import (
	"math"

	"smallthinker/inference/kernels"
)

// attention computes softmax(q·k/√d)·v for every token and head of the batch,
// in the reference's float order (see ggmlorder.go): scores by
// ggml_vec_dot_f32, softmax by ggml_soft_max over cells aligned to position 0,
// and the weighted sum of values as the reference's mul_mat of the transposed
// V cache with the scores: tinyBLAS for a batch of 2+ tokens, ggml_vec_dot_f32
// for a single token. Over an F16 cache it takes the F16 kernels' own order
// (runF16).
func (s *state) attention(kl *kvLayer, pos0, T, window int) {
	c := s.m.Config
	t := &s.attT
	t.s, t.kl, t.pos0, t.window, t.sgemm = s, kl, pos0, window, T > 1
	threads := s.m.exec.Threads()
	if len(t.acc) < threads {
		t.acc = make([][]float32, threads)
		t.sc = make([][]float32, threads)
	}
	// A work item is one token's KV head with some of the query heads that
	// share it, so that each K and V row is read once for all of them; the
	// group is split only when there would be fewer items than threads.
	group := c.Heads / c.KVHeads
	t.parts = min(group, max(1, (threads+T*c.KVHeads-1)/(T*c.KVHeads)))
	s.m.exec.For(T*c.KVHeads*t.parts, 1, t)
	// Workers write different heads of the same rows: mark the rows changed
	// here, once, not from every worker (that would be a data race).
	for tok := 0; tok < T; tok++ {
		s.att[tok].invalidate()
	}
}

// attnLaneRows is the number of rows per accumulator lane in one
// AttnAccumHeads call: the kernel takes a lane's rows through all heads in
// turn, and eight rows of a 128-wide head (4 KiB) stay in L1 meanwhile.
// Fewer rows per call add accumulator loads and stores; more (64 for 8
// lanes) measured slower.
const attnLaneRows = 8

type attnTask struct {
	s      *state
	kl     *kvLayer
	pos0   int
	window int
	sgemm  bool
	parts  int // items per token and KV head
	// acc[worker] holds, per head of an item, the 32 (vec_dot) or 8
	// (tinyBLAS) lane accumulators of the weighted value sum, each HeadDim
	// long; sc[worker] the heads' scores, a context length each.
	acc, sc [][]float32
}

func (t *attnTask) Run(worker, lo, hi int) {
	c := t.s.m.Config
	d := c.HeadDim
	group := c.Heads / c.KVHeads
	scale := 1 / float32(math.Sqrt(float64(d)))
	lanes := 32
	if t.sgemm {
		lanes = 8
	}
	maxHeads := (group + t.parts - 1) / t.parts
	ctx := len(t.s.scores[worker])
	if len(t.acc[worker]) < maxHeads*32*d || len(t.sc[worker]) < maxHeads*ctx {
		t.acc[worker] = make([]float32, maxHeads*32*d)
		t.sc[worker] = make([]float32, maxHeads*ctx)
	}
	kl := t.kl
	for i := lo; i < hi; i++ {
		tok, kvh, part := i/(c.KVHeads*t.parts), i/t.parts%c.KVHeads, i%t.parts
		h0 := kvh*group + part*group/t.parts
		nh := kvh*group + (part+1)*group/t.parts - h0
		qpos := t.pos0 + tok
		first := 0
		if t.window > 0 {
			first = max(0, qpos-t.window+1)
		}
		n := qpos - first + 1
		q := t.s.q[tok]
		sc := t.sc[worker]
		if kl.k16 != nil {
			t.runF16(tok, kvh, h0, nh, first, qpos, sc, ctx)
			continue
		}
		// Positions first..qpos sit in at most two runs of consecutive slots
		// (a ring wraps once); each run is one kernel call for all nh heads,
		// which reads each K row once for them.
		for p := first; p <= qpos; {
			s := kl.slot(p)
			m := min(qpos+1-p, kl.slots-s)
			kernels.AttnScoresHeads(q[h0*d:(h0+nh)*d], nh, d, kl.k[kl.at(kvh, s):], d, scale, sc[p-first:], ctx, m)
			p += m
		}
		for j := 0; j < nh; j++ {
			x := sc[j*ctx : j*ctx+n]
			softmaxExp(x, first, kernels.MaxF32(x))
		}
		acc := t.acc[worker][:nh*lanes*d]
		clear(acc)
		for b := first; b <= qpos; b += attnLaneRows * lanes {
			e := min(b+attnLaneRows*lanes, qpos+1)
			for p := b; p < e; {
				s := kl.slot(p)
				m := min(e-p, kl.slots-s)
				kernels.AttnAccumHeads(acc, nh, d, lanes, p%lanes, sc[p-first:], ctx, m, kl.v[kl.at(kvh, s):], d)
				p += m
			}
		}
		for j := 0; j < nh; j++ {
			h := h0 + j
			kernels.AttnReduce(t.s.att[tok].f32[h*d:(h+1)*d], acc[j*lanes*d:(j+1)*lanes*d], lanes)
		}
	}
}

// runF16 is Run's item over an F16 cache: the same walk over at most two
// runs of slots, with the F16 kernels' order (there is no reference order
// to keep: the golden files were made with an F32 cache), and the weighted
// value sums going straight into the attention output.
func (t *attnTask) runF16(tok, kvh, h0, nh, first, qpos int, sc []float32, ctx int) {
	kl, d := t.kl, t.s.m.Config.HeadDim
	q := t.s.q[tok][h0*d : (h0+nh)*d]
	scale := 1 / float32(math.Sqrt(float64(d)))
	for p := first; p <= qpos; {
		s := kl.slot(p)
		m := min(qpos+1-p, kl.slots-s)
		var pf []uint16
		if attnPrefetchV {
			pf = kl.v16[kl.at(kvh, s):] // the V rows, fetched meanwhile
		}
		kernels.AttnScoresHeadsF16(q, nh, d, kl.k16[kl.at(kvh, s):], d, scale, sc[p-first:], ctx, m, pf)
		p += m
	}
	n := qpos - first + 1
	for j := 0; j < nh; j++ {
		x := sc[j*ctx : j*ctx+n]
		softmaxExp(x, first, kernels.MaxF32(x))
	}
	out := t.s.att[tok].f32[h0*d : (h0+nh)*d]
	clear(out)
	for p := first; p <= qpos; {
		s := kl.slot(p)
		m := min(qpos+1-p, kl.slots-s)
		kernels.AttnAccumHeadsF16(out, nh, d, sc[p-first:], ctx, m, kl.v16[kl.at(kvh, s):], d)
		p += m
	}
}

// attnPrefetchV has the F16 scores kernel prefetch the V rows it will need
// next; benchmarks turn it off to compare.
var attnPrefetchV = true

// ropeAngles fills cs with the cosines (cs[i]) and sines (cs[half+i]) of
// pair i's angle at position pos, computed the way ggml does: theta starts
// at pos and is multiplied by base^(-2/d) in float32 for each pair;
// cosf/sinf are glibc's (libmf.go). A token's table serves its Q and K in
// every layer.
func ropeAngles(cs []float32, headDim, pos int, base float32) {
	half := headDim / 2
	thetaScale := float32(math.Pow(float64(base), -2.0/float64(headDim)))
	theta := float32(pos)
	for i := 0; i < half; i++ {
		cs[half+i], cs[i] = sincosfGlibc(theta)
		theta *= thetaScale
	}
}

// ropeNeox rotates each head of x in place (GGML_ROPE_TYPE_NEOX: pairs (i,
// i+d/2)) by the angles ropeAngles computed, in ggml's rounding (see
// kernels.RopeNeox).
func ropeNeox(x []float32, headDim int, cs []float32) {
	half := headDim / 2
	kernels.RopeNeox(x, headDim, cs[:half], cs[half:2*half])
}
