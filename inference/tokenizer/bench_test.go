package tokenizer

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"smallthinker/weights/gguf"
)

// benchText is about 1 MB of mixed English prose, code and other scripts:
// Go's own source (comments and code) plus the reference tokenizer cases.
func benchText(b *testing.B) string {
	var sb strings.Builder
	for _, name := range []string{"net/http/server.go", "fmt/doc.go", "strings/strings.go", "encoding/json/decode.go"} {
		if raw, err := os.ReadFile(filepath.Join(runtime.GOROOT(), "src", name)); err == nil {
			sb.Write(raw)
		}
	}
	if raw, err := os.ReadFile(filepath.Join(testdata, "tokenizer-cases.jsonl")); err == nil {
		sb.Write(raw)
	}
	if sb.Len() == 0 {
		b.Skip("no benchmark text found")
	}
	base := sb.String()
	for sb.Len() < 1<<20 {
		sb.WriteString(base)
	}
	return sb.String()
}

// BenchmarkEncode measures throughput with a warm word cache (typical of chat
// text, where words repeat).
func BenchmarkEncode(b *testing.B) {
	tok := loadModel(b, fullVocab)
	text := benchText(b)
	tok.Encode(text, true)
	b.SetBytes(int64(len(text)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		tok.Encode(text, true)
	}
}

// BenchmarkEncodeCold clears the word cache before every run, so every
// distinct word goes through the BPE merge loop once per run.
func BenchmarkEncodeCold(b *testing.B) {
	tok := loadModel(b, fullVocab)
	text := benchText(b)
	b.SetBytes(int64(len(text)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		tok.cacheMu.Lock()
		clear(tok.cache)
		tok.cacheMu.Unlock()
		tok.Encode(text, true)
	}
}

// BenchmarkEncodeNoCache runs BPE on every word occurrence (worst case).
func BenchmarkEncodeNoCache(b *testing.B) {
	tok := loadModel(b, fullVocab)
	text := benchText(b)[:256<<10]
	b.SetBytes(int64(len(text)))
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		var st encodeState
		splitWords(tok.split, text, nil, func(a, e int) { tok.bpe(&st, text[a:e]) })
	}
}

// BenchmarkFromGGUF measures building the tokenizer from the real file's header.
func BenchmarkFromGGUF(b *testing.B) {
	path := filepath.Join(testdata, fullVocab)
	if _, err := os.Stat(path); err != nil {
		b.Skipf("shared test data not found (%v)", err)
	}
	for i := 0; i < b.N; i++ {
		f, err := gguf.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := FromGGUF(f); err != nil {
			b.Fatal(err)
		}
		f.Close()
	}
}

// BenchmarkNew measures building from already-decoded metadata arrays.
func BenchmarkNew(b *testing.B) {
	path := filepath.Join(testdata, fullVocab)
	f, err := gguf.Open(path)
	if err != nil {
		b.Skipf("shared test data not found (%v)", err)
	}
	defer f.Close()
	tokens, _ := f.Strings("tokenizer.ggml.tokens")
	raw, _ := f.Ints("tokenizer.ggml.token_type")
	merges, _ := f.Strings("tokenizer.ggml.merges")
	types := make([]int32, len(raw))
	for i, v := range raw {
		types[i] = int32(v)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, err := New(tokens, types, merges, Options{Pre: "qwen2", BOS: NoToken, EOS: NoToken, Pad: NoToken}); err != nil {
			b.Fatal(err)
		}
	}
}
