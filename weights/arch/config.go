// Package arch knows the SmallThinker architecture's GGUF schema: the
// hyperparameter keys, the layer layout rules and the tensors (names and
// shapes) a file must contain. The loader, the validator and the
// random-model generator all use it, so they cannot disagree.
package arch

import (
	"errors"
	"fmt"

	"smallthinker/weights/gguf"
)

// Name is general.architecture for SmallThinker files.
const Name = "smallthinker"

// SlidingWindow is the window llama.cpp forces for SWA layers, whatever the file stores.
const SlidingWindow = 4096

// Gating selects how router logits become expert weights.
type Gating int

const (
	GatingSigmoid Gating = 2 // sigmoid of the selected logits, renormalised (released models)
	GatingSoftmax Gating = 1 // softmax over the selected logits
)

func (g Gating) String() string {
	if g == GatingSoftmax {
		return "softmax"
	}
	return "sigmoid"
}

// Config holds a SmallThinker model's hyperparameters as read from GGUF.
type Config struct {
	Layers      int
	Embed       int // hidden size
	Heads       int
	KVHeads     int
	HeadDim     int // attention.key_length (never Embed/Heads)
	ValueDim    int
	Experts     int
	ExpertsUsed int
	ExpertFFN   int
	Vocab       int // rows of token_embd
	Context     int // training context length
	RopeTheta   float32
	RMSEps      float32
	Gating      Gating
	// SlidingWindow > 0: layers with index%4 != 0 use a window of this size and RoPE;
	// layers with index%4 == 0 are global and NoPE. 0: every layer is global with RoPE.
	SlidingWindow int
	TiedEmbedding bool // no output.weight: lm_head reuses token_embd
	// DownTransposed: ffn_down_exps is stored [n_embd, ffn, E] (the authors' fork layout)
	// instead of [ffn, n_embd, E].
	DownTransposed bool
}

// UsesRoPE reports whether layer il rotates Q and K.
func (c *Config) UsesRoPE(il int) bool { return c.SlidingWindow == 0 || il%4 != 0 }

// Window returns the attention window of layer il (0 = unlimited).
func (c *Config) Window(il int) int {
	if c.SlidingWindow > 0 && il%4 != 0 {
		return c.SlidingWindow
	}
	return 0
}

// QDim is the width of the query projection (heads × head_dim).
func (c *Config) QDim() int { return c.Heads * c.HeadDim }

// KVDim is the width of the key/value projections.
func (c *Config) KVDim() int { return c.KVHeads * c.HeadDim }

// ErrArchitecture reports a file that is not a SmallThinker model.
var ErrArchitecture = errors.New("not a SmallThinker model")

// ReadConfig reads and validates the hyperparameters of a SmallThinker GGUF.
func ReadConfig(f *gguf.File) (*Config, error) {
	a, err := f.String("general.architecture")
	if err != nil {
		return nil, err
	}
	if a != Name {
		return nil, fmt.Errorf("%w: general.architecture is %q, want %q", ErrArchitecture, a, Name)
	}
	c := &Config{}
	var errs []error
	get := func(dst *int, key string, required bool, def int) {
		v, err := f.Uint32(Name + "." + key)
		switch {
		case err == nil:
			*dst = int(v)
		case !required && errors.Is(err, gguf.ErrMissing):
			*dst = def
		default:
			errs = append(errs, err)
		}
	}
	get(&c.Layers, "block_count", true, 0)
	get(&c.Embed, "embedding_length", true, 0)
	get(&c.Heads, "attention.head_count", true, 0)
	get(&c.KVHeads, "attention.head_count_kv", false, -1)
	get(&c.Experts, "expert_count", true, 0)
	get(&c.ExpertsUsed, "expert_used_count", true, 0)
	get(&c.ExpertFFN, "expert_feed_forward_length", false, -1)
	get(&c.Context, "context_length", false, 4096)
	get(&c.HeadDim, "attention.key_length", false, -1)
	get(&c.ValueDim, "attention.value_length", false, -1)
	get(&c.SlidingWindow, "attention.sliding_window", false, 0)
	g := 0
	get(&g, "expert_gating_func", false, int(GatingSigmoid))
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	if c.KVHeads < 0 {
		c.KVHeads = c.Heads
	}
	if c.ExpertFFN < 0 {
		get(&c.ExpertFFN, "feed_forward_length", true, 0)
		if len(errs) > 0 {
			return nil, errors.Join(errs...)
		}
	}
	if c.Heads > 0 && c.HeadDim < 0 {
		c.HeadDim = c.Embed / c.Heads
	}
	if c.ValueDim < 0 {
		c.ValueDim = c.HeadDim
	}
	switch Gating(g) {
	case GatingSigmoid, GatingSoftmax:
		c.Gating = Gating(g)
	default:
		return nil, fmt.Errorf("%s.expert_gating_func = %d: only 1 (softmax) and 2 (sigmoid) are supported", Name, g)
	}
	if c.SlidingWindow > 0 {
		c.SlidingWindow = SlidingWindow // llama.cpp ignores the stored size
	}
	c.RopeTheta = 10000
	if v, err := f.Float32(Name + ".rope.freq_base"); err == nil {
		c.RopeTheta = v
	} else if !errors.Is(err, gguf.ErrMissing) {
		return nil, err
	}
	c.RMSEps = 1e-6
	if v, err := f.Float32(Name + ".attention.layer_norm_rms_epsilon"); err == nil {
		c.RMSEps = v
	} else if !errors.Is(err, gguf.ErrMissing) {
		return nil, err
	}
	if err := c.check(); err != nil {
		return nil, err
	}
	emb, ok := f.Tensor("token_embd.weight")
	if !ok {
		return nil, fmt.Errorf("tensor token_embd.weight is missing")
	}
	c.Vocab = int(emb.Dim(1))
	_, hasOutput := f.Tensor("output.weight")
	c.TiedEmbedding = !hasOutput
	if down, ok := f.Tensor("blk.0.ffn_down_exps.weight"); ok {
		c.DownTransposed = int(down.Dim(0)) == c.Embed && int(down.Dim(1)) == c.ExpertFFN
	}
	return c, nil
}

func (c *Config) check() error {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("invalid SmallThinker hyperparameters: "+format, a...)
	}
	const big = 1 << 20
	switch {
	case c.Layers <= 0 || c.Layers > 1024:
		return bad("block_count %d", c.Layers)
	case c.Embed <= 0 || c.Embed > big:
		return bad("embedding_length %d", c.Embed)
	case c.Heads <= 0 || c.Heads > 4096:
		return bad("attention.head_count %d", c.Heads)
	case c.KVHeads <= 0 || c.Heads%c.KVHeads != 0:
		return bad("attention.head_count_kv %d must divide head_count %d", c.KVHeads, c.Heads)
	case c.HeadDim <= 0 || c.HeadDim%2 != 0 || c.HeadDim > 4096:
		return bad("attention.key_length %d", c.HeadDim)
	case c.ValueDim != c.HeadDim:
		return bad("attention.value_length %d differs from key_length %d", c.ValueDim, c.HeadDim)
	case c.Experts <= 0 || c.Experts > 4096:
		return bad("expert_count %d", c.Experts)
	case c.ExpertsUsed <= 0 || c.ExpertsUsed > c.Experts:
		return bad("expert_used_count %d (expert_count %d)", c.ExpertsUsed, c.Experts)
	case c.ExpertFFN <= 0 || c.ExpertFFN > big:
		return bad("expert_feed_forward_length %d", c.ExpertFFN)
	case c.Context <= 0:
		return bad("context_length %d", c.Context)
	}
	return nil
}
