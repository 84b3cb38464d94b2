package tokenizer

import "unicode/utf8"

// GPT-2 byte-level BPE stores every byte as a printable code point so that
// token texts never contain raw control bytes or spaces: printable Latin-1
// bytes map to themselves, the other 68 bytes to U+0100.. in byte order.
var (
	byteToRune [256]rune
	runeToByte = map[rune]byte{}
	// byteToText is byteToRune[b] encoded as UTF-8, ready for vocabulary lookups.
	byteToText [256]string
)

func init() {
	n := rune(0)
	for b := 0; b < 256; b++ {
		printable := (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF)
		r := rune(b)
		if !printable {
			r = 256 + n
			n++
		}
		byteToRune[b] = r
		runeToByte[r] = byte(b)
		byteToText[b] = string(r)
	}
}

// decodeByteText turns a vocabulary text in the byte-level alphabet back into
// raw bytes. Code points outside the alphabet (never present in a well-formed
// vocabulary) are kept as UTF-8 rather than dropped.
func decodeByteText(s string) []byte {
	out := make([]byte, 0, len(s))
	for _, r := range s {
		if b, ok := runeToByte[r]; ok {
			out = append(out, b)
		} else {
			out = utf8.AppendRune(out, r)
		}
	}
	return out
}
