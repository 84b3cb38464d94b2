package ui

import "strings"

// segment is a run of a message's visible text: Markdown prose, or one fenced
// code block shown in monospace with its own Copy button.
type segment struct {
	Code bool
	Lang string // the fence's info word ("go", "python"); "" if none
	Text string // prose: Markdown; code: the code without its fences
}

// parsedMessage is a message split for display.
type parsedMessage struct {
	Thinking     string // the <think>…</think> text, trimmed
	ThinkingOpen bool   // a <think> section that has not closed yet (still streaming)
	Segments     []segment
}

const (
	thinkOpen  = "<think>"
	thinkClose = "</think>"
)

// parseMessage pulls <think> sections out of a model reply and splits the
// rest at fenced code blocks. It accepts any text: unclosed think sections and
// code fences (a reply cut off mid-stream) run to the end.
func parseMessage(content string) parsedMessage {
	var p parsedMessage
	body, thinking, open := splitThinking(content)
	p.Thinking, p.ThinkingOpen = strings.TrimSpace(thinking), open
	p.Segments = splitFences(body)
	return p
}

// splitThinking separates <think> sections from the answer. A "</think>"
// with no opening tag (chat templates that put "<think>" in the prompt)
// makes everything before it thinking.
func splitThinking(s string) (body, thinking string, open bool) {
	if i := strings.Index(s, thinkClose); i >= 0 && !strings.Contains(s[:i], thinkOpen) {
		thinking = s[:i]
		s = s[i+len(thinkClose):]
	}
	var b, t strings.Builder
	t.WriteString(thinking)
	for {
		i := strings.Index(s, thinkOpen)
		if i < 0 {
			b.WriteString(s)
			break
		}
		b.WriteString(s[:i])
		s = s[i+len(thinkOpen):]
		if t.Len() > 0 {
			t.WriteString("\n\n")
		}
		j := strings.Index(s, thinkClose)
		if j < 0 {
			t.WriteString(s)
			open = true
			break
		}
		t.WriteString(s[:j])
		s = s[j+len(thinkClose):]
	}
	return strings.TrimLeft(b.String(), "\n"), t.String(), open
}

// splitFences cuts Markdown at fenced code blocks (``` or ~~~, as in
// CommonMark: up to three spaces of indent; the closing fence uses the same
// character, at least as many times, and nothing else).
func splitFences(s string) []segment {
	var out []segment
	var prose, code strings.Builder
	var fence string // the opening fence while inside a code block
	var lang string
	flushProse := func() {
		if txt := strings.Trim(prose.String(), "\n"); strings.TrimSpace(txt) != "" {
			out = append(out, segment{Text: txt})
		}
		prose.Reset()
	}
	lines := strings.SplitAfter(s, "\n")
	for _, line := range lines {
		if line == "" {
			continue
		}
		trimmed := strings.TrimRight(line, "\r\n")
		if fence == "" {
			if f, info, ok := openingFence(trimmed); ok {
				flushProse()
				fence, lang = f, info
				continue
			}
			prose.WriteString(line)
			continue
		}
		if closesFence(trimmed, fence) {
			out = append(out, segment{Code: true, Lang: lang, Text: strings.TrimSuffix(code.String(), "\n")})
			code.Reset()
			fence = ""
			continue
		}
		code.WriteString(line)
	}
	if fence != "" { // unclosed: the reply is still streaming or was cut off
		out = append(out, segment{Code: true, Lang: lang, Text: strings.TrimSuffix(code.String(), "\n")})
	}
	flushProse()
	return out
}

func fenceIndent(line string) (string, bool) {
	n := 0
	for n < len(line) && line[n] == ' ' {
		n++
	}
	if n > 3 {
		return "", false
	}
	return line[n:], true
}

func openingFence(line string) (fence, info string, ok bool) {
	rest, ok := fenceIndent(line)
	if !ok || len(rest) < 3 || (rest[0] != '`' && rest[0] != '~') {
		return "", "", false
	}
	c := rest[0]
	n := 0
	for n < len(rest) && rest[n] == c {
		n++
	}
	if n < 3 {
		return "", "", false
	}
	info = strings.TrimSpace(rest[n:])
	if c == '`' && strings.Contains(info, "`") {
		return "", "", false // CommonMark: a backtick fence's info has no backticks
	}
	if f := strings.Fields(info); len(f) > 0 {
		info = f[0]
	}
	return rest[:n], info, true
}

func closesFence(line, fence string) bool {
	rest, ok := fenceIndent(line)
	if !ok {
		return false
	}
	rest = strings.TrimRight(rest, " \t")
	if len(rest) < len(fence) {
		return false
	}
	for i := 0; i < len(rest); i++ {
		if rest[i] != fence[0] {
			return false
		}
	}
	return true
}
