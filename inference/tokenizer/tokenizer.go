// Package tokenizer is a byte-level BPE tokenizer that reproduces llama.cpp's
// "gpt2" vocabulary type (llm_tokenizer_bpe) for Qwen2-family models: GPT-2
// byte↔unicode mapping, the qwen2 pre-tokenizer, merges applied by rank,
// special tokens matched literally before BPE, and no BOS.
package tokenizer

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
)

// Token types as stored in tokenizer.ggml.token_type (llama.cpp's llama_token_type).
const (
	TypeNormal      = 1
	TypeUnknown     = 2
	TypeControl     = 3
	TypeUserDefined = 4
	TypeUnused      = 5
	TypeByte        = 6
)

// NoToken marks an absent special token id in Options.
const NoToken = -1

// Options are the non-vocabulary settings of a tokenizer.
type Options struct {
	// Pre is the pre-tokenizer name (tokenizer.ggml.pre): "qwen2" (also
	// "deepseek-r1-qwen", "megrez") or "gpt2". Empty means "qwen2".
	Pre string
	// BOS, EOS and Pad are token ids, or NoToken.
	BOS, EOS, Pad int
	// ExtraEOG are more end-of-generation ids (e.g. GGUF eot/eom token ids).
	ExtraEOG []int
}

// Tokenizer encodes text to token ids and back. It is safe for concurrent use.
type Tokenizer struct {
	tokens []string // vocabulary texts, in the byte-level alphabet for normal tokens
	types  []int32
	toID   map[string]int32 // text → id (the last id wins for duplicate texts, like llama.cpp)
	pre    string
	split  splitFunc

	bos, eos, pad int
	eog           map[int]bool

	// specials are the control, unknown and user-defined tokens matched
	// literally before BPE, longest text first.
	specials []int32

	// BPE symbol space: ids below len(tokens) are vocabulary ids; larger ids
	// name merge strings that are not themselves tokens.
	symText []string          // text of symbols ≥ len(tokens)
	byteSym [256]int32        // symbol of each single byte
	merges  map[uint64]uint64 // (left<<32 | right) → (rank<<32 | merged)
	oneByte [256]int32        // token of a one-byte text, or -1 (fallback for unknown symbols)

	cacheMu sync.Mutex
	cache   map[string][]int32
}

// The word cache maps pre-tokens to their ids. It is bounded and cleared
// when full; long words are not cached.
const (
	maxCacheEntries = 1 << 16
	maxCachedWord   = 64 // bytes
)

// New builds a tokenizer from a vocabulary (texts in the GPT-2 byte-level
// alphabet, as in GGUF), per-token types (nil means all normal) and merges
// ("left right", best first). The slices are kept, not copied: do not
// modify them afterwards.
func New(tokens []string, types []int32, merges []string, opts Options) (*Tokenizer, error) {
	if len(tokens) == 0 {
		return nil, errors.New("tokenizer: empty vocabulary")
	}
	if len(tokens) >= 1<<31-1 {
		return nil, fmt.Errorf("tokenizer: vocabulary of %d tokens is too large", len(tokens))
	}
	if types == nil {
		types = make([]int32, len(tokens))
		for i := range types {
			types[i] = TypeNormal
		}
	}
	if len(types) != len(tokens) {
		return nil, fmt.Errorf("tokenizer: %d token types for %d tokens", len(types), len(tokens))
	}
	for i, ty := range types {
		if ty < TypeNormal || ty > TypeByte {
			return nil, fmt.Errorf("tokenizer: token %d has invalid type %d", i, ty)
		}
	}
	pre := opts.Pre
	if pre == "" {
		pre = "qwen2"
	}
	split, ok := pretokenizers[pre]
	if !ok {
		names := make([]string, 0, len(pretokenizers))
		for n := range pretokenizers {
			names = append(names, n)
		}
		sort.Strings(names)
		return nil, fmt.Errorf("tokenizer: unsupported pre-tokenizer %q (supported: %s)", pre, strings.Join(names, ", "))
	}
	t := &Tokenizer{
		tokens: tokens,
		types:  types,
		toID:   make(map[string]int32, len(tokens)),
		pre:    pre,
		split:  split,
		bos:    opts.BOS,
		eos:    opts.EOS,
		pad:    opts.Pad,
		cache:  make(map[string][]int32),
	}
	for _, id := range []struct {
		name string
		v    int
	}{{"BOS", opts.BOS}, {"EOS", opts.EOS}, {"padding", opts.Pad}} {
		if id.v != NoToken && (id.v < 0 || id.v >= len(tokens)) {
			return nil, fmt.Errorf("tokenizer: %s token id %d outside the vocabulary of %d tokens", id.name, id.v, len(tokens))
		}
	}
	for _, id := range opts.ExtraEOG {
		if id < 0 || id >= len(tokens) {
			return nil, fmt.Errorf("tokenizer: end-of-generation id %d outside the vocabulary of %d tokens", id, len(tokens))
		}
	}
	for i, s := range tokens {
		t.toID[s] = int32(i)
	}
	t.forceControl()
	t.buildSpecials()
	t.buildEOG(opts.ExtraEOG)
	t.buildMerges(merges)
	return t, nil
}

// fimTexts are fill-in-the-middle marker texts llama.cpp recognises.
var fimTexts = []string{
	"<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>", "<｜fim▁begin｜>", "<PRE>", "▁<PRE>", "<|code_prefix|>",
	"<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>", "<｜fim▁hole｜>", "<SUF>", "▁<SUF>", "<|code_suffix|>",
	"<|fim_middle|>", "<fim-middle>", "<fim_middle>", "<｜fim▁end｜>", "<MID>", "▁<MID>", "<|code_middle|>",
}

// forceControl gives control type to end-of-generation and FIM marker tokens
// that a file typed otherwise, as llama.cpp does when it loads a vocabulary,
// so that e.g. "<|im_end|>" in a chat prompt is always one token. The
// caller's types slice is not modified.
func (t *Tokenizer) forceControl() {
	copied := false
	for _, list := range [][]string{eogTexts, fimTexts} {
		for _, s := range list {
			id, ok := t.toID[s]
			if !ok || t.types[id] == TypeControl {
				continue
			}
			if !copied {
				t.types = slices.Clone(t.types)
				copied = true
			}
			t.types[id] = TypeControl
		}
	}
}

func (t *Tokenizer) buildSpecials() {
	for i, ty := range t.types {
		if (ty == TypeControl || ty == TypeUserDefined || ty == TypeUnknown) && t.tokens[i] != "" {
			t.specials = append(t.specials, int32(i))
		}
	}
	sort.SliceStable(t.specials, func(a, b int) bool {
		return len(t.tokens[t.specials[a]]) > len(t.tokens[t.specials[b]])
	})
}

// eogTexts are the token texts llama.cpp treats as end of generation,
// whatever the model metadata says, plus its FIM pad/repo/file-separator tokens.
var eogTexts = []string{
	"<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<end_of_turn>",
	"<|endoftext|>", "<|eom_id|>", "<EOT>", "_<EOT>", "<|end_of_text|>", "<end_of_utterance>",
	"<｜end▁of▁sentence｜>",
	"<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>",
	"<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>",
	"<|file_sep|>",
}

func (t *Tokenizer) buildEOG(extra []int) {
	t.eog = map[int]bool{}
	for _, id := range extra {
		t.eog[id] = true
	}
	if t.eos != NoToken {
		t.eog[t.eos] = true
	}
	for _, s := range eogTexts {
		if id, ok := t.toID[s]; ok {
			t.eog[int(id)] = true
		}
	}
}

func (t *Tokenizer) symbol(s string) int32 {
	if id, ok := t.toID[s]; ok {
		return id
	}
	id := int32(len(t.tokens) + len(t.symText))
	t.symText = append(t.symText, s)
	t.toID[s] = id
	return id
}

func (t *Tokenizer) buildMerges(merges []string) {
	n := int32(len(t.tokens))
	// Extra symbols are interned into toID while building and removed after,
	// so TokenID only ever sees vocabulary texts.
	defer func() {
		for _, s := range t.symText {
			delete(t.toID, s)
		}
	}()
	for b := 0; b < 256; b++ {
		t.byteSym[b] = t.symbol(byteToText[b])
		t.oneByte[b] = -1
		if id, ok := t.toID[string([]byte{byte(b)})]; ok && id < n {
			t.oneByte[b] = id
		}
	}
	t.merges = make(map[uint64]uint64, len(merges))
	var buf []byte
	for rank, m := range merges {
		// llama.cpp splits at the first space after the first byte.
		sp := strings.IndexByte(m[min(1, len(m)):], ' ')
		if sp < 0 {
			continue
		}
		sp += min(1, len(m))
		left, right := m[:sp], m[sp+1:]
		if left == "" || right == "" {
			continue
		}
		l, r := t.symbol(left), t.symbol(right)
		buf = append(append(buf[:0], left...), right...)
		key := uint64(uint32(l))<<32 | uint64(uint32(r))
		if _, dup := t.merges[key]; dup {
			continue // the first (best) rank of a pair wins
		}
		merged := t.symbol(string(buf))
		t.merges[key] = uint64(rank)<<32 | uint64(uint32(merged))
	}
}

// VocabSize is the number of rows of the vocabulary (including padding rows).
func (t *Tokenizer) VocabSize() int { return len(t.tokens) }

// EOS is the end-of-sequence id, or NoToken.
func (t *Tokenizer) EOS() int { return t.eos }

// BOS is the beginning-of-sequence id, or NoToken. Encode never adds it.
func (t *Tokenizer) BOS() int { return t.bos }

// Pad is the padding id, or NoToken.
func (t *Tokenizer) Pad() int { return t.pad }

// Pre is the pre-tokenizer name in use.
func (t *Tokenizer) Pre() string { return t.pre }

// IsEOG reports whether id ends generation: the EOS id and every token
// llama.cpp treats as an end marker (<|im_end|>, <|endoftext|>, ...).
func (t *Tokenizer) IsEOG(id int) bool { return t.eog[id] }

// EOGs lists the end-of-generation ids in increasing order.
func (t *Tokenizer) EOGs() []int {
	ids := make([]int, 0, len(t.eog))
	for id := range t.eog {
		ids = append(ids, id)
	}
	sort.Ints(ids)
	return ids
}

// TokenID returns the id of a vocabulary text (e.g. "<|im_end|>", or "Ġthe"
// for a normal token in the byte-level alphabet).
func (t *Tokenizer) TokenID(text string) (int, bool) {
	id, ok := t.toID[text]
	return int(id), ok
}

// Token returns the vocabulary text of id ("" when out of range).
func (t *Tokenizer) Token(id int) string {
	if id < 0 || id >= len(t.tokens) {
		return ""
	}
	return t.tokens[id]
}

// Type returns the token type of id (0 when out of range).
func (t *Tokenizer) Type(id int) int {
	if id < 0 || id >= len(t.types) {
		return 0
	}
	return int(t.types[id])
}

// IsSpecial reports whether id is a control token (rendered only on request).
func (t *Tokenizer) IsSpecial(id int) bool {
	ty := t.Type(id)
	return ty == TypeControl || ty == TypeUnknown
}
