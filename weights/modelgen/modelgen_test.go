package modelgen

import (
	"bytes"
	"crypto/sha256"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"smallthinker/weights/arch"
	"smallthinker/weights/gguf"
	"smallthinker/weights/quant"
)

func generate(t *testing.T, o Options) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Generate(&buf, o); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func parse(t *testing.T, b []byte) *gguf.File {
	t.Helper()
	f, err := gguf.Parse(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestTinyFilesMatchSchema(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    Options
	}{
		{"q4_0", Options{Preset: "tiny", Type: gguf.Q4_0}},
		{"q8_0-swa", Options{Preset: "tiny", Type: gguf.Q8_0, SWA: true}},
		{"f16-tdown", Options{Preset: "tiny", Type: gguf.F16, TransposeDown: true}},
		{"bf16", Options{Preset: "tiny", Type: gguf.BF16, Seed: 7}},
		{"f32-swa-tdown", Options{Preset: "tiny", Type: gguf.F32, SWA: true, TransposeDown: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := parse(t, generate(t, tc.o))
			c, err := arch.ReadConfig(f)
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Validate(f); err != nil {
				t.Fatal(err)
			}
			want, _ := Config(tc.o)
			if *c != *want {
				t.Errorf("read config %+v\nwant %+v", *c, *want)
			}
			if len(f.Tensors) != 2+10*c.Layers {
				t.Errorf("%d tensors, want %d", len(f.Tensors), 2+10*c.Layers)
			}
			for _, ti := range f.Tensors {
				wantType := tc.o.Type
				if len(ti.Dims) == 1 || strings.HasSuffix(ti.Name, "ffn_gate_inp.weight") {
					wantType = gguf.F32
				}
				if ti.Type != wantType {
					t.Errorf("%s is %s, want %s", ti.Name, ti.Type, wantType)
				}
			}
			eos, _ := f.Uint32("tokenizer.ggml.eos_token_id")
			toks, _ := f.Strings("tokenizer.ggml.tokens")
			if int(eos) >= len(toks) || toks[eos] != IMEnd {
				t.Errorf("eos id %d is not %s", eos, IMEnd)
			}
			if d, _ := f.String("general.description"); d != RandomDescription {
				t.Errorf("description %q", d)
			}
		})
	}
}

func TestDeterministic(t *testing.T) {
	o := Options{Preset: "tiny", Type: gguf.Q4_0, Seed: 42}
	a, b := generate(t, o), generate(t, o)
	if !bytes.Equal(a, b) {
		t.Fatal("same seed gave different files")
	}
	o.Seed = 43
	if bytes.Equal(a, generate(t, o)) {
		t.Fatal("different seeds gave the same file")
	}
}

// A multi-chunk tensor must not depend on how many goroutines filled it.
func TestChunksIndependentOfWorkers(t *testing.T) {
	for _, typ := range []gguf.TensorType{gguf.Q4_0, gguf.Q8_0, gguf.F16} {
		var outs [][]byte
		rows := chunkTarget/typ.RowSize(256) + 500 // just over one chunk
		for _, workers := range []int{1, 3} {
			g := &tensorGen{typ: typ, dims: []uint64{256, uint64(rows)}, dist: distribution{std: 0.1}, seed: 9, workers: workers}
			var buf bytes.Buffer
			if err := g.write(&buf); err != nil {
				t.Fatal(err)
			}
			if want := typ.RowSize(256) * rows; buf.Len() != want || want <= chunkTarget {
				t.Fatalf("%s: wrote %d bytes, want %d (> one chunk)", typ, buf.Len(), want)
			}
			outs = append(outs, buf.Bytes())
		}
		if !bytes.Equal(outs[0], outs[1]) {
			t.Errorf("%s: 1 and 3 workers gave different data", typ)
		}
	}
}

func TestWeightStatistics(t *testing.T) {
	for _, typ := range []gguf.TensorType{gguf.Q4_0, gguf.Q8_0, gguf.F16, gguf.BF16, gguf.F32} {
		f := parse(t, generate(t, Options{Preset: "tiny", Type: typ, Seed: 3}))
		for _, tc := range []struct {
			name       string
			mean, std  float64
			tolM, tolS float64
		}{
			{"token_embd.weight", 0, 0.375, 0.02, 0.05},
			{"blk.1.attn_q.weight", 0, 1.0 / 8, 0.01, 0.02},
			{"blk.2.ffn_down_exps.weight", 0, 1 / math.Sqrt(32), 0.02, 0.03},
			{"blk.0.ffn_gate_inp.weight", 0, 3.0 / 8, 0.05, 0.05},
			{"blk.3.ffn_norm.weight", 1, 0.05, 0.03, 0.03},
		} {
			ti, _ := f.Tensor(tc.name)
			raw, err := f.ReadTensor(ti)
			if err != nil {
				t.Fatal(err)
			}
			vals := make([]float32, ti.Elements())
			if err := quant.DequantizeRow(ti.Type, raw, vals); err != nil {
				t.Fatal(err)
			}
			var sum, sq float64
			for _, v := range vals {
				sum += float64(v)
			}
			mean := sum / float64(len(vals))
			for _, v := range vals {
				sq += (float64(v) - mean) * (float64(v) - mean)
			}
			std := math.Sqrt(sq / float64(len(vals)))
			if math.Abs(mean-tc.mean) > tc.tolM || math.Abs(std-tc.std) > tc.tolS*math.Max(1, tc.std/0.1) {
				t.Errorf("%s %s: mean %.4f std %.4f, want %.4f %.4f", typ, tc.name, mean, std, tc.mean, tc.std)
			}
		}
	}
}

// The full-size presets must have the parameter counts of the real models (spec §1.3).
func TestFullSizeShapes(t *testing.T) {
	for _, tc := range []struct {
		preset string
		params uint64
		swa    bool
	}{{"4b", 4268459520, false}, {"21b", 21506562560, true}} {
		c, err := Config(Options{Preset: tc.preset, Type: gguf.Q4_0})
		if err != nil {
			t.Fatal(err)
		}
		var n uint64
		for _, s := range c.Tensors(true) {
			e := uint64(1)
			for _, d := range s.Dims {
				e *= d
			}
			n += e
		}
		if n != tc.params {
			t.Errorf("%s: %d parameters, want %d", tc.preset, n, tc.params)
		}
		kvs, err := metadata(Options{Preset: tc.preset, Type: gguf.Q4_0}, c, FullSizeVocab())
		if err != nil {
			t.Fatal(err)
		}
		has := false
		for _, kv := range kvs {
			has = has || kv.Key == "smallthinker.attention.sliding_window"
		}
		if has != tc.swa {
			t.Errorf("%s: sliding_window present %v, want %v", tc.preset, has, tc.swa)
		}
	}
	if _, err := Config(Options{Preset: "4b", SWA: true}); err == nil {
		t.Error("--swa accepted for the 4b preset")
	}
	if _, err := Config(Options{Preset: "7b"}); err == nil {
		t.Error("unknown preset accepted")
	}
}

func TestVocabularies(t *testing.T) {
	tiny, full := TinyVocab(), FullSizeVocab()
	for name, v := range map[string]*Vocab{"tiny": tiny, "full": full} {
		if err := checkVocab(v); err != nil {
			t.Errorf("%s: %v", name, err)
		}
		if v.Tokens[v.EOS] != IMEnd || v.Tokens[v.BOS] != EndOfText || v.Types[v.EOS] != TypeControl {
			t.Errorf("%s: bad special ids", name)
		}
	}
	if len(tiny.Tokens) != 1024 || len(full.Tokens) != FullVocab {
		t.Errorf("sizes %d %d", len(tiny.Tokens), len(full.Tokens))
	}
	if full.Tokens[FullIMStart] != IMStart || full.Tokens[2000] != "[PAD2000]" || full.Types[2000] != TypeUnused {
		t.Error("full vocabulary layout differs from Qwen2's")
	}
	if tiny.Tokens[0] != "!" || tiny.Tokens[188] != "Ā" {
		t.Errorf("byte tokens not in GPT-2 order: %q %q", tiny.Tokens[0], tiny.Tokens[188])
	}
}

// bpeEncode is a plain reference BPE (lowest-rank merge first within each
// pre-token), enough to check that the merges compress and round-trip text.
func bpeEncode(v *Vocab, text string) []int {
	_, runes := byteToUnicode()
	rank := map[string]int{}
	for i, m := range v.Merges {
		if _, ok := rank[m]; !ok {
			rank[m] = i
		}
	}
	index := map[string]int{}
	for i, tok := range v.Tokens {
		index[tok] = i
	}
	var ids []int
	for _, w := range pretokenize(text) {
		var syms []string
		for i := 0; i < len(w); i++ {
			syms = append(syms, string(runes[w[i]]))
		}
		for {
			best, at := math.MaxInt, -1
			for j := 0; j+1 < len(syms); j++ {
				if r, ok := rank[syms[j]+" "+syms[j+1]]; ok && r < best {
					best, at = r, j
				}
			}
			if at < 0 {
				break
			}
			syms = append(syms[:at], append([]string{syms[at] + syms[at+1]}, syms[at+2:]...)...)
		}
		for _, s := range syms {
			ids = append(ids, index[s])
		}
	}
	return ids
}

func bpeDecode(v *Vocab, ids []int) string {
	_, runes := byteToUnicode()
	back := map[rune]byte{}
	for b, r := range runes {
		back[r] = byte(b)
	}
	var out []byte
	for _, id := range ids {
		for _, r := range v.Tokens[id] {
			out = append(out, back[r])
		}
	}
	return string(out)
}

func TestBPERoundTrip(t *testing.T) {
	v := TinyVocab()
	for _, text := range []string{
		"Hello! How can I help you today?",
		"The quick brown fox jumps over the lazy dog. Tom painted the fence.",
		"Numbers 12345 and symbols #$%^ and unicode: naïve café 日本語 🙂\n\n\tend",
	} {
		ids := bpeEncode(v, text)
		if got := bpeDecode(v, ids); got != text {
			t.Errorf("round trip %q -> %q", text, got)
		}
		if strings.HasPrefix(text, "The") && len(ids) > len(text)/2 {
			t.Errorf("merges barely compress English: %d tokens for %d bytes", len(ids), len(text))
		}
	}
}

func TestWriteFileAtomic(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "m.gguf")
	start := time.Now()
	if err := WriteFile(p, Options{Preset: "tiny", Type: gguf.Q4_0, Seed: 5}); err != nil {
		t.Fatal(err)
	}
	t.Logf("tiny q4_0 written in %v", time.Since(start))
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if sha256.Sum256(b) != sha256.Sum256(generate(t, Options{Preset: "tiny", Type: gguf.Q4_0, Seed: 5})) {
		t.Error("WriteFile and Generate differ")
	}
	bad := filepath.Join(dir, "bad.gguf")
	if err := WriteFile(bad, Options{Preset: "tiny", Type: gguf.IQ2_XXS}); err == nil {
		t.Error("unsupported type accepted")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("directory holds %d entries, want only m.gguf", len(entries))
	}
}

func BenchmarkTrainBPE(b *testing.B) {
	for range b.N {
		trainBPE(corpus, LearnedTokens)
	}
}

// Every writable type generates a valid model; rows shorter than a K-quant
// super-block fall back like llama.cpp's quantizer; the Q4_K_M mix puts Q6_K
// where llama.cpp does.
func TestAllTypesAndQ4KMMix(t *testing.T) {
	for _, name := range []string{"q4_1", "q5_0", "q5_1", "q2_k", "q3_k", "q4_k", "q5_k", "q6_k"} {
		typ, err := quant.TypeByName(name)
		if err != nil {
			t.Fatal(err)
		}
		f := parse(t, generate(t, Options{Preset: "tiny", Type: typ, Seed: 3}))
		c, err := arch.ReadConfig(f)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := c.Validate(f); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		q, _ := f.Tensor("blk.0.attn_q.weight")
		if want := fallbackType(typ); q.Type != want {
			t.Errorf("%s: attn_q is %s, want %s (64-wide rows)", name, q.Type, want)
		}
	}
	if got := q4kmType("output.weight", 32); got != gguf.Q6_K {
		t.Errorf("output.weight: %s", got)
	}
	if got := q4kmType("blk.5.attn_v.weight", 32); got != gguf.Q6_K {
		t.Errorf("attn_v: %s", got)
	}
	if got := q4kmType("blk.0.ffn_down_exps.weight", 32); got != gguf.Q6_K {
		t.Errorf("first layers' ffn_down: %s", got)
	}
	if got := q4kmType("blk.5.ffn_down_exps.weight", 32); got != gguf.Q4_K {
		t.Errorf("blk.5 ffn_down: %s", got)
	}
	if got := q4kmType("blk.5.attn_q.weight", 32); got != gguf.Q4_K {
		t.Errorf("attn_q: %s", got)
	}
}
