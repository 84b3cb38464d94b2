package inference

import (
	"errors"
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"

	"smallthinker/inference/tokenizer"
	"smallthinker/weights/arch"
	"smallthinker/weights/experts"
	"smallthinker/weights/gguf"
	"smallthinker/weights/hugemem"
	"smallthinker/weights/quant"
)

// LoadOptions configure a model load.
type LoadOptions struct {
	Threads int // compute threads; 0 = GOMAXPROCS
	// Budget is the memory budget in bytes (0 = unlimited): resident weights,
	// KV cache and scratch come first, experts get the rest and stream from
	// the SSD through an LRU cache when they do not all fit.
	Budget int64
	// ExpertCacheBytes sizes the expert cache directly (tests, tuning); it
	// overrides Budget's share for experts.
	ExpertCacheBytes int64
	// ContextLength is the context sessions get by default (0 = min(training
	// context, 8192)); the budget reserves its KV cache.
	ContextLength int
	// Experts tunes the expert cache (I/O goroutines, O_DIRECT; tests wrap the reader).
	Experts experts.Options
	// NoPrefetch turns off the pre-attention expert prefetch (for measurements).
	NoPrefetch bool
	// SparseLMHead uses the file's lm_head_profiler predictor (if any) to
	// compute only the logits it predicts can matter: faster, but lossy.
	SparseLMHead bool
	// LookAhead also prefetches the next layer's likely experts, routed
	// speculatively from the state after this layer's attention (decode only).
	LookAhead bool
	// NoPack keeps Q4_0 weights in the file's layout instead of the faster
	// Q4_0x4 (same results; for measurements).
	NoPack bool
	// GatingOverride forces sigmoid or softmax routing (0 = as the file says;
	// absent key = sigmoid, the Hugging Face semantics).
	GatingOverride arch.Gating
	// KVF16 stores the KV cache as F16, as the reference engine does by
	// default: half the memory, and attention over a long context reads half
	// the bytes. Logits then differ slightly from an F32 cache (the golden
	// files were made with F32, the default here).
	KVF16 bool
}

// Model is a loaded SmallThinker model: hyperparameters plus weights mapped
// from the GGUF file. It is safe to create several Sessions on one Model, but
// each Session runs one generation at a time.
type Model struct {
	Config *arch.Config
	Path   string
	Tok    *tokenizer.Tokenizer
	file   *gguf.File

	embed      Matrix // token_embd: Vocab rows of Embed
	output     Matrix // output.weight or token_embd (tied)
	outputNorm []float32
	layers     []layer

	threads int
	exec    executor
	execMu  sync.RWMutex // forward passes hold it for reading; SetThreads and Close for writing

	// Experts on SSD: with a budget below the model's full size, experts are
	// read through a budgeted LRU cache instead of the file mapping.
	layout    *experts.Layout
	cache     cachePtr
	budget    atomic.Int64
	budgetMu  sync.Mutex
	ctxLen    int // context length sessions get by default (sizes the budget's KV share)
	expOpts   experts.Options
	prefetch  bool
	lookAhead bool
	kvF16     bool // sessions' KV caches are F16

	headPredictor *sparseHead // lm_head_profiler.weight, when the file has it
	sparseHead    bool        // use it (opt-in)

	// Q4_0x4 packing (packing.go).
	packQ4       bool
	pairQ4       bool           // packed groups in pairs (quant.PackQ4_0x4)
	packMu       [16]sync.Mutex // striped by expert: packing one in the mapping
	mappedPacked []atomic.Bool  // per layer·expert: packed in the mapping
	packer       backgroundPacker
	resident     *hugemem.Buffer // the packed resident matrices (nil: none)
	expArena     *expertArena    // experts used in place, copied and packed (nil: none)
	passes       atomic.Int32    // forward passes running (the packer waits for none)
}

// layer holds one transformer block's weights, named after the GGUF tensors.
type layer struct {
	attnNorm []float32 // blk.N.attn_norm
	ffnNorm  []float32 // blk.N.ffn_norm
	q, k, v  Matrix    // blk.N.attn_{q,k,v}
	o        Matrix    // blk.N.attn_output
	router   Matrix    // blk.N.ffn_gate_inp (F32): Experts rows of Embed
	gate, up Matrix    // blk.N.ffn_{gate,up}_exps viewed as Experts*FFN rows of Embed
	// down is blk.N.ffn_down_exps: Experts*Embed rows of FFN (upstream layout)
	// or, when Config.DownTransposed, Experts*FFN rows of Embed.
	down Matrix
}

// Load maps a SmallThinker GGUF and prepares it for inference.
func Load(path string, opts LoadOptions) (*Model, error) {
	f, err := gguf.Open(path)
	if err != nil {
		return nil, err
	}
	m, err := newModel(f, opts)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	m.Path = path
	switch {
	case opts.ExpertCacheBytes > 0:
		c, err := experts.Open(path, m.layout, opts.ExpertCacheBytes, m.expOpts)
		if err != nil {
			m.Close()
			return nil, err
		}
		m.cache.Store(c)
		m.budget.Store(opts.Budget)
	case opts.Budget > 0:
		if err := m.SetBudget(opts.Budget); err != nil {
			m.Close()
			return nil, err
		}
	}
	m.placeExperts()
	m.startPacker()
	return m, nil
}

func newModel(f *gguf.File, opts LoadOptions) (*Model, error) {
	cfg, err := arch.ReadConfig(f)
	if err != nil {
		return nil, err
	}
	if opts.GatingOverride != 0 {
		cfg.Gating = opts.GatingOverride
	}
	if err := cfg.Validate(f); err != nil {
		return nil, err
	}
	m := &Model{Config: cfg, file: f}
	if m.Tok, err = tokenizer.FromGGUF(f); err != nil {
		return nil, err
	}
	D, F, E := cfg.Embed, cfg.ExpertFFN, cfg.Experts
	if m.embed, err = tensorMatrix3(f, "token_embd.weight", D, cfg.Vocab); err != nil {
		return nil, err
	}
	if cfg.TiedEmbedding {
		m.output = m.embed
	} else if m.output, err = tensorMatrix3(f, "output.weight", D, cfg.Vocab); err != nil {
		return nil, err
	}
	if m.outputNorm, err = tensorVector(f, "output_norm.weight", D); err != nil {
		return nil, err
	}
	m.layers = make([]layer, cfg.Layers)
	for il := range m.layers {
		l := &m.layers[il]
		p := fmt.Sprintf("blk.%d.", il)
		errs := []error{}
		get := func(dst *Matrix, name string, cols, rows int) {
			var e error
			if *dst, e = tensorMatrix3(f, p+name, cols, rows); e != nil {
				errs = append(errs, e)
			}
		}
		var e1, e2 error
		l.attnNorm, e1 = tensorVector(f, p+"attn_norm.weight", D)
		l.ffnNorm, e2 = tensorVector(f, p+"ffn_norm.weight", D)
		errs = append(errs, e1, e2)
		get(&l.q, "attn_q.weight", D, cfg.QDim())
		get(&l.k, "attn_k.weight", D, cfg.KVDim())
		get(&l.v, "attn_v.weight", D, cfg.KVDim())
		get(&l.o, "attn_output.weight", cfg.QDim(), D)
		get(&l.router, "ffn_gate_inp.weight", D, E)
		get(&l.gate, "ffn_gate_exps.weight", D, F*E)
		get(&l.up, "ffn_up_exps.weight", D, F*E)
		if cfg.DownTransposed {
			get(&l.down, "ffn_down_exps.weight", D, F*E)
		} else {
			get(&l.down, "ffn_down_exps.weight", F, D*E)
		}
		if err := errors.Join(errs...); err != nil {
			return nil, err
		}
	}
	m.packQ4 = !opts.NoPack && packsQ4_0()
	m.pairQ4 = m.packQ4 && pairsQ4_0()
	m.kvF16 = opts.KVF16
	m.mappedPacked = make([]atomic.Bool, cfg.Layers*E)
	resident := []*Matrix{}
	if !cfg.TiedEmbedding {
		resident = append(resident, &m.output)
	}
	for il := range m.layers {
		l := &m.layers[il]
		resident = append(resident, &l.q, &l.k, &l.v, &l.o)
	}
	if m.headPredictor, err = loadSparseHead(f, D, cfg.Vocab); err != nil {
		return nil, err
	}
	m.sparseHead = opts.SparseLMHead
	m.expOpts, m.prefetch, m.lookAhead = opts.Experts, !opts.NoPrefetch, opts.LookAhead && !opts.NoPrefetch
	if prep := m.expOpts.Prepare; prep != nil {
		m.expOpts.Prepare = func(il int, p experts.Part, data []byte) error {
			if err := prep(il, p, data); err != nil {
				return err
			}
			return m.prepareExpert(il, p, data)
		}
	} else {
		m.expOpts.Prepare = m.prepareExpert
	}
	m.ctxLen = opts.ContextLength
	if m.ctxLen <= 0 {
		m.ctxLen = min(cfg.Context, 8192)
	}
	if m.layout, err = experts.NewLayout(f, cfg.Layers, cfg.Experts, cfg.ExpertsUsed); err != nil {
		return nil, err
	}
	// Last: nothing fails after it, so nothing else must free the buffer.
	if err := m.packResident(resident); err != nil {
		m.resident.Free()
		return nil, err
	}
	m.SetThreads(opts.Threads)
	return m, nil
}

// tensorMatrix3 maps a 2-D tensor, or a stacked 3-D one as one tall matrix,
// of rows×cols (cfg.Validate has checked the exact shapes).
func tensorMatrix3(f *gguf.File, name string, cols, rows int) (Matrix, error) {
	t, ok := f.Tensor(name)
	if !ok {
		return Matrix{}, fmt.Errorf("tensor %s is missing", name)
	}
	if int(t.Dim(0)) != cols || int(t.Dim(1)*t.Dim(2)*t.Dim(3)) != rows {
		return Matrix{}, fmt.Errorf("tensor %s has shape %v, want %d columns and %d rows", name, t.Dims, cols, rows)
	}
	if _, err := quant.VecDotFor(t.Type); err != nil {
		return Matrix{}, fmt.Errorf("tensor %s: %w", name, err)
	}
	data, err := f.TensorData(t)
	if err != nil {
		return Matrix{}, err
	}
	return newMatrix(t.Type, rows, cols, data)
}

// SetThreads changes the number of compute threads (0 = GOMAXPROCS).
// It is safe during a generation: the switch waits for the current forward
// pass to finish.
func (m *Model) SetThreads(n int) {
	if n <= 0 {
		n = runtime.GOMAXPROCS(0)
	}
	m.execMu.Lock()
	defer m.execMu.Unlock()
	if m.exec != nil && m.threads == n {
		return
	}
	if m.exec != nil {
		m.exec.Close()
	}
	m.threads = n
	m.exec = newExecutor(n)
}

// Threads is the number of compute threads.
func (m *Model) Threads() int { return m.threads }

// Close releases the model's file mapping and threads. Sessions must not be used afterwards.
func (m *Model) Close() error {
	m.packer.stop()
	m.execMu.Lock()
	defer m.execMu.Unlock()
	if m.exec != nil {
		m.exec.Close()
		m.exec = nil
	}
	if c := m.cache.Swap(nil); c != nil {
		c.Close()
	}
	if m.resident != nil {
		m.resident.Free()
		m.resident = nil
	}
	if a := m.expArena; a != nil {
		m.expArena = nil
		a.buf.Free()
	}
	if m.file != nil {
		err := m.file.Close()
		m.file = nil
		return err
	}
	return nil
}

// File is the parsed GGUF header.
func (m *Model) File() *gguf.File { return m.file }

// FileSize is the size of the model file in bytes.
func (m *Model) FileSize() int64 {
	if st, err := os.Stat(m.Path); err == nil {
		return st.Size()
	}
	return m.file.Size
}
