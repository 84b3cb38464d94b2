package tokenizer

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"

	"smallthinker/weights/gguf"
)

// toy is a small vocabulary: the 256 byte tokens (id = byte value), a few
// merges, specials and a padding row.
type toy struct {
	tokens []string
	types  []int32
	merges []string
}

func newToy() *toy {
	v := &toy{}
	for b := 0; b < 256; b++ {
		v.add(byteToText[b], TypeNormal)
	}
	for _, m := range []string{"a b", "b c", "ab c", "a a", "Ġ w", "x y"} {
		v.merges = append(v.merges, m)
		if m != "x y" { // "xy" deliberately missing from the vocabulary
			v.add(strings.ReplaceAll(m, " ", ""), TypeNormal)
		}
	}
	v.add("<|end|>", TypeControl)
	v.add("<|ab|>", TypeControl)
	v.add("<|ab|>z", TypeControl)
	v.add("<u>", TypeUserDefined)
	v.add("[PAD0]", TypeUnused)
	return v
}

func (v *toy) add(s string, ty int32) {
	v.tokens = append(v.tokens, s)
	v.types = append(v.types, ty)
}

func (v *toy) build(t testing.TB) *Tokenizer {
	t.Helper()
	tok, err := New(v.tokens, v.types, v.merges, Options{Pre: "qwen2", BOS: NoToken, EOS: 256 + 5, Pad: NoToken})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestToyEncode(t *testing.T) {
	tok := newToy().build(t)
	id := func(s string) int {
		i, ok := tok.TokenID(s)
		if !ok {
			t.Fatalf("no token %q", s)
		}
		return i
	}
	cases := []struct {
		text    string
		special bool
		want    []int
	}{
		{"abc", false, []int{id("abc")}},           // a+b (rank 0) before b+c (rank 1), then ab+c
		{"bc", false, []int{id("bc")}},             //
		{"aaa", false, []int{id("aa"), 'a'}},       // equal ranks: leftmost pair first
		{"aaaa", false, []int{id("aa"), id("aa")}}, //
		{"xy", false, []int{'x', 'y'}},             // merged symbol not in vocabulary: its bytes
		{"a w", false, []int{'a', id("Ġw")}},       // space joins the word; byte alphabet
		{"<|end|>", true, []int{id("<|end|>")}},    //
		{"<|end|>", false, []int{'<', '|', 'e', 'n', 'd', '|', '>'}},
		{"<|ab|>z", true, []int{id("<|ab|>z")}}, // longest special first
		{"<|ab|><|ab|>", true, []int{id("<|ab|>"), id("<|ab|>")}},
		{"q<u>q", false, []int{'q', id("<u>"), 'q'}},          // user-defined tokens always match
		{"[PAD0]", true, []int{'[', 'P', 'A', 'D', '0', ']'}}, // unused rows are never matched
		{"", true, []int{}},
	}
	for _, c := range cases {
		got := tok.Encode(c.text, c.special)
		if !slices.Equal(got, c.want) {
			t.Errorf("Encode(%q, %v) = %v, want %v", c.text, c.special, got, c.want)
		}
		if back := tok.Decode(got); back != c.text {
			t.Errorf("Decode(Encode(%q)) = %q", c.text, back)
		}
	}
}

func TestEndMarkersBecomeControl(t *testing.T) {
	v := newToy()
	v.add("<|im_end|>", TypeNormal) // mistyped in the file
	types := slices.Clone(v.types)
	tok, err := New(v.tokens, types, v.merges, Options{BOS: NoToken, EOS: NoToken, Pad: NoToken})
	if err != nil {
		t.Fatal(err)
	}
	id, _ := tok.TokenID("<|im_end|>")
	if got := tok.Encode("a<|im_end|>", true); !slices.Equal(got, []int{'a', id}) {
		t.Errorf("Encode = %v, want [97 %d]", got, id)
	}
	if !tok.IsEOG(id) || tok.Type(id) != TypeControl || tok.DecodeSkipSpecial([]int{id}) != "" {
		t.Errorf("IsEOG=%v Type=%d", tok.IsEOG(id), tok.Type(id))
	}
	if !slices.Equal(types, v.types) {
		t.Error("New modified the caller's types")
	}
}

func TestToyDecode(t *testing.T) {
	tok := newToy().build(t)
	end, _ := tok.TokenID("<|end|>")
	pad, _ := tok.TokenID("[PAD0]")
	u, _ := tok.TokenID("<u>")
	ids := []int{'h', 'i', end, u, pad, -1, 1 << 30}
	if got := tok.Decode(ids); got != "hi<|end|><u>" {
		t.Errorf("Decode = %q", got)
	}
	if got := tok.DecodeSkipSpecial(ids); got != "hi<u>" {
		t.Errorf("DecodeSkipSpecial = %q", got)
	}
	if !tok.IsEOG(end) || tok.IsEOG('h') || tok.EOS() != end {
		t.Errorf("EOG: IsEOG(end)=%v IsEOG(h)=%v EOS=%d", tok.IsEOG(end), tok.IsEOG('h'), tok.EOS())
	}
	if tok.Token(end) != "<|end|>" || tok.Token(-1) != "" || tok.VocabSize() != len(newToy().tokens) {
		t.Error("Token/VocabSize")
	}
}

func TestStreamDecoder(t *testing.T) {
	tok := newToy().build(t)
	end, _ := tok.TokenID("<|end|>")
	cases := []struct {
		name string
		ids  []int
		skip bool
		want []string // output of each Push, then Flush
	}{
		{"ascii", []int{'o', 'k'}, false, []string{"o", "k", ""}},
		{"char across tokens", []int{0xE6, 0x97, 0xA5, '!'}, false, []string{"", "", "日", "!", ""}},
		{"emoji", []int{0xF0, 0x9F, 0x98, 0x80}, false, []string{"", "", "", "😀", ""}},
		{"invalid byte", []int{0xFF, 'a'}, false, []string{"\uFFFD", "a", ""}},
		{"broken sequence", []int{0xE6, 'a'}, false, []string{"", "\uFFFDa", ""}},
		{"incomplete at end", []int{'a', 0xE6, 0x97}, false, []string{"a", "", "", "\uFFFD"}},
		{"special", []int{'a', end}, false, []string{"a", "<|end|>", ""}},
		{"skip special", []int{'a', end}, true, []string{"a", "", ""}},
	}
	for _, c := range cases {
		d := tok.NewStreamDecoder()
		d.SkipSpecial = c.skip
		var got []string
		for _, id := range c.ids {
			got = append(got, d.Push(id))
		}
		got = append(got, d.Flush())
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: got %q, want %q", c.name, got, c.want)
		}
		if after := d.Push('z'); after != "z" {
			t.Errorf("%s: after Flush, Push = %q", c.name, after)
		}
	}
}

func TestNewErrors(t *testing.T) {
	v := newToy()
	cases := []struct {
		name   string
		tokens []string
		types  []int32
		opts   Options
		want   string
	}{
		{"empty", nil, nil, Options{BOS: NoToken, EOS: NoToken, Pad: NoToken}, "empty vocabulary"},
		{"types", v.tokens, v.types[:3], Options{BOS: NoToken, EOS: NoToken, Pad: NoToken}, "token types"},
		{"pre", v.tokens, v.types, Options{Pre: "llama-bpe", BOS: NoToken, EOS: NoToken, Pad: NoToken}, "unsupported pre-tokenizer"},
		{"eos", v.tokens, v.types, Options{BOS: NoToken, EOS: 1 << 20, Pad: NoToken}, "EOS token id"},
		{"eog", v.tokens, v.types, Options{BOS: NoToken, EOS: NoToken, Pad: NoToken, ExtraEOG: []int{-5}}, "end-of-generation id"},
	}
	for _, c := range cases {
		_, err := New(c.tokens, c.types, v.merges, c.opts)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want %q", c.name, err, c.want)
		}
	}
}

// ggufWith writes a header-only GGUF holding kvs and parses it back.
func ggufWith(t *testing.T, kvs []gguf.KV) *gguf.File {
	t.Helper()
	var buf bytes.Buffer
	if err := gguf.Write(&buf, kvs, nil); err != nil {
		t.Fatal(err)
	}
	f, err := gguf.Parse(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestFromGGUF(t *testing.T) {
	v := newToy()
	base := func(model, pre string, types []int32) []gguf.KV {
		kvs := []gguf.KV{{Key: "tokenizer.ggml.model", Value: gguf.String(model)}}
		if pre != "" {
			kvs = append(kvs, gguf.KV{Key: "tokenizer.ggml.pre", Value: gguf.String(pre)})
		}
		kvs = append(kvs,
			gguf.KV{Key: "tokenizer.ggml.tokens", Value: gguf.Strings(v.tokens)},
			gguf.KV{Key: "tokenizer.ggml.token_type", Value: gguf.Int32s(types)},
			gguf.KV{Key: "tokenizer.ggml.merges", Value: gguf.Strings(v.merges)},
			gguf.KV{Key: "tokenizer.ggml.eos_token_id", Value: gguf.Uint32(256 + 5)},
			gguf.KV{Key: "tokenizer.ggml.eot_token_id", Value: gguf.Uint32('q')},
		)
		return kvs
	}
	tok, err := FromGGUF(ggufWith(t, base("gpt2", "qwen2", v.types)))
	if err != nil {
		t.Fatal(err)
	}
	if got := tok.Encode("abc<|end|>", true); !slices.Equal(got, []int{256 + 2, 256 + 5}) {
		t.Errorf("Encode = %v", got)
	}
	if !tok.IsEOG('q') || tok.BOS() != NoToken || tok.Pre() != "qwen2" {
		t.Errorf("IsEOG(eot)=%v BOS=%d pre=%q", tok.IsEOG('q'), tok.BOS(), tok.Pre())
	}
	badType := slices.Clone(v.types)
	badType[7] = 9
	for _, c := range []struct {
		name string
		kvs  []gguf.KV
		want string
	}{
		{"llama", base("llama", "qwen2", v.types), `model "llama" is not supported`},
		{"no pre", base("gpt2", "", v.types), "tokenizer.ggml.pre"},
		{"bad pre", base("gpt2", "tekken", v.types), "unsupported pre-tokenizer"},
		{"bad type", base("gpt2", "qwen2", badType), "invalid type 9"},
		{"no tokens", []gguf.KV{{Key: "tokenizer.ggml.model", Value: gguf.String("gpt2")}, {Key: "tokenizer.ggml.pre", Value: gguf.String("qwen2")}}, "tokenizer.ggml.tokens"},
	} {
		_, err := FromGGUF(ggufWith(t, c.kvs))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: err = %v, want %q", c.name, err, c.want)
		}
	}
	_, err = FromGGUF(ggufWith(t, []gguf.KV{{Key: "general.architecture", Value: gguf.String("x")}}))
	if !errors.Is(err, gguf.ErrMissing) {
		t.Errorf("no tokenizer: err = %v, want ErrMissing", err)
	}
}

func TestFullVocabularyFacts(t *testing.T) {
	tok := loadModel(t, fullVocab)
	if tok.VocabSize() != 151936 || tok.EOS() != 151645 {
		t.Fatalf("VocabSize=%d EOS=%d", tok.VocabSize(), tok.EOS())
	}
	// llama.cpp's EOG set for this vocabulary: <|endoftext|>, <|im_end|> and the FIM pad/repo/file-separator tokens.
	if got, want := tok.EOGs(), []int{151643, 151645, 151662, 151663, 151664}; !slices.Equal(got, want) {
		t.Errorf("EOGs = %v, want %v", got, want)
	}
	if id, ok := tok.TokenID("<|im_start|>"); !ok || id != 151644 {
		t.Errorf("TokenID(<|im_start|>) = %d, %v", id, ok)
	}
	if got := tok.Decode([]int{151667, 151669}); got != "<think>" {
		t.Errorf("Decode(<think>, PAD) = %q", got)
	}
}

func TestConcurrentEncode(t *testing.T) {
	tok := newToy().build(t)
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 200; i++ {
				s := strings.Repeat("abc aa xy ", i%7+1)
				if got := tok.Decode(tok.Encode(s, true)); got != s {
					t.Errorf("round trip %q -> %q", s, got)
					return
				}
			}
		}()
	}
	wg.Wait()
}
