package tokenizer

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

// fuzzTokenizer is the real vocabulary when the shared test data is present,
// else the toy one.
func fuzzTokenizer(t testing.TB) *Tokenizer {
	if _, err := os.Stat(filepath.Join(testdata, fullVocab)); err == nil {
		return loadModel(t, fullVocab)
	}
	return newToy().build(t)
}

func FuzzEncode(f *testing.F) {
	for _, s := range []string{
		"", " ", "Hello, world!", "a  b   c", "line1\r\n\r\nline2\n", "I'M FINE, it's 'quoted'",
		"<|im_start|>user\nHi<|im_end|>\n", "<think>x</think>", "<|im_start", "日本語のテキスト", "👨‍👩‍👧 family",
		"\xff\xfe broken \xe6\x97", "\u00a0\u3000\u2028\u0085", "x = -1.5e-10", "\t\t\tcode();\n",
	} {
		f.Add(s, true)
		f.Add(s, false)
	}
	tok := fuzzTokenizer(f)
	f.Fuzz(func(t *testing.T, s string, special bool) {
		ids := tok.Encode(s, special)
		for _, id := range ids {
			if id < 0 || id >= tok.VocabSize() {
				t.Fatalf("Encode(%q) produced id %d outside the vocabulary", s, id)
			}
		}
		want := s
		if !utf8.ValidString(s) {
			want = sanitizeUTF8(s)
		}
		if got := tok.Decode(ids); got != want {
			t.Fatalf("Decode(Encode(%q, %v)) = %q", s, special, got)
		}
		d := tok.NewStreamDecoder()
		var b strings.Builder
		for _, id := range ids {
			b.WriteString(d.Push(id))
		}
		b.WriteString(d.Flush())
		if b.String() != want {
			t.Fatalf("stream decode of %q = %q", s, b.String())
		}
	})
}

// FuzzStreamDecoder feeds arbitrary bytes as single-byte tokens: the output
// must always be valid UTF-8 and equal the input when the input is valid.
func FuzzStreamDecoder(f *testing.F) {
	f.Add([]byte("héllo 日本 😀"))
	f.Add([]byte{0xE6, 0x97, 0xFF, 0xF0, 0x9F})
	tok := newToy().build(f)
	f.Fuzz(func(t *testing.T, in []byte) {
		d := tok.NewStreamDecoder()
		var b strings.Builder
		for _, c := range in {
			b.WriteString(d.Push(int(c)))
		}
		b.WriteString(d.Flush())
		out := b.String()
		if !utf8.ValidString(out) {
			t.Fatalf("invalid UTF-8 output %q for %q", out, in)
		}
		if utf8.Valid(in) && out != string(in) {
			t.Fatalf("stream decode of %q = %q", in, out)
		}
	})
}
