package tokenizer

import (
	"unicode/utf8"
)

// Piece returns the bytes token id stands for, following llama.cpp's
// token_to_piece: normal tokens are mapped back from the byte-level alphabet,
// user-defined tokens are their text, control tokens their text unless
// skipSpecial, and unused or out-of-range ids nothing. A piece may be part of
// a UTF-8 character.
func (t *Tokenizer) Piece(id int, skipSpecial bool) []byte {
	if id < 0 || id >= len(t.tokens) {
		return nil
	}
	switch t.types[id] {
	case TypeNormal, TypeByte:
		return decodeByteText(t.tokens[id])
	case TypeUserDefined:
		return []byte(t.tokens[id])
	case TypeControl, TypeUnknown:
		if skipSpecial {
			return nil
		}
		return []byte(t.tokens[id])
	}
	return nil
}

// Decode returns the text of ids with control tokens written out
// (e.g. "<|im_end|>"). For any valid UTF-8 s, Decode(Encode(s, false)) == s.
func (t *Tokenizer) Decode(ids []int) string { return t.decode(ids, false) }

// DecodeSkipSpecial is Decode without control tokens.
func (t *Tokenizer) DecodeSkipSpecial(ids []int) string { return t.decode(ids, true) }

func (t *Tokenizer) decode(ids []int, skipSpecial bool) string {
	var out []byte
	for _, id := range ids {
		out = append(out, t.Piece(id, skipSpecial)...)
	}
	return string(out)
}

// StreamDecoder turns generated ids into text as they arrive. It only emits
// complete UTF-8 characters: bytes of a character split across tokens are
// held back until the character is complete. Bytes that can never form a
// valid character are emitted as U+FFFD, so its output is always valid UTF-8.
type StreamDecoder struct {
	t *Tokenizer
	// SkipSpecial drops control tokens instead of writing their text.
	SkipSpecial bool
	pending     []byte
}

// NewStreamDecoder starts a stream. Set SkipSpecial on the result to drop
// control tokens.
func (t *Tokenizer) NewStreamDecoder() *StreamDecoder { return &StreamDecoder{t: t} }

// Push adds one token and returns the text that became complete.
func (d *StreamDecoder) Push(id int) string {
	d.pending = append(d.pending, d.t.Piece(id, d.SkipSpecial)...)
	return d.drain(false)
}

// Flush returns whatever is held back (an incomplete character becomes
// U+FFFD) and resets the decoder.
func (d *StreamDecoder) Flush() string { return d.drain(true) }

func (d *StreamDecoder) drain(final bool) string {
	p := d.pending
	var out []byte
	i := 0
	for i < len(p) {
		r, n := utf8.DecodeRune(p[i:])
		if r == utf8.RuneError && n <= 1 {
			if !final && !utf8.FullRune(p[i:]) {
				break // a character still waiting for its next bytes
			}
			out = utf8.AppendRune(out, utf8.RuneError)
			if !utf8.FullRune(p[i:]) {
				i = len(p) // one U+FFFD for the whole incomplete tail
				break
			}
			i++
			continue
		}
		out = append(out, p[i:i+n]...)
		i += n
	}
	d.pending = append(d.pending[:0], p[i:]...)
	return string(out)
}
