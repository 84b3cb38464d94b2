package tokenizer

import (
	"bufio"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"smallthinker/weights/gguf"
)

// testdata is the shared golden data, relative to this package directory.
const testdata = "../../../shared/testdata"

var (
	loadOnce sync.Map // model path → *loaded
)

type loaded struct {
	once sync.Once
	tok  *Tokenizer
	err  error
}

// loadModel builds the tokenizer of a test model, skipping when the shared
// test data is absent.
func loadModel(t testing.TB, rel string) *Tokenizer {
	t.Helper()
	path := filepath.Join(testdata, rel)
	if _, err := os.Stat(path); err != nil {
		t.Skipf("shared test data not found (%v); skipping", err)
	}
	v, _ := loadOnce.LoadOrStore(path, &loaded{})
	l := v.(*loaded)
	l.once.Do(func() {
		f, err := gguf.Open(path)
		if err != nil {
			l.err = err
			return
		}
		defer f.Close()
		l.tok, l.err = FromGGUF(f)
	})
	if l.err != nil {
		t.Fatalf("load %s: %v", rel, l.err)
	}
	return l.tok
}

const fullVocab = "models/tiny-fullvocab-sigmoid-q4_0.gguf"

type tokenizerCase struct {
	Text         string `json:"text"`
	ParseSpecial bool   `json:"parse_special"`
	IDs          []int  `json:"ids"`
}

func readTokenizerCases(t *testing.T, path string) []tokenizerCase {
	t.Helper()
	fh, err := os.Open(path)
	if err != nil {
		t.Skipf("test data not found (%v); skipping", err)
	}
	defer fh.Close()
	var cases []tokenizerCase
	sc := bufio.NewScanner(fh)
	sc.Buffer(nil, 1<<24)
	for sc.Scan() {
		var c tokenizerCase
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			t.Fatalf("%s line %d: %v", path, len(cases)+1, err)
		}
		cases = append(cases, c)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if len(cases) == 0 {
		t.Fatalf("%s is empty", path)
	}
	return cases
}

// TestReferenceCases checks the reference engine's own tokenizer outputs.
func TestReferenceCases(t *testing.T) {
	checkCases(t, readTokenizerCases(t, filepath.Join(testdata, "tokenizer-cases.jsonl")))
}

// TestRandomCases checks random mixed texts against testdata/ref_bpe.py, a
// simple independent implementation that reproduces every reference case.
func TestRandomCases(t *testing.T) {
	checkCases(t, readTokenizerCases(t, "testdata/random-cases.jsonl"))
}

func checkCases(t *testing.T, cases []tokenizerCase) {
	tok := loadModel(t, fullVocab)
	for i, c := range cases {
		got := tok.Encode(c.Text, c.ParseSpecial)
		if !slices.Equal(got, c.IDs) {
			t.Errorf("case %d Encode(%q, special=%v)\n got %v\nwant %v", i, c.Text, c.ParseSpecial, got, c.IDs)
		}
		if back := tok.Decode(got); back != c.Text {
			t.Errorf("case %d Decode(Encode(%q)) = %q", i, c.Text, back)
		}
	}
}

type engineCase struct {
	Name      string  `json:"name"`
	Model     string  `json:"model"`
	Prompt    *string `json:"prompt_chatml_user"`
	PromptIDs []int   `json:"prompt_ids"`
}

func TestChatMLPrompts(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join(testdata, "cases.json"))
	if err != nil {
		t.Skipf("shared test data not found (%v); skipping", err)
	}
	var cases []engineCase
	if err := json.Unmarshal(raw, &cases); err != nil {
		t.Fatalf("cases.json: %v", err)
	}
	n := 0
	for _, c := range cases {
		if c.Prompt == nil {
			continue
		}
		n++
		tok := loadModel(t, c.Model)
		prompt := "<|im_start|>user\n" + *c.Prompt + "<|im_end|>\n<|im_start|>assistant\n"
		got := tok.Encode(prompt, true)
		if !slices.Equal(got, c.PromptIDs) {
			t.Errorf("%s (%s): Encode(%q)\n got %v\nwant %v", c.Name, c.Model, prompt, got, c.PromptIDs)
		}
	}
	t.Logf("%d ChatML prompts checked", n)
	if n == 0 {
		t.Fatal("cases.json has no ChatML prompt case")
	}
}
