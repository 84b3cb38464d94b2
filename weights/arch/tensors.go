package arch

import (
	"fmt"

	"smallthinker/weights/gguf"
)

// TensorSpec is a tensor the architecture expects: name, shape (ne order) and
// whether it may be absent.
type TensorSpec struct {
	Name     string
	Dims     []uint64
	Optional bool
}

// Tensors lists every tensor of a SmallThinker file with this config, in the
// order llama.cpp's converter writes them. withOutput adds output.weight.
func (c *Config) Tensors(withOutput bool) []TensorSpec {
	u := func(x ...int) []uint64 {
		r := make([]uint64, len(x))
		for i, v := range x {
			r[i] = uint64(v)
		}
		return r
	}
	D, F, E := c.Embed, c.ExpertFFN, c.Experts
	ts := []TensorSpec{
		{Name: "token_embd.weight", Dims: u(D, c.Vocab)},
		{Name: "output_norm.weight", Dims: u(D)},
	}
	if withOutput {
		ts = append(ts, TensorSpec{Name: "output.weight", Dims: u(D, c.Vocab)})
	}
	down := u(F, D, E)
	if c.DownTransposed {
		down = u(D, F, E)
	}
	for il := 0; il < c.Layers; il++ {
		p := fmt.Sprintf("blk.%d.", il)
		ts = append(ts,
			TensorSpec{Name: p + "attn_norm.weight", Dims: u(D)},
			TensorSpec{Name: p + "attn_q.weight", Dims: u(D, c.QDim())},
			TensorSpec{Name: p + "attn_k.weight", Dims: u(D, c.KVDim())},
			TensorSpec{Name: p + "attn_v.weight", Dims: u(D, c.KVDim())},
			TensorSpec{Name: p + "attn_output.weight", Dims: u(c.QDim(), D)},
			TensorSpec{Name: p + "ffn_norm.weight", Dims: u(D)},
			TensorSpec{Name: p + "ffn_gate_inp.weight", Dims: u(D, E)},
			TensorSpec{Name: p + "ffn_gate_exps.weight", Dims: u(D, F, E)},
			TensorSpec{Name: p + "ffn_up_exps.weight", Dims: u(D, F, E)},
			TensorSpec{Name: p + "ffn_down_exps.weight", Dims: down},
		)
	}
	return ts
}

// Validate checks that f holds every tensor this config needs with the right
// shape, without reading any weights. It names the first problem found.
func (c *Config) Validate(f *gguf.File) error {
	for _, s := range c.Tensors(!c.TiedEmbedding) {
		t, ok := f.Tensor(s.Name)
		if !ok {
			if s.Optional {
				continue
			}
			return fmt.Errorf("tensor %s is missing", s.Name)
		}
		if !sameShape(t, s.Dims) {
			return fmt.Errorf("tensor %s has shape %v, want %v", s.Name, t.Dims, s.Dims)
		}
	}
	return nil
}

func sameShape(t *gguf.TensorInfo, dims []uint64) bool {
	for i := 0; i < 4; i++ {
		want := uint64(1)
		if i < len(dims) {
			want = dims[i]
		}
		if t.Dim(i) != want {
			return false
		}
	}
	return true
}
