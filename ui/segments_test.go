package ui

import (
	"reflect"
	"strings"
	"testing"
)

func TestParseMessage(t *testing.T) {
	tests := []struct {
		name     string
		in       string
		thinking string
		open     bool
		segs     []segment
	}{
		{"plain", "Hello **world**", "", false, []segment{{Text: "Hello **world**"}}},
		{"empty", "", "", false, nil},
		{"think then answer", "<think>\nLet me see.\n</think>\n\nIt is 4.", "Let me see.", false,
			[]segment{{Text: "It is 4."}}},
		{"think still open", "<think>Hmm, the user", "Hmm, the user", true, nil},
		{"close without open", "reasoning here</think>Answer", "reasoning here", false, []segment{{Text: "Answer"}}},
		{"two think sections", "<think>a</think>x<think>b</think>y", "a\n\nb", false, []segment{{Text: "xy"}}},
		{"code block", "Try:\n```go\nfmt.Println(1)\n```\nDone.", "", false, []segment{
			{Text: "Try:"}, {Code: true, Lang: "go", Text: "fmt.Println(1)"}, {Text: "Done."}}},
		{"tilde fence, longer close", "~~~\na\n~~~~\n", "", false, []segment{{Code: true, Text: "a"}}},
		{"unclosed fence streams", "x\n```python\ndef f():\n    return", "", false, []segment{
			{Text: "x"}, {Code: true, Lang: "python", Text: "def f():\n    return"}}},
		{"mismatched close is code", "```\na\n~~~\n```", "", false, []segment{{Code: true, Text: "a\n~~~"}}},
		{"four-space indent is not a fence", "    ```\nx", "", false, []segment{{Text: "    ```\nx"}}},
		{"inline backticks stay prose", "use `x` and ``y``", "", false, []segment{{Text: "use `x` and ``y``"}}},
		{"info words after lang", "```js title=a\n1\n```", "", false, []segment{{Code: true, Lang: "js", Text: "1"}}},
		{"empty code block", "```\n```", "", false, []segment{{Code: true, Text: ""}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := parseMessage(tt.in)
			if p.Thinking != tt.thinking || p.ThinkingOpen != tt.open {
				t.Errorf("thinking = %q (open %v), want %q (open %v)", p.Thinking, p.ThinkingOpen, tt.thinking, tt.open)
			}
			if !reflect.DeepEqual(p.Segments, tt.segs) {
				t.Errorf("segments = %#v\nwant %#v", p.Segments, tt.segs)
			}
		})
	}
}

// FuzzParseMessage: model output is untrusted text; parsing must never panic
// and never invent text.
func FuzzParseMessage(f *testing.F) {
	for _, s := range []string{"", "<think>a</think>b", "```go\nx\n```", "~~~\n", "</think><think>", "   ```\n\n```"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p := parseMessage(s)
		total := len(p.Thinking)
		for _, seg := range p.Segments {
			total += len(seg.Text)
			if !seg.Code && strings.TrimSpace(seg.Text) == "" {
				t.Fatalf("blank prose segment in %q", s)
			}
		}
		if total > len(s) {
			t.Fatalf("parsed text (%d bytes) is longer than the input (%d)", total, len(s))
		}
	})
}
