package inference

import (
	"fmt"
	"math"

	"smallthinker/weights/gguf"
)

// sparseHead is the authors' sparse lm_head predictor (spec §6.5), stored as
// lm_head_profiler.weight: W1 (hp rows of n_embd) then W2 (n_vocab rows of
// hp), back to back. For one output row it scores every vocabulary row with
// the cheap low-rank product W2·(W1·x) and computes the real logit only for
// rows scoring > 0. It is lossy, so it is opt-in (LoadOptions.SparseLMHead).
type sparseHead struct {
	w1, w2 Matrix
	hp     int
}

const profilerTensor = "lm_head_profiler.weight"

// loadSparseHead maps the predictor if the file has one.
func loadSparseHead(f *gguf.File, embed, vocab int) (*sparseHead, error) {
	t, ok := f.Tensor(profilerTensor)
	if !ok {
		return nil, nil
	}
	n := int(t.Elements())
	if n%(embed+vocab) != 0 {
		return nil, fmt.Errorf("%s has %d elements, not a multiple of n_embd+n_vocab = %d", profilerTensor, n, embed+vocab)
	}
	hp := n / (embed + vocab)
	if hp%t.Type.BlockSize() != 0 || embed%t.Type.BlockSize() != 0 {
		return nil, fmt.Errorf("%s: rank %d does not fit %s blocks", profilerTensor, hp, t.Type)
	}
	data, err := f.TensorData(t)
	if err != nil {
		return nil, err
	}
	w1, err := newMatrix(t.Type, hp, embed, data)
	if err != nil {
		return nil, err
	}
	off := w1.Bytes()
	w2, err := newMatrix(t.Type, vocab, hp, data[off:])
	if err != nil {
		return nil, err
	}
	return &sparseHead{w1: w1, w2: w2, hp: hp}, nil
}

// HasSparseHead reports whether the file carries the sparse lm_head predictor.
func (m *Model) HasSparseHead() bool { return m.headPredictor != nil }

// sparseLogits computes logits for the single normed row x (s.norm[0]):
// rows the predictor rejects get -Inf, so they are never sampled (the
// reference engine writes 0 there, which can win when every real logit is
// negative).
func (s *state) sparseLogits(h *sparseHead, out []float32) {
	m := s.m
	if s.pred == nil {
		s.pred = newActRow(h.hp)
		s.predScores = make([]float32, m.Config.Vocab)
		s.predIO = [][]float32{s.pred.f32, s.predScores, nil}
		s.predIn = []*actRow{s.pred}
	}
	s.matmul(&h.w1, s.norm[:1], s.predIO[0:1])
	s.pred.invalidate()
	s.matmul(&h.w2, s.predIn, s.predIO[1:2])
	s.predIO[2] = out
	// Packed rows come in groups of four: a group is computed when any of
	// its rows is predicted, and the others are masked again below.
	unit := 1
	if m.output.Packed {
		unit = 4
	}
	wanted := func(v int) bool {
		for _, sc := range s.predScores[v:min(v+unit, len(s.predScores))] {
			if sc > 0 {
				return true
			}
		}
		return false
	}
	s.runs = s.runs[:0]
	for v := 0; v < len(s.predScores); {
		if !wanted(v) {
			v += unit
			continue
		}
		start := v
		for v < len(s.predScores) && v-start < 256 && wanted(v) {
			v += unit
		}
		s.runs = append(s.runs, [2]int32{int32(start), int32(min(v, len(s.predScores)))})
	}
	s.matmulRuns(&m.output, s.norm[:1], s.predIO[2:3], s.runs)
	for v, sc := range s.predScores {
		if sc <= 0 {
			out[v] = float32(math.Inf(-1))
		}
	}
}
