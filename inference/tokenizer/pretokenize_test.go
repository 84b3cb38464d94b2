package tokenizer

import (
	"encoding/json"
	"os"
	"slices"
	"testing"
)

func split(f splitFunc, s string) []string {
	var words []string
	splitWords(f, s, nil, func(a, b int) { words = append(words, s[a:b]) })
	return words
}

// TestPretokenizeOracle compares the hand-written scanners with splits made
// by a backtracking regex engine (testdata/gen_pretokenize.py).
func TestPretokenizeOracle(t *testing.T) {
	raw, err := os.ReadFile("testdata/pretokenize.json")
	if err != nil {
		t.Fatal(err)
	}
	var rows []map[string]any
	if err := json.Unmarshal(raw, &rows); err != nil {
		t.Fatal(err)
	}
	if len(rows) < 100 {
		t.Fatalf("only %d oracle rows", len(rows))
	}
	for _, name := range []string{"qwen2", "gpt2"} {
		for _, row := range rows {
			text := row["text"].(string)
			var want []string
			for _, w := range row[name].([]any) {
				want = append(want, w.(string))
			}
			if got := split(pretokenizers[name], text); !slices.Equal(got, want) {
				t.Errorf("%s split(%q)\n got %q\nwant %q", name, text, got, want)
			}
		}
	}
}

func TestPretokenizeQwen2(t *testing.T) {
	cases := []struct {
		in   string
		want []string
	}{
		{"", nil},
		{"Hello world", []string{"Hello", " world"}},
		{"a  b", []string{"a", " ", " b"}},
		{"x \n\t y", []string{"x", " \n", "\t", " y"}},
		{"end  ", []string{"end", "  "}},
		{"a\n\n b", []string{"a", "\n\n", " b"}},
		{"12345", []string{"1", "2", "3", "4", "5"}},
		{"it's", []string{"it", "'s"}},
		{"IT'S", []string{"IT", "'S"}},
		{"'sup", []string{"'s", "up"}},
		{"(word", []string{"(word"}},
		{"\tword", []string{"\tword"}},
		{"\nword", []string{"\n", "word"}},
		{"a ... b", []string{"a", " ...", " b"}},
		{"!!\n\nx", []string{"!!\n\n", "x"}},
		{"  !", []string{" ", " !"}},
		{"x\u00a0y", []string{"x", "\u00a0y"}},
		{"x²", []string{"x", "²"}},
	}
	for _, c := range cases {
		if got := split(splitQwen2, c.in); !slices.Equal(got, c.want) {
			t.Errorf("split(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
