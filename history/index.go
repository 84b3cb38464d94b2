package history

import (
	"bytes"
	"encoding/binary"
	"unicode"
	"unicode/utf8"

	"github.com/dgraph-io/badger/v4"
)

// The search index: one empty key per (word, message) and per (word, title),
//
//	w/<word>\x00<convID:16><seq:8>      seq = titleSeq for the conversation title
//
// Words are case-folded, NFC-normalized runs of letters, digits and marks;
// each Han, Hiragana or Katakana character is a word of its own (those
// scripts do not separate words with spaces). A query word matches every
// indexed word it is a prefix of, found with one prefix scan. The index is
// written in the same transaction as the text it describes.
const (
	titleSeq     = ^uint64(0)
	maxWordBytes = 32   // longer words are indexed by their first 32 bytes
	maxWords     = 8192 // words indexed per message; keeps a transaction small
)

var prefixWord = []byte("w/")

func wordKey(word []byte, id ID, seq uint64) []byte {
	k := make([]byte, 0, len(prefixWord)+len(word)+1+16+8)
	k = append(k, prefixWord...)
	k = append(k, word...)
	k = append(k, 0)
	k = append(k, id[:]...)
	return binary.BigEndian.AppendUint64(k, seq)
}

// posting is the <convID><seq> tail of an index key.
type posting [24]byte

func (p posting) conv() ID {
	var id ID
	copy(id[:], p[:16])
	return id
}

func (p posting) seq() uint64 { return binary.BigEndian.Uint64(p[16:]) }

// words returns the distinct index words of the given texts.
func words(f *folder, texts ...[]byte) map[string]struct{} {
	set := map[string]struct{}{}
	for _, t := range texts {
		forEachWord(f.fold(t), func(w []byte) bool {
			if len(set) >= maxWords {
				return false
			}
			set[string(w)] = struct{}{}
			return true
		})
	}
	return set
}

// forEachWord calls fn with each word of folded text until fn returns false.
func forEachWord(text []byte, fn func([]byte) bool) {
	start := -1
	flush := func(end int) bool {
		if start < 0 {
			return true
		}
		w := text[start:end]
		start = -1
		if len(w) > maxWordBytes {
			w = w[:maxWordBytes]
			for len(w) > 0 && !utf8.Valid(w) {
				w = w[:len(w)-1]
			}
		}
		return fn(w)
	}
	for i := 0; i < len(text); {
		c := text[i]
		if c < utf8.RuneSelf {
			if 'a' <= c && c <= 'z' || '0' <= c && c <= '9' || 'A' <= c && c <= 'Z' {
				if start < 0 {
					start = i
				}
			} else if !flush(i) {
				return
			}
			i++
			continue
		}
		r, n := utf8.DecodeRune(text[i:])
		switch {
		case isCJK(r):
			if !flush(i) {
				return
			}
			start = i
			if !flush(i + n) {
				return
			}
		case isWordRune(r) && (start >= 0 || !unicode.Is(unicode.Mn, r)):
			if start < 0 {
				start = i
			}
		default:
			if !flush(i) {
				return
			}
		}
		i += n
	}
	flush(len(text))
}

// reindex updates the postings of one text (a message, or a title at
// titleSeq) from its old words to its new ones.
func reindex(txn *badger.Txn, id ID, seq uint64, old, new map[string]struct{}) error {
	for w := range old {
		if _, keep := new[w]; !keep {
			if err := txn.Delete(wordKey([]byte(w), id, seq)); err != nil {
				return err
			}
		}
	}
	for w := range new {
		if _, had := old[w]; !had {
			if err := txn.Set(wordKey([]byte(w), id, seq), nil); err != nil {
				return err
			}
		}
	}
	return nil
}

func messageWords(f *folder, m *Message) map[string]struct{} {
	return words(f, []byte(m.Text), []byte(m.Thinking))
}

// scanWord calls fn with the posting of every indexed word that starts with
// prefix.
func scanWord(txn *badger.Txn, prefix []byte, fn func(posting)) {
	p := append(append([]byte{}, prefixWord...), prefix...)
	it := txn.NewIterator(badger.IteratorOptions{Prefix: p})
	defer it.Close()
	for it.Rewind(); it.Valid(); it.Next() {
		k := it.Item().Key()
		if len(k) < len(p)+1+24 || k[len(k)-25] != 0 || bytes.IndexByte(k[len(p):len(k)-25], 0) >= 0 {
			continue
		}
		var post posting
		copy(post[:], k[len(k)-24:])
		fn(post)
	}
}

// isWordRune: letters, digits and combining marks make up words.
func isWordRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r)
}

// isCJK: scripts written without spaces; each character is a word.
func isCJK(r rune) bool {
	return r >= 0x2E80 && unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana)
}
