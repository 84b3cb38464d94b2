package inference

import (
	"math"
	"math/rand/v2"
	"sort"

	"smallthinker/inference/kernels"
)

// Sampler picks the next token from logits: repetition penalty, then
// temperature → top-k → top-p (the order the model authors use), then a
// draw from a seeded RNG. Greedy (or temperature ≤ 0) is argmax with the
// lowest id winning ties.
type Sampler struct {
	cfg    SamplerConfig
	rng    *rand.Rand
	cand   []candidate
	recent []int
}

type candidate struct {
	id int
	p  float32
}

// NewSampler makes a sampler; fields left zero take DefaultSampler's values.
func NewSampler(cfg SamplerConfig) *Sampler {
	def := DefaultSampler()
	if cfg.TopP <= 0 || cfg.TopP > 1 {
		cfg.TopP = def.TopP
	}
	if cfg.RepetitionPenalty <= 0 {
		cfg.RepetitionPenalty = 1
	}
	if cfg.RepetitionWindow <= 0 {
		cfg.RepetitionWindow = def.RepetitionWindow
	}
	if cfg.Temperature <= 0 {
		cfg.Greedy = true
	}
	return &Sampler{cfg: cfg, rng: rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15))}
}

// Accept records a token for the repetition penalty (prompt and generated).
func (s *Sampler) Accept(id int) {
	if len(s.recent) >= s.cfg.RepetitionWindow && len(s.recent) > 0 {
		copy(s.recent, s.recent[1:])
		s.recent = s.recent[:len(s.recent)-1]
	}
	s.recent = append(s.recent, id)
}

// Sample returns the next token id. logits may be modified.
func (s *Sampler) Sample(logits []float32) int {
	if pen := s.cfg.RepetitionPenalty; pen != 1 {
		for _, id := range s.recent {
			if id < len(logits) {
				if logits[id] > 0 {
					logits[id] /= pen
				} else {
					logits[id] *= pen
				}
			}
		}
	}
	if s.cfg.Greedy {
		return Argmax(logits)
	}
	inv := 1 / s.cfg.Temperature
	k := s.cfg.TopK
	if k <= 0 || k > len(logits) {
		k = len(logits)
	}
	// Keep the k largest logits (partial selection by sorting candidates).
	s.cand = s.cand[:0]
	for id, l := range logits {
		s.cand = append(s.cand, candidate{id, l * inv})
	}
	sort.Slice(s.cand, func(i, j int) bool {
		if s.cand[i].p != s.cand[j].p {
			return s.cand[i].p > s.cand[j].p
		}
		return s.cand[i].id < s.cand[j].id
	})
	c := s.cand[:k]
	maxL := c[0].p
	sum := 0.0
	for i := range c {
		c[i].p = float32(math.Exp(float64(c[i].p - maxL)))
		sum += float64(c[i].p)
	}
	// Top-p: the smallest prefix whose probability mass reaches TopP.
	cum, cut := 0.0, len(c)
	for i := range c {
		cum += float64(c[i].p) / sum
		if cum >= float64(s.cfg.TopP) {
			cut = i + 1
			break
		}
	}
	c = c[:cut]
	total := 0.0
	for _, x := range c {
		total += float64(x.p)
	}
	r := s.rng.Float64() * total
	for _, x := range c {
		r -= float64(x.p)
		if r <= 0 {
			return x.id
		}
	}
	return c[len(c)-1].id
}

// Argmax is the index of the largest value, the lowest index on ties (greedy decoding).
func Argmax(x []float32) int {
	// The vector max, then the first element equal to it: one pass of
	// compares instead of a dependent load per element (151936 logits).
	if m := kernels.MaxF32(x); m == m && len(x) > 0 {
		for i, v := range x {
			if v == m {
				return i
			}
		}
	}
	best := 0 // NaNs: the first element no later one exceeds
	for i, v := range x {
		if v > x[best] {
			best = i
		}
	}
	return best
}
