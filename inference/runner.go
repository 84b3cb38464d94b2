package inference

import "context"

// DefaultUBatch is how many prompt tokens go through the model in one pass.
const DefaultUBatch = 256

// Runner evaluates token sequences against one KV cache: the low-level API
// under Session, used directly by the CLI's logits and generate commands.
type Runner struct {
	m      *Model
	kv     *kvCache
	st     *state
	tokens []int // tokens whose keys/values are in kv (kv.n == len(tokens))
}

// NewRunner makes a runner with a KV cache for ctx positions (0 = the model's
// training context).
func (m *Model) NewRunner(ctx int) *Runner {
	c := m.Config
	if ctx <= 0 {
		ctx = c.Context
	}
	windows := make([]int, c.Layers)
	for il := range windows {
		windows[il] = c.Window(il)
	}
	ub := min(DefaultUBatch, ctx)
	m.execMu.RLock()
	defer m.execMu.RUnlock()
	return &Runner{m: m, kv: newKVCache(windows, ctx, c.KVDim(), c.HeadDim, ub, m.kvF16), st: newState(m, ub, ctx)}
}

// WeightBytesRead is how many weight bytes this runner's forward passes
// have read so far (skipped rows excluded); its growth over a decoded token
// is what that token streamed from memory.
func (r *Runner) WeightBytesRead() int64 { return r.st.weightBytes }

// Pos is the number of positions in the KV cache.
func (r *Runner) Pos() int { return r.kv.n }

// Context is the KV cache's capacity in positions.
func (r *Runner) Context() int { return r.kv.ctx }

// Tokens returns the tokens held in the KV cache.
func (r *Runner) Tokens() []int { return r.tokens }

// Reset empties the KV cache.
func (r *Runner) Reset() {
	r.kv.reset()
	r.tokens = r.tokens[:0]
}

// Rewind drops cached positions ≥ n, or resets everything when a sliding
// window ring can no longer serve position n.
func (r *Runner) Rewind(n int) {
	if n >= r.kv.n {
		return
	}
	if !r.kv.rewind(n) {
		r.Reset()
		return
	}
	r.tokens = r.tokens[:n]
}

// Eval feeds tokens after the cached ones, in batches of up to the ubatch size.
// onLogits is called with the logits of each new position when all is true,
// or of the last position only otherwise. The slice is reused: copy it to keep it.
func (r *Runner) Eval(tokens []int, all bool, onLogits func(pos int, logits []float32)) error {
	return r.EvalContext(context.Background(), tokens, all, onLogits)
}

// EvalContext is Eval that stops between batches when ctx is cancelled.
func (r *Runner) EvalContext(ctx context.Context, tokens []int, all bool, onLogits func(pos int, logits []float32)) error {
	for start := 0; start < len(tokens); {
		if err := ctx.Err(); err != nil {
			return err
		}
		end := min(start+r.st.B, len(tokens))
		batch := tokens[start:end]
		last := end == len(tokens)
		want := func(i int) bool { return all || (last && i == len(batch)-1) }
		pos0 := r.kv.n
		if err := r.st.forward(r.kv, batch, want); err != nil {
			return err
		}
		r.tokens = append(r.tokens, batch...)
		if onLogits != nil {
			for i := range batch {
				if want(i) {
					onLogits(pos0+i, r.st.logits[i])
				}
			}
		}
		start = end
	}
	return nil
}
