package modelgen

import (
	_ "embed"
	"fmt"
	"sort"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// corpus is the English text the BPE merges are learned from: a few chat-like
// lines and two public-domain chapters of Mark Twain's Tom Sawyer.
//
//go:embed corpus.txt
var corpus string

// LearnedTokens is how many non-special tokens the trainer produces: the 256
// byte tokens plus the learned merges. With the three ChatML specials the
// tiny vocabulary is exactly 1024 rows.
const LearnedTokens = 1021

// Special token texts (Qwen2 family), all of type Control.
const (
	EndOfText = "<|endoftext|>"
	IMStart   = "<|im_start|>"
	IMEnd     = "<|im_end|>"
)

// Token types of tokenizer.ggml.token_type (llama.cpp's llama_token_type).
const (
	TypeNormal  int32 = 1
	TypeControl int32 = 3
	TypeUnused  int32 = 5
)

// Qwen2 ids of the special tokens in the full 151,936-row vocabulary.
const (
	FullVocab      = 151936
	FullEndOfText  = 151643
	FullIMStart    = 151644
	FullIMEnd      = 151645
	chatMLTemplate = "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}"
)

// Vocab is a byte-level BPE vocabulary as GGUF stores it.
type Vocab struct {
	Tokens []string
	Types  []int32
	Merges []string
	BOS    int // <|endoftext|>
	EOS    int // <|im_end|>
	Pad    int // <|endoftext|>
}

// byteToUnicode is GPT-2's reversible byte → printable rune mapping, in the
// order that gives token ids 0..255 (printable bytes first, as in Qwen2).
func byteToUnicode() (order []byte, runes [256]rune) {
	var bs []int
	for b := '!'; b <= '~'; b++ {
		bs = append(bs, int(b))
	}
	for b := 0xA1; b <= 0xAC; b++ {
		bs = append(bs, b)
	}
	for b := 0xAE; b <= 0xFF; b++ {
		bs = append(bs, b)
	}
	cs := append([]int(nil), bs...)
	in := map[int]bool{}
	for _, b := range bs {
		in[b] = true
	}
	n := 0
	for b := 0; b < 256; b++ {
		if !in[b] {
			bs = append(bs, b)
			cs = append(cs, 256+n)
			n++
		}
	}
	order = make([]byte, 256)
	for i, b := range bs {
		order[i] = byte(b)
		runes[b] = rune(cs[i])
	}
	return order, runes
}

var (
	learnedOnce   sync.Once
	learnedTokens []string
	learnedMerges []string
)

// learned returns the byte tokens plus the merges learned from the corpus;
// the result is deterministic and computed once per process.
func learned() ([]string, []string) {
	learnedOnce.Do(func() { learnedTokens, learnedMerges = trainBPE(corpus, LearnedTokens) })
	return learnedTokens, learnedMerges
}

// TinyVocab is the 1024-row vocabulary of the tiny preset: learned tokens then
// <|endoftext|>, <|im_start|>, <|im_end|>.
func TinyVocab() *Vocab {
	toks, merges := learned()
	v := &Vocab{Merges: merges}
	v.Tokens = append(append([]string(nil), toks...), EndOfText, IMStart, IMEnd)
	v.Types = make([]int32, len(v.Tokens))
	for i := range v.Types {
		v.Types[i] = TypeNormal
	}
	n := len(toks)
	v.Types[n], v.Types[n+1], v.Types[n+2] = TypeControl, TypeControl, TypeControl
	v.BOS, v.Pad, v.EOS = n, n, n+2
	return v
}

// FullSizeVocab returns a 151,936-row vocabulary shaped like Qwen2's: the learned
// tokens, [PAD{i}] rows (type unused) and the specials at their real ids.
func FullSizeVocab() *Vocab {
	toks, merges := learned()
	v := &Vocab{Merges: merges, Tokens: make([]string, FullVocab), Types: make([]int32, FullVocab)}
	for i := range v.Tokens {
		switch {
		case i < len(toks):
			v.Tokens[i], v.Types[i] = toks[i], TypeNormal
		case i == FullEndOfText:
			v.Tokens[i], v.Types[i] = EndOfText, TypeControl
		case i == FullIMStart:
			v.Tokens[i], v.Types[i] = IMStart, TypeControl
		case i == FullIMEnd:
			v.Tokens[i], v.Types[i] = IMEnd, TypeControl
		default:
			v.Tokens[i], v.Types[i] = fmt.Sprintf("[PAD%d]", i), TypeUnused
		}
	}
	v.BOS, v.Pad, v.EOS = FullEndOfText, FullEndOfText, FullIMEnd
	return v
}

// pretokenize splits text roughly the way the qwen2 pre-tokenizer does
// (letters with one optional leading non-letter, single digits, punctuation
// runs with an optional leading space, whitespace runs). Merges never cross
// these boundaries, so an approximation only costs merges that never fire.
func pretokenize(text string) []string {
	var words []string
	for i := 0; i < len(text); {
		start := i
		r, n := utf8.DecodeRuneInString(text[i:])
		isLetter := func(r rune) bool { return unicode.IsLetter(r) || r == '\'' }
		switch {
		case unicode.IsDigit(r):
			i += n
		case unicode.IsLetter(r) || (r != '\n' && r != '\r' && !unicode.IsDigit(r) && i+n < len(text) && startsLetter(text[i+n:])):
			i += n
			for i < len(text) {
				r2, n2 := utf8.DecodeRuneInString(text[i:])
				if !isLetter(r2) {
					break
				}
				i += n2
			}
		case unicode.IsSpace(r):
			for i < len(text) {
				r2, n2 := utf8.DecodeRuneInString(text[i:])
				if !unicode.IsSpace(r2) {
					break
				}
				i += n2
			}
		default:
			for i < len(text) {
				r2, n2 := utf8.DecodeRuneInString(text[i:])
				if unicode.IsSpace(r2) || unicode.IsLetter(r2) || unicode.IsDigit(r2) {
					break
				}
				i += n2
			}
		}
		words = append(words, text[start:i])
	}
	return words
}

func startsLetter(s string) bool {
	r, _ := utf8.DecodeRuneInString(s)
	return unicode.IsLetter(r)
}

// trainBPE learns byte-level BPE merges from text until the vocabulary holds
// size tokens. Ties between equally frequent pairs go to the pair whose merged
// text sorts first, so the result depends only on the text.
func trainBPE(text string, size int) (tokens, merges []string) {
	order, runes := byteToUnicode()
	byteID := [256]int{}
	for i, b := range order {
		byteID[b] = i
		tokens = append(tokens, string(runes[b]))
	}
	index := map[string]int{}
	for i, t := range tokens {
		index[t] = i
	}
	type word struct {
		syms  []int
		count int
	}
	counts := map[string]int{}
	for _, w := range pretokenize(text) {
		counts[w]++
	}
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	words := make([]word, len(keys))
	for i, k := range keys {
		syms := make([]int, len(k))
		for j := 0; j < len(k); j++ {
			syms[j] = byteID[k[j]]
		}
		words[i] = word{syms, counts[k]}
	}
	// Pair counts are kept up to date incrementally: a merge only touches the
	// words that contain its pair (where), which keeps training well under a
	// second on the embedded corpus.
	pairs := map[uint64]int{}
	where := map[uint64][]int{}
	addPairs := func(wi, sign int) {
		w := words[wi]
		for j := 0; j+1 < len(w.syms); j++ {
			p := uint64(w.syms[j])<<32 | uint64(w.syms[j+1])
			pairs[p] += sign * w.count
			if sign > 0 {
				where[p] = append(where[p], wi)
			}
		}
	}
	for wi := range words {
		addPairs(wi, 1)
	}
	for len(tokens) < size {
		bestN := 1
		for _, n := range pairs {
			bestN = max(bestN, n)
		}
		if bestN < 2 {
			break // nothing repeats any more: the corpus is exhausted
		}
		best, bestText := uint64(0), ""
		for p, n := range pairs {
			if n == bestN {
				if t := tokens[p>>32] + tokens[p&0xffffffff]; bestText == "" || t < bestText {
					best, bestText = p, t
				}
			}
		}
		a, b := int(best>>32), int(best&0xffffffff)
		merges = append(merges, tokens[a]+" "+tokens[b])
		id, ok := index[bestText]
		if !ok {
			id = len(tokens)
			tokens = append(tokens, bestText)
			index[bestText] = id
		}
		seen := map[int]bool{}
		for _, wi := range where[best] {
			if seen[wi] {
				continue
			}
			seen[wi] = true
			s := words[wi].syms
			if !containsPair(s, a, b) {
				continue // stale entry: an earlier merge consumed the pair
			}
			addPairs(wi, -1)
			out := make([]int, 0, len(s))
			for j := 0; j < len(s); j++ {
				if j+1 < len(s) && s[j] == a && s[j+1] == b {
					out = append(out, id)
					j++
				} else {
					out = append(out, s[j])
				}
			}
			words[wi].syms = out
			addPairs(wi, 1)
		}
		delete(where, best)
		for p, n := range pairs {
			if n == 0 {
				delete(pairs, p)
			}
		}
	}
	return tokens, merges
}

func containsPair(s []int, a, b int) bool {
	for j := 0; j+1 < len(s); j++ {
		if s[j] == a && s[j+1] == b {
			return true
		}
	}
	return false
}

// checkVocab verifies the invariants a BPE tokenizer relies on: unique
// tokens, every merge joins two existing tokens into an existing token.
func checkVocab(v *Vocab) error {
	if len(v.Tokens) != len(v.Types) {
		return fmt.Errorf("%d tokens but %d token types", len(v.Tokens), len(v.Types))
	}
	index := make(map[string]int, len(v.Tokens))
	for i, t := range v.Tokens {
		if j, dup := index[t]; dup {
			return fmt.Errorf("token %q appears at ids %d and %d", t, j, i)
		}
		index[t] = i
	}
	for r, m := range v.Merges {
		a, b, ok := strings.Cut(m, " ")
		if !ok {
			return fmt.Errorf("merge %d %q has no space", r, m)
		}
		for _, part := range []string{a, b, a + b} {
			if _, ok := index[part]; !ok {
				return fmt.Errorf("merge %d %q: %q is not a token", r, m, part)
			}
		}
	}
	return nil
}
