package history

import (
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"unicode"
	"unicode/utf8"

	"github.com/dgraph-io/badger/v4"
)

// The search index: for each word of a conversation, the sequence numbers
// of the messages that contain it,
//
//	w/<word>\x00<convID:16>  ->  seqs as uvarint deltas, ascending; titleSeq for the title
//
// Words are case-folded, NFC-normalized runs of letters, digits and marks;
// each Han, Hiragana or Katakana character is a word of its own (those
// scripts do not separate words with spaces). A query word matches every
// indexed word it is a prefix of, found with one prefix scan that visits one
// key per conversation, not per message. The index is updated in the same
// transaction as the text it describes.
const (
	titleSeq     = ^uint64(0)
	maxWordBytes = 32   // longer words are indexed by their first 32 bytes
	maxWords     = 8192 // words indexed per message; keeps a transaction small
)

var prefixWord = []byte("w/")

func wordKey(word []byte, id ID) []byte {
	k := make([]byte, 0, len(prefixWord)+len(word)+1+16)
	k = append(k, prefixWord...)
	k = append(k, word...)
	k = append(k, 0)
	return append(k, id[:]...)
}

func encodeSeqs(seqs []uint64) []byte {
	b := make([]byte, 0, len(seqs)*2)
	prev := uint64(0)
	for i, s := range seqs {
		if i == 0 {
			b = binary.AppendUvarint(b, s)
		} else {
			b = binary.AppendUvarint(b, s-prev)
		}
		prev = s
	}
	return b
}

// decodeSeqs reads a posting list; it must be strictly ascending.
func decodeSeqs(b []byte) ([]uint64, error) {
	var seqs []uint64
	prev := uint64(0)
	for len(b) > 0 {
		v, n := binary.Uvarint(b)
		if n <= 0 {
			return nil, fmt.Errorf("%w: bad posting list", ErrCorrupt)
		}
		b = b[n:]
		if len(seqs) > 0 {
			if v == 0 || v > titleSeq-prev {
				return nil, fmt.Errorf("%w: posting list out of order", ErrCorrupt)
			}
			v += prev
		}
		seqs = append(seqs, v)
		prev = v
	}
	return seqs, nil
}

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

// reindex moves one text's postings (a message, or a title at titleSeq)
// from its old words to its new ones.
func reindex(txn *badger.Txn, id ID, seq uint64, old, new map[string]struct{}) error {
	for w := range old {
		if _, keep := new[w]; !keep {
			if err := editPosting(txn, []byte(w), id, seq, false); err != nil {
				return err
			}
		}
	}
	for w := range new {
		if _, had := old[w]; !had {
			if err := editPosting(txn, []byte(w), id, seq, true); err != nil {
				return err
			}
		}
	}
	return nil
}

// editPosting adds seq to (or removes it from) one word's list for a conversation.
func editPosting(txn *badger.Txn, word []byte, id ID, seq uint64, add bool) error {
	k := wordKey(word, id)
	var seqs []uint64
	item, err := txn.Get(k)
	switch {
	case err == nil:
		err = item.Value(func(b []byte) (err error) {
			seqs, err = decodeSeqs(b)
			return err
		})
		if err != nil {
			seqs = nil // a damaged list is rebuilt from this text on; the rest is lost to search only
		}
	case !errors.Is(err, badger.ErrKeyNotFound):
		return err
	}
	i := sort.Search(len(seqs), func(i int) bool { return seqs[i] >= seq })
	present := i < len(seqs) && seqs[i] == seq
	switch {
	case add && !present:
		seqs = append(seqs, 0)
		copy(seqs[i+1:], seqs[i:])
		seqs[i] = seq
	case !add && present:
		seqs = append(seqs[:i], seqs[i+1:]...)
	default:
		return nil
	}
	if len(seqs) == 0 {
		return txn.Delete(k)
	}
	return txn.Set(k, encodeSeqs(seqs))
}

func messageWords(f *folder, m *Message) map[string]struct{} {
	return words(f, []byte(m.Text), []byte(m.Thinking))
}

// convPostings builds a whole conversation's index entries (import, bulk
// loads): word -> ascending seqs.
func convPostings(f *folder, title string, msgs []Message) map[string][]uint64 {
	out := map[string][]uint64{}
	for _, m := range msgs { // ascending seqs
		for w := range messageWords(f, &m) {
			out[w] = append(out[w], m.Seq)
		}
	}
	for w := range words(f, []byte(title)) {
		out[w] = append(out[w], titleSeq)
	}
	return out
}

// scanWord calls fn with each conversation's list for every indexed word
// that starts with prefix (so one conversation can come more than once).
func scanWord(txn *badger.Txn, prefix []byte, fn func(ID, []uint64)) error {
	p := append(append([]byte{}, prefixWord...), prefix...)
	// No value prefetching: the lists are small and stored inline, and
	// Badger's prefetch starts goroutines.
	it := txn.NewIterator(badger.IteratorOptions{Prefix: p})
	defer it.Close()
	for it.Rewind(); it.Valid(); it.Next() {
		k := it.Item().Key()
		if len(k) < len(p)+16 || len(k) < len(prefixWord)+17 || k[len(k)-17] != 0 {
			continue
		}
		var id ID
		copy(id[:], k[len(k)-16:])
		var seqs []uint64
		err := it.Item().Value(func(b []byte) (err error) {
			seqs, err = decodeSeqs(b)
			return err
		})
		if err != nil {
			continue // a damaged list costs search hits, never the search
		}
		fn(id, seqs)
	}
	return nil
}

// isWordRune: letters, digits and combining marks make up words.
func isWordRune(r rune) bool {
	return unicode.IsLetter(r) || unicode.IsDigit(r) || unicode.Is(unicode.Mn, r)
}

// isCJK: scripts written without spaces; each character is a word.
func isCJK(r rune) bool {
	return r >= 0x2E80 && unicode.In(r, unicode.Han, unicode.Hiragana, unicode.Katakana)
}
