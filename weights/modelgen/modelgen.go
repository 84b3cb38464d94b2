// Package modelgen writes random-weight SmallThinker GGUF files with the real
// schema (keys, tensor names and shapes of spec §3) and a working byte-level
// BPE tokenizer. They exercise the whole engine — loading, expert I/O, speed —
// without the real weights; their text is meaningless.
//
// Weights are generated block by block from a fast seeded RNG on every core
// and streamed to disk, so a full-size 4B or 21B file is produced at disk
// speed with constant memory. The same seed gives the same bytes.
package modelgen

import (
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"strings"

	"smallthinker/weights/arch"
	"smallthinker/weights/gguf"
	"smallthinker/weights/quant"
)

// Presets are the model shapes the generator knows.
var Presets = []string{"tiny", "4b", "21b"}

// Options selects what to generate.
type Options struct {
	Preset string          // "tiny", "4b" or "21b"
	Type   gguf.TensorType // type of the 2-D/3-D matrices (any type quant can write)
	// MixQ4KM applies llama.cpp's Q4_K_M recipe on top of Type Q4_K: Q6_K for
	// output.weight, attn_v and the ffn_down of the "more bits" layers.
	MixQ4KM bool
	// LMHeadProfiler > 0 adds the authors' sparse lm_head predictor
	// (lm_head_profiler.weight, Q4_0) of this rank (a multiple of 32).
	LMHeadProfiler int
	Seed           uint64
	SWA            bool // tiny only: 21B-style layout (sliding window on layers with index%4 != 0)
	TransposeDown  bool // store ffn_down_exps as [n_embd, ffn, E] (the authors' fork layout)
	Workers        int  // goroutines generating data; 0 = GOMAXPROCS
}

// Config returns the hyperparameters of a preset.
func Config(o Options) (*arch.Config, error) {
	var c arch.Config
	switch o.Preset {
	case "tiny":
		c = arch.Config{Layers: 4, Embed: 64, Heads: 4, KVHeads: 2, HeadDim: 16, Experts: 8, ExpertsUsed: 2,
			ExpertFFN: 32, Vocab: LearnedTokens + 3, Context: 8192, TiedEmbedding: true}
		if o.SWA {
			c.SlidingWindow = arch.SlidingWindow
		}
	case "4b":
		c = arch.Config{Layers: 32, Embed: 1536, Heads: 12, KVHeads: 2, HeadDim: 128, Experts: 32, ExpertsUsed: 4,
			ExpertFFN: 768, Vocab: FullVocab, Context: 32768}
	case "21b":
		c = arch.Config{Layers: 52, Embed: 2560, Heads: 28, KVHeads: 4, HeadDim: 128, Experts: 64, ExpertsUsed: 6,
			ExpertFFN: 768, Vocab: FullVocab, Context: 16384, SlidingWindow: arch.SlidingWindow}
	default:
		return nil, fmt.Errorf("unknown preset %q (want %s)", o.Preset, strings.Join(Presets, ", "))
	}
	if o.SWA && o.Preset != "tiny" {
		return nil, fmt.Errorf("--swa only applies to the tiny preset (the 21b preset always has a sliding window, the 4b never)")
	}
	c.ValueDim = c.HeadDim
	c.RopeTheta = 1.5e6
	c.RMSEps = 1e-6
	c.Gating = arch.GatingSigmoid
	c.DownTransposed = o.TransposeDown
	return &c, nil
}

// fileType is general.file_type (llama.cpp's LlamaFileType) for a matrix type.
func fileType(t gguf.TensorType) (uint32, error) {
	switch t {
	case gguf.Q4_1:
		return 3, nil
	case gguf.Q5_0:
		return 8, nil
	case gguf.Q5_1:
		return 9, nil
	case gguf.Q2_K:
		return 10, nil
	case gguf.Q3_K:
		return 12, nil
	case gguf.Q4_K:
		return 15, nil
	case gguf.Q5_K:
		return 17, nil
	case gguf.Q6_K:
		return 18, nil
	case gguf.F32:
		return 0, nil
	case gguf.F16:
		return 1, nil
	case gguf.Q4_0:
		return 2, nil
	case gguf.Q8_0:
		return 7, nil
	case gguf.BF16:
		return 32, nil
	}
	return 0, fmt.Errorf("tensor type %s is not supported by the generator (use one of %s)", t, strings.Join(quant.WritableTypeNames(), ", "))
}

// metadata returns the key/value pairs in the order llama.cpp's converter writes them.
func metadata(o Options, c *arch.Config, v *Vocab) ([]gguf.KV, error) {
	ft, err := fileType(o.Type)
	if err != nil {
		return nil, err
	}
	p := arch.Name + "."
	kv := func(k string, val gguf.Value) gguf.KV { return gguf.KV{Key: k, Value: val} }
	u := func(x int) gguf.Value { return gguf.Uint32(uint32(x)) }
	kvs := []gguf.KV{
		kv("general.architecture", gguf.String(arch.Name)),
		kv("general.type", gguf.String("model")),
		kv("general.name", gguf.String(fmt.Sprintf("SmallThinker random %s %s seed %d", o.Preset, strings.ToLower(o.Type.String()), o.Seed))),
		kv("general.description", gguf.String(RandomDescription)),
		kv(p+"block_count", u(c.Layers)),
		kv(p+"context_length", u(c.Context)),
		kv(p+"embedding_length", u(c.Embed)),
		kv(p+"attention.head_count", u(c.Heads)),
		kv(p+"attention.head_count_kv", u(c.KVHeads)),
		kv(p+"rope.freq_base", gguf.Float32(c.RopeTheta)),
		kv(p+"attention.layer_norm_rms_epsilon", gguf.Float32(c.RMSEps)),
		kv(p+"attention.key_length", u(c.HeadDim)),
		kv(p+"attention.value_length", u(c.ValueDim)),
		kv(p+"expert_count", u(c.Experts)),
		kv(p+"expert_used_count", u(c.ExpertsUsed)),
		kv(p+"expert_feed_forward_length", u(c.ExpertFFN)),
		kv(p+"feed_forward_length", u(c.ExpertFFN)),
		kv(p+"expert_gating_func", u(int(c.Gating))),
	}
	if c.SlidingWindow > 0 {
		kvs = append(kvs, kv(p+"attention.sliding_window", u(c.SlidingWindow)))
	}
	kvs = append(kvs,
		kv("tokenizer.ggml.model", gguf.String("gpt2")),
		kv("tokenizer.ggml.pre", gguf.String("qwen2")),
		kv("tokenizer.ggml.tokens", gguf.Strings(v.Tokens)),
		kv("tokenizer.ggml.token_type", gguf.Int32s(v.Types)),
		kv("tokenizer.ggml.merges", gguf.Strings(v.Merges)),
		kv("tokenizer.ggml.eos_token_id", u(v.EOS)),
		kv("tokenizer.ggml.padding_token_id", u(v.Pad)),
		kv("tokenizer.ggml.bos_token_id", u(v.BOS)),
		kv("tokenizer.ggml.add_bos_token", gguf.BoolValue(false)),
		kv("tokenizer.chat_template", gguf.String(chatMLTemplate)),
		kv("general.quantization_version", u(2)),
		kv("general.file_type", gguf.Uint32(ft)),
	)
	return kvs, nil
}

// RandomDescription is general.description of generated files, so tools can
// tell a random model from a real one.
const RandomDescription = "random weights for testing: produces meaningless text"

// Generate writes the model described by o to w.
func Generate(w io.Writer, o Options) error {
	c, err := Config(o)
	if err != nil {
		return err
	}
	v := TinyVocab()
	if c.Vocab == FullVocab {
		v = FullSizeVocab()
	}
	if len(v.Tokens) != c.Vocab {
		return fmt.Errorf("internal error: vocabulary has %d tokens, config %d", len(v.Tokens), c.Vocab)
	}
	kvs, err := metadata(o, c, v)
	if err != nil {
		return err
	}
	workers := o.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	specs := c.Tensors(!c.TiedEmbedding)
	tensors := make([]gguf.WriteTensor, len(specs))
	for i, s := range specs {
		typ, dist := weightKind(s, c, o.Type)
		if o.MixQ4KM && typ == gguf.Q4_K {
			typ = q4kmType(s.Name, c.Layers)
		}
		if s.Dims[0]%uint64(typ.BlockSize()) != 0 {
			typ = fallbackType(typ)
		}
		if s.Dims[0]%uint64(typ.BlockSize()) != 0 {
			return fmt.Errorf("tensor %s: first dimension %d is not a multiple of the %s block size %d", s.Name, s.Dims[0], typ, typ.BlockSize())
		}
		t := &tensorGen{typ: typ, dims: s.Dims, dist: dist, seed: mix(o.Seed, uint64(i)), workers: workers}
		if s.Name == "token_embd.weight" || s.Name == "output.weight" {
			t.rowScale = quietRows(v)
		}
		tensors[i] = gguf.WriteTensor{Info: gguf.TensorInfo{Name: s.Name, Type: typ, Dims: s.Dims}, Write: t.write}
	}
	if hp := o.LMHeadProfiler; hp > 0 {
		if hp%32 != 0 || c.Embed%32 != 0 {
			return fmt.Errorf("lm_head profiler rank %d must be a multiple of 32", hp)
		}
		// W1 (hp rows of n_embd) then W2 (n_vocab rows of hp), one Q4_0 tensor [N, 1].
		n := uint64(hp * (c.Embed + c.Vocab))
		dims := []uint64{n, 1}
		t := &tensorGen{typ: gguf.Q4_0, dims: dims, dist: distribution{std: 1 / math.Sqrt(float64(hp))}, seed: mix(o.Seed, 1<<40), workers: workers}
		tensors = append(tensors, gguf.WriteTensor{Info: gguf.TensorInfo{Name: "lm_head_profiler.weight", Type: gguf.Q4_0, Dims: dims}, Write: t.write})
	}
	return gguf.Write(w, kvs, tensors)
}

// weightKind picks a tensor's storage type and value distribution: norms and
// the router stay F32 as llama.cpp's quantizer leaves them; matrices get
// std 1/sqrt(fan_in), embeddings std 0.375, router 3/sqrt(n_embd) so routing
// has clear winners (the same scales as the golden test models).
func weightKind(s arch.TensorSpec, c *arch.Config, typ gguf.TensorType) (gguf.TensorType, distribution) {
	switch {
	case len(s.Dims) == 1:
		return gguf.F32, distribution{mean: 1, std: 0.05}
	case strings.HasSuffix(s.Name, "ffn_gate_inp.weight"):
		return gguf.F32, distribution{std: 3 / math.Sqrt(float64(c.Embed))}
	case s.Name == "token_embd.weight":
		return typ, distribution{std: 0.375}
	}
	return typ, distribution{std: 1 / math.Sqrt(float64(s.Dims[0]))}
}

// quietRows shrinks the vocabulary rows of tokens a random model should
// rarely emit — lone bytes that are not printable text (UTF-8 fragments,
// control characters) and padding rows — so demo output is gibberish made of
// readable pieces rather than a stream of U+FFFD.
func quietRows(v *Vocab) func(int) float64 {
	order, _ := byteToUnicode()
	return func(r int) float64 {
		if r < len(order) {
			if b := order[r]; b >= 0x80 || b < 0x20 && b != '\n' || b == 0x7f {
				return 0.1
			}
		}
		if r < len(v.Types) && v.Types[r] == TypeUnused {
			return 0.1
		}
		return 1
	}
}

// WriteFile generates the model into path atomically: it writes path+".tmp",
// syncs it and renames it, so path never holds a partial model.
func WriteFile(path string, o Options) (err error) {
	if _, err := Config(o); err != nil {
		return err
	}
	if _, err := fileType(o.Type); err != nil {
		return err
	}
	tmp := path + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err = Generate(f, o); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// q4kmType is llama.cpp's Q4_K_M choice for a tensor (llama-quant.cpp):
// output.weight and attn_v get Q6_K; ffn_down gets Q6_K on the first and last
// eighth of the layers and every third layer between; the rest Q4_K.
func q4kmType(name string, layers int) gguf.TensorType {
	il := -1
	fmt.Sscanf(name, "blk.%d.", &il)
	moreBits := il >= 0 && (il < layers/8 || il >= 7*layers/8 || (il-layers/8)%3 == 2)
	switch {
	case name == "output.weight", strings.HasSuffix(name, "attn_v.weight"):
		return gguf.Q6_K
	case strings.HasSuffix(name, "ffn_down_exps.weight") && moreBits:
		return gguf.Q6_K
	}
	return gguf.Q4_K
}

// fallbackType is what llama.cpp's quantizer writes when a row is not a
// whole number of 256-element super-blocks (IQ4_NL, which we do not support,
// is replaced by Q4_0).
func fallbackType(t gguf.TensorType) gguf.TensorType {
	switch t {
	case gguf.Q4_K:
		return gguf.Q5_0
	case gguf.Q5_K:
		return gguf.Q5_1
	case gguf.Q6_K:
		return gguf.Q8_0
	case gguf.Q2_K, gguf.Q3_K:
		return gguf.Q4_0
	}
	return t
}
