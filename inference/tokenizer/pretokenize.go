package tokenizer

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// charClass is the Unicode class a pre-tokenizer regex distinguishes.
type charClass uint8

const (
	clsOther   charClass = iota // not a letter, number or whitespace
	clsLetter                   // \p{L}
	clsNumber                   // \p{N}
	clsSpace                    // \s other than \r and \n
	clsNewline                  // \r or \n
)

// char is one code point of the text being split.
type char struct {
	r   rune
	cls charClass
	off int32 // byte offset in the text
}

var asciiClass [utf8.RuneSelf]charClass

func init() {
	for c := 0; c < utf8.RuneSelf; c++ {
		asciiClass[c] = classify(rune(c))
	}
}

// classify follows llama.cpp's unicode flags: whitespace is the Unicode
// White_Space property (ASCII \t\n\v\f\r and space), letters and numbers are
// the general categories L and N.
func classify(r rune) charClass {
	switch {
	case r == '\r' || r == '\n':
		return clsNewline
	case unicode.IsSpace(r):
		return clsSpace
	case unicode.IsLetter(r):
		return clsLetter
	case unicode.IsNumber(r):
		return clsNumber
	}
	return clsOther
}

func classOf(r rune) charClass {
	if r < utf8.RuneSelf {
		return asciiClass[r]
	}
	return classify(r)
}

// toChars decodes s (valid UTF-8) into chars plus a sentinel holding len(s).
func toChars(s string, buf []char) []char {
	buf = buf[:0]
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			buf = append(buf, char{rune(c), asciiClass[c], int32(i)})
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		buf = append(buf, char{r, classify(r), int32(i)})
		i += n
	}
	return append(buf, char{-1, clsOther, int32(len(s))})
}

// sanitizeUTF8 replaces every byte that is not part of a valid UTF-8 sequence
// with U+FFFD, as llama.cpp does when it decodes text into code points.
func sanitizeUTF8(s string) string {
	if utf8.ValidString(s) {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			b.WriteRune(utf8.RuneError)
		} else {
			b.WriteString(s[i : i+n])
		}
		i += n
	}
	return b.String()
}

// splitFunc returns the end (in chars) of the pre-token that starts at chars[i].
// cs holds n chars plus a sentinel.
type splitFunc func(cs []char, i int) int

func isWS(c charClass) bool { return c == clsSpace || c == clsNewline }

func lowerASCII(r rune) rune {
	if r >= 'A' && r <= 'Z' {
		return r + ('a' - 'A')
	}
	return r
}

// contraction matches llama.cpp's spelling of (?i:'s|'t|'re|'ve|'m|'ll|'d):
// ASCII letters only, either case. It returns the end or -1.
func contraction(cs []char, i, n int, foldCase bool) int {
	if cs[i].r != '\'' || i+1 >= n {
		return -1
	}
	low := func(r rune) rune {
		if foldCase {
			return lowerASCII(r)
		}
		return r
	}
	switch low(cs[i+1].r) {
	case 's', 't', 'm', 'd':
		return i + 2
	}
	if i+2 < n {
		a, b := low(cs[i+1].r), low(cs[i+2].r)
		if (a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l') {
			return i + 3
		}
	}
	return -1
}

// splitQwen2 implements, by hand and with its leftmost-alternative semantics,
//
//	(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
func splitQwen2(cs []char, i int) int {
	n := len(cs) - 1
	if e := contraction(cs, i, n, true); e >= 0 {
		return e
	}
	c := cs[i].cls
	// [^\r\n\p{L}\p{N}]?\p{L}+
	j := i
	if c != clsLetter && c != clsNewline && c != clsNumber && i+1 < n && cs[i+1].cls == clsLetter {
		j = i + 1
	}
	if cs[j].cls == clsLetter && j < n {
		for j < n && cs[j].cls == clsLetter {
			j++
		}
		return j
	}
	// \p{N}
	if c == clsNumber {
		return i + 1
	}
	// ' ?[^\s\p{L}\p{N}]+[\r\n]*'
	j = i
	if cs[j].r == ' ' && j+1 < n && cs[j+1].cls == clsOther {
		j++
	}
	if cs[j].cls == clsOther && j < n {
		for j < n && cs[j].cls == clsOther {
			j++
		}
		for j < n && cs[j].cls == clsNewline {
			j++
		}
		return j
	}
	if !isWS(c) {
		return i + 1 // unreachable: every class is covered above
	}
	end := i
	for end < n && isWS(cs[end].cls) {
		end++
	}
	// \s*[\r\n]+ : up to the last newline of the whitespace run
	for k := end - 1; k >= i; k-- {
		if cs[k].cls == clsNewline {
			return k + 1
		}
	}
	// \s+(?!\S) : the run, leaving its last char to the next word
	if end == n {
		return end
	}
	if end-i >= 2 {
		return end - 1
	}
	return end // \s+
}

// splitGPT2 implements the original GPT-2 pattern
//
//	's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
func splitGPT2(cs []char, i int) int {
	n := len(cs) - 1
	if e := contraction(cs, i, n, false); e >= 0 {
		return e
	}
	j := i
	if cs[i].r == ' ' && i+1 < n {
		j = i + 1
	}
	switch c := cs[j].cls; {
	case c == clsLetter || c == clsNumber:
		for j < n && cs[j].cls == c {
			j++
		}
		return j
	case c == clsOther:
		for j < n && cs[j].cls == clsOther {
			j++
		}
		return j
	}
	end := i
	for end < n && isWS(cs[end].cls) {
		end++
	}
	if end-i >= 2 && end < n {
		return end - 1
	}
	return end
}

// pretokenizers maps tokenizer.ggml.pre values to their split function
// (llama.cpp's names; several models share the Qwen2 pattern).
var pretokenizers = map[string]splitFunc{
	"qwen2":            splitQwen2,
	"deepseek-r1-qwen": splitQwen2,
	"megrez":           splitQwen2,
	"gpt2":             splitGPT2,
}

// splitWords calls emit with the byte range of each pre-token of s.
func splitWords(split splitFunc, s string, buf []char, emit func(start, end int)) []char {
	cs := toChars(s, buf)
	n := len(cs) - 1
	for i := 0; i < n; {
		e := split(cs, i)
		if e <= i { // defensive: always make progress
			e = i + 1
		}
		emit(int(cs[i].off), int(cs[e].off))
		i = e
	}
	return cs
}
