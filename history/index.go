package history

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"unicode"
	"unicode/utf8"

	"github.com/dgraph-io/badger/v4"
)

// The search index: for each word of a conversation, the messages that
// contain it and where,
//
//	w/<word>\x00<convID:16>  ->  postings, ascending by seq; titleSeq for the title
//
// A posting is uvarint seq (the delta from the previous one after the
// first), uvarint n, then n bytes of word positions: uvarints, the first
// absolute and the rest deltas >= 1. Positions number the words of a text
// in order (the thinking continues after a gap, so nothing is adjacent
// across the two); they let a phrase's word order be decided from the
// index. No positions (n = 0) means unknown: the text had more than
// maxPositions words, and a phrase check falls back to the text.
//
// A second, smaller index answers two-letter prefixes (search-as-you-type's
// second key), which would otherwise scan every word that starts with them:
//
//	x/<first two runes>\x00<convID:16>  ->  postings without positions
//
// listing the texts with a word (of two or more runes) that starts so.
//
// Words are case-folded, NFC-normalized runs of letters, digits and marks;
// each Han, Hiragana or Katakana character is a word of its own (those
// scripts do not separate words with spaces). A query word matches every
// indexed word it is a prefix of, found with one prefix scan that visits one
// key per conversation, not per message. The index is updated in the same
// transaction as the text it describes.
const (
	titleSeq     = ^uint64(0)
	maxWordBytes = 32      // longer words are indexed by their first 32 bytes
	maxWords     = 8192    // distinct words indexed per message; keeps a transaction small
	maxPositions = 1 << 16 // words per message with positions; longer texts have none
)

var (
	prefixWord  = []byte("w/")
	prefixShort = []byte("x/")
)

func wordKey(word []byte, id ID) []byte { return listKey(prefixWord, word, id) }

func shortKey(start []byte, id ID) []byte { return listKey(prefixShort, start, id) }

func listKey(prefix, word []byte, id ID) []byte {
	k := make([]byte, 0, len(prefix)+len(word)+1+16)
	k = append(k, prefix...)
	k = append(k, word...)
	k = append(k, 0)
	return append(k, id[:]...)
}

// shortStart returns the first two runes of a word, its key in the prefix
// index; words of one rune have none.
func shortStart(w []byte) ([]byte, bool) {
	_, n := utf8.DecodeRune(w)
	if n >= len(w) {
		return nil, false
	}
	_, m := utf8.DecodeRune(w[n:])
	return w[:n+m], true
}

// shortStarts returns the prefix-index keys of a text's words.
func shortStarts(words map[string][]byte) map[string]struct{} {
	out := map[string]struct{}{}
	for w := range words {
		if p, ok := shortStart([]byte(w)); ok {
			out[string(p)] = struct{}{}
		}
	}
	return out
}

// posting is one text's entry in a word's list: a message (or titleSeq)
// and the word's encoded positions in it (empty: unknown).
type posting struct {
	seq uint64
	pos []byte
}

func encodePostings(ps []posting) []byte {
	n := 0
	for _, p := range ps {
		n += 4 + len(p.pos)
	}
	b := make([]byte, 0, n)
	for i, p := range ps {
		var prev uint64
		if i > 0 {
			prev = ps[i-1].seq
		}
		b = appendPosting(b, p, prev, i == 0)
	}
	return b
}

var (
	errPostings      = fmt.Errorf("%w: bad posting list", ErrCorrupt)
	errPostingsOrder = fmt.Errorf("%w: posting list out of order", ErrCorrupt)
)

// nextPosting reads one posting from b; prev is the previous seq (first
// tells there is none). The positions alias b and are not checked.
func nextPosting(b []byte, prev uint64, first bool) (p posting, rest []byte, err error) {
	v, n := binary.Uvarint(b)
	if n <= 0 {
		return p, nil, errPostings
	}
	b = b[n:]
	if !first {
		if v == 0 || v > titleSeq-prev {
			return p, nil, errPostingsOrder
		}
		v += prev
	}
	l, n := binary.Uvarint(b)
	if n <= 0 || l > uint64(len(b)-n) {
		return p, nil, errPostings
	}
	b = b[n:]
	return posting{seq: v, pos: b[:l:l]}, b[l:], nil
}

// decodePostings reads a posting list, checking that seqs and each text's
// positions are strictly ascending. The positions alias b.
func decodePostings(b []byte) ([]posting, error) {
	var ps []posting
	for len(b) > 0 {
		var prev uint64
		if len(ps) > 0 {
			prev = ps[len(ps)-1].seq
		}
		p, rest, err := nextPosting(b, prev, len(ps) == 0)
		if err != nil {
			return nil, err
		}
		if err := checkPositions(p.pos); err != nil {
			return nil, err
		}
		ps = append(ps, p)
		b = rest
	}
	return ps, nil
}

// decodeSeqs reads only the seqs of a posting list (the word search hot
// path); they must be strictly ascending.
func decodeSeqs(b []byte) ([]uint64, error) {
	var seqs []uint64
	for len(b) > 0 {
		var prev uint64
		if len(seqs) > 0 {
			prev = seqs[len(seqs)-1]
		}
		p, rest, err := nextPosting(b, prev, len(seqs) == 0)
		if err != nil {
			return nil, err
		}
		seqs = append(seqs, p.seq)
		b = rest
	}
	return seqs, nil
}

// checkPositions is decodePositions without the positions.
func checkPositions(b []byte) error {
	prev := uint64(0)
	for i := 0; len(b) > 0; i++ {
		v, n := binary.Uvarint(b)
		if n <= 0 {
			return errPostings
		}
		b = b[n:]
		if i > 0 {
			if v == 0 || v > math.MaxUint32-prev {
				return errPostingsOrder
			}
			v += prev
		} else if v > math.MaxUint32 {
			return errPostings
		}
		prev = v
	}
	return nil
}

// decodePositions appends the positions in b to dst; they must be strictly
// ascending and fit a uint32.
func decodePositions(dst []uint32, b []byte) ([]uint32, error) {
	prev := uint64(0)
	for i := 0; len(b) > 0; i++ {
		v, n := binary.Uvarint(b)
		if n <= 0 {
			return nil, errPostings
		}
		b = b[n:]
		if i > 0 {
			if v == 0 || v > math.MaxUint32-prev {
				return nil, errPostingsOrder
			}
			v += prev
		} else if v > math.MaxUint32 {
			return nil, errPostings
		}
		dst = append(dst, uint32(v))
		prev = v
	}
	return dst, nil
}

// textWords returns the distinct index words of the given texts (a
// message's text and thinking, or a title), each with its encoded
// positions. Words are numbered through the texts with a gap between them.
// After maxWords distinct words no new ones are indexed; texts of more than
// maxPositions words get no positions at all (unknown).
func textWords(f *folder, texts ...[]byte) map[string][]byte {
	type word struct {
		last int
		pos  []byte
	}
	set := map[string]*word{}
	next := 0 // the next word's position
	for i, t := range texts {
		if i > 0 {
			next++ // the gap
		}
		forEachWord(f.fold(t), func(w []byte) bool {
			at := next
			next++
			e := set[string(w)]
			switch {
			case e == nil && len(set) >= maxWords:
				return true
			case e == nil:
				e = &word{}
				set[string(w)] = e
				if at < maxPositions {
					e.pos = binary.AppendUvarint(nil, uint64(at))
				}
			case at < maxPositions:
				e.pos = binary.AppendUvarint(e.pos, uint64(at-e.last))
			}
			e.last = at
			return true
		})
	}
	out := make(map[string][]byte, len(set))
	for w, e := range set {
		if next > maxPositions {
			e.pos = nil
		}
		out[w] = e.pos
	}
	return out
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
// from its old words and positions to its new ones.
func reindex(txn *badger.Txn, id ID, seq uint64, old, new map[string][]byte) error {
	for w := range old {
		if _, keep := new[w]; !keep {
			if err := editPosting(txn, wordKey([]byte(w), id), posting{seq: seq}, false); err != nil {
				return err
			}
		}
	}
	for w, pos := range new {
		if had, ok := old[w]; !ok || !bytes.Equal(had, pos) {
			if err := editPosting(txn, wordKey([]byte(w), id), posting{seq: seq, pos: pos}, true); err != nil {
				return err
			}
		}
	}
	oldStarts, newStarts := shortStarts(old), shortStarts(new)
	for p := range oldStarts {
		if _, keep := newStarts[p]; !keep {
			if err := editPosting(txn, shortKey([]byte(p), id), posting{seq: seq}, false); err != nil {
				return err
			}
		}
	}
	for p := range newStarts {
		if _, had := oldStarts[p]; !had {
			if err := editPosting(txn, shortKey([]byte(p), id), posting{seq: seq}, true); err != nil {
				return err
			}
		}
	}
	return nil
}

// editPosting sets (or removes) one text's posting in the list at key k.
func editPosting(txn *badger.Txn, k []byte, p posting, set bool) error {
	var b []byte
	item, err := txn.Get(k)
	switch {
	case err == nil:
		if b, err = item.ValueCopy(nil); err != nil {
			return err
		}
	case !errors.Is(err, badger.ErrKeyNotFound):
		return err
	}
	out, changed := editList(b, p, set)
	switch {
	case !changed:
		return nil
	case len(out) == 0:
		return txn.Delete(k)
	}
	return txn.Set(k, out)
}

// editList returns list b with p set (or its seq removed), copying the
// other postings' bytes as they are; changed is false when there is nothing
// to do. Only seqs are decoded, up to p's place. A list whose seqs cannot be
// read is replaced by p alone (the rest was lost to search already).
func editList(b []byte, p posting, set bool) (out []byte, changed bool) {
	damaged := func() ([]byte, bool) {
		if set {
			return appendPosting(nil, p, 0, true), true
		}
		return b, false
	}
	var before uint64 // the seq of the posting before off
	for off := 0; off < len(b); {
		q, rest, err := nextPosting(b[off:], before, off == 0)
		if err != nil {
			return damaged()
		}
		end := len(b) - len(rest)
		if q.seq < p.seq {
			before, off = q.seq, end
			continue
		}
		if err := checkSeqs(rest, q.seq); err != nil {
			return damaged()
		}
		out = append(make([]byte, 0, len(b)+len(p.pos)+20), b[:off]...)
		switch {
		case set && q.seq == p.seq:
			out = appendPosting(out, p, before, off == 0)
		case set:
			out = appendPosting(out, p, before, off == 0)
			out = appendPosting(out, q, p.seq, false)
		case q.seq == p.seq && end < len(b): // removing q: the next one's delta changes
			next, rest, _ := nextPosting(b[end:], q.seq, false) // checked above
			out = appendPosting(out, next, before, off == 0)
			end = len(b) - len(rest)
		case q.seq == p.seq:
		default:
			return b, false
		}
		return append(out, b[end:]...), true
	}
	if !set {
		return b, false
	}
	return appendPosting(append(make([]byte, 0, len(b)+len(p.pos)+20), b...), p, before, len(b) == 0), true
}

// checkSeqs checks the rest of a list, after a posting for seq prev.
func checkSeqs(b []byte, prev uint64) error {
	for len(b) > 0 {
		p, rest, err := nextPosting(b, prev, false)
		if err != nil {
			return err
		}
		b, prev = rest, p.seq
	}
	return nil
}

// appendPosting encodes p after a posting for seq before (none if first).
func appendPosting(b []byte, p posting, before uint64, first bool) []byte {
	if first {
		b = binary.AppendUvarint(b, p.seq)
	} else {
		b = binary.AppendUvarint(b, p.seq-before)
	}
	b = binary.AppendUvarint(b, uint64(len(p.pos)))
	return append(b, p.pos...)
}

func messageWords(f *folder, m *Message) map[string][]byte {
	return textWords(f, []byte(m.Text), []byte(m.Thinking))
}

// convPostings builds a whole conversation's index entries (import, index
// rebuilds): word -> postings ascending by seq.
func convPostings(f *folder, title string, msgs []Message) map[string][]posting {
	out := map[string][]posting{}
	for _, m := range msgs { // ascending seqs
		for w, pos := range messageWords(f, &m) {
			out[w] = append(out[w], posting{m.Seq, pos})
		}
	}
	for w, pos := range textWords(f, []byte(title)) {
		out[w] = append(out[w], posting{titleSeq, pos})
	}
	return out
}

// shortPostings derives a conversation's prefix-index lists from its word
// lists: two-rune start -> postings without positions.
func shortPostings(words map[string][]posting) map[string][]posting {
	seqs := map[string][]uint64{}
	for w, ps := range words {
		if p, ok := shortStart([]byte(w)); ok {
			for _, q := range ps {
				seqs[string(p)] = append(seqs[string(p)], q.seq)
			}
		}
	}
	out := make(map[string][]posting, len(seqs))
	for p, ss := range seqs {
		ss = sortedSet(ss)
		ps := make([]posting, len(ss))
		for i, s := range ss {
			ps[i].seq = s
		}
		out[p] = ps
	}
	return out
}

// putConvIndex writes a conversation's whole index (word and prefix lists)
// to a write batch: imports and bulk loads.
func putConvIndex(wb *badger.WriteBatch, id ID, words map[string][]posting) error {
	for w, ps := range words {
		if err := wb.Set(wordKey([]byte(w), id), encodePostings(ps)); err != nil {
			return err
		}
	}
	for p, ps := range shortPostings(words) {
		if err := wb.Set(shortKey([]byte(p), id), encodePostings(ps)); err != nil {
			return err
		}
	}
	return nil
}

// scanPrefix is the key prefix of the lists of every indexed word that
// starts with w, or of w alone when exact. A two-rune prefix is the one list
// per conversation of the prefix index unless withPositions.
func scanPrefix(w []byte, exact, withPositions bool) []byte {
	if exact {
		return append(append(append([]byte{}, prefixWord...), w...), 0)
	}
	if p, ok := shortStart(w); ok && len(p) == len(w) && !withPositions {
		return append(append(append([]byte{}, prefixShort...), w...), 0)
	}
	return append(append([]byte{}, prefixWord...), w...)
}

// scanWord calls fn with each conversation's seqs for every list whose key
// starts with prefix (so one conversation can come more than once).
func scanWord(txn *badger.Txn, prefix []byte, fn func(ID, []uint64)) error {
	return scanLists(txn, prefix, func(id ID, b []byte) {
		if seqs, err := decodeSeqs(b); err == nil { // a damaged list costs search hits, never the search
			fn(id, seqs)
		}
	})
}

// scanLists calls fn with each conversation's encoded list for every key
// that starts with p; the bytes are valid during the call.
func scanLists(txn *badger.Txn, p []byte, fn func(ID, []byte)) error {
	// No value prefetching: the lists are small and stored inline, and
	// Badger's prefetch starts goroutines.
	it := txn.NewIterator(badger.IteratorOptions{Prefix: p})
	defer it.Close()
	for it.Rewind(); it.Valid(); it.Next() {
		k := it.Item().Key()
		if len(k) < len(p)+16 || len(k) < 2+17 || k[len(k)-17] != 0 {
			continue
		}
		var id ID
		copy(id[:], k[len(k)-16:])
		err := it.Item().Value(func(b []byte) error {
			fn(id, b)
			return nil
		})
		if err != nil {
			continue // an unreadable value costs search hits, never the search
		}
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

// rebuildIndex recomputes the word lists from the stored titles and texts:
// the migration to schema 2, whose lists carry word positions. It
// drops the old lists first, so a run cut short by a crash is simply run
// again at the next Open (the schema version moves only after it).
func rebuildIndex(s *Store) error {
	if err := s.db.DropPrefix(prefixWord); err != nil {
		return err
	}
	wb := s.db.NewWriteBatch()
	defer wb.Cancel()
	var f folder
	put := func(id ID, title string, msgs []Message) error {
		for w, ps := range convPostings(&f, title, msgs) {
			if err := wb.Set(wordKey([]byte(w), id), encodePostings(ps)); err != nil {
				return err
			}
		}
		return nil
	}
	err := s.db.View(func(txn *badger.Txn) error {
		// Conversations in key order, each with its messages (the same
		// order), so one conversation is in memory at a time.
		convs := txn.NewIterator(badger.IteratorOptions{Prefix: prefixConv, PrefetchValues: true})
		defer convs.Close()
		msgs := txn.NewIterator(badger.IteratorOptions{Prefix: prefixMsg, PrefetchValues: true, PrefetchSize: 64})
		defer msgs.Close()
		msgs.Rewind()
		for convs.Rewind(); convs.Valid(); convs.Next() {
			k := convs.Item().Key()
			if len(k) != len(prefixConv)+16 {
				continue
			}
			var id ID
			copy(id[:], k[len(prefixConv):])
			var c Conversation
			err := convs.Item().Value(func(b []byte) (err error) {
				c, err = decodeConversation(b)
				return err
			})
			if err != nil {
				continue // unreadable: search skips it anyway
			}
			var ms []Message
			p := msgPrefix(id)
			for msgs.Seek(p); msgs.ValidForPrefix(p); msgs.Next() {
				if m, err := itemMessage(msgs.Item()); err == nil { // a damaged record is not indexed
					ms = append(ms, m)
				}
			}
			if err := put(id, c.Title, ms); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	return wb.Flush()
}

// buildShortIndex derives the prefix index from the word lists: the
// migration to schema 3. Word keys sort by word, so the words that share a
// two-rune start are next to each other and one start's lists are in memory
// at a time. It drops any prefix lists first, so it can simply run again.
func buildShortIndex(s *Store) error {
	if err := s.db.DropPrefix(prefixShort); err != nil {
		return err
	}
	wb := s.db.NewWriteBatch()
	defer wb.Cancel()
	var start []byte
	group := map[ID][]uint64{}
	flush := func() error {
		for id, seqs := range group {
			seqs = sortedSet(seqs)
			ps := make([]posting, len(seqs))
			for i, seq := range seqs {
				ps[i].seq = seq
			}
			if err := wb.Set(shortKey(start, id), encodePostings(ps)); err != nil {
				return err
			}
		}
		clear(group)
		return nil
	}
	err := s.db.View(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefixWord})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			k := it.Item().Key()
			if len(k) < len(prefixWord)+17 || k[len(k)-17] != 0 {
				continue
			}
			p, ok := shortStart(k[len(prefixWord) : len(k)-17])
			if !ok {
				continue
			}
			if !bytes.Equal(p, start) {
				if err := flush(); err != nil {
					return err
				}
				start = append(start[:0], p...)
			}
			var id ID
			copy(id[:], k[len(k)-16:])
			err := it.Item().Value(func(b []byte) error {
				seqs, err := decodeSeqs(b)
				if err == nil { // a damaged list is left out, as search would
					group[id] = append(group[id], seqs...)
				}
				return nil
			})
			if err != nil {
				return err
			}
		}
		return flush()
	})
	if err != nil {
		return err
	}
	return wb.Flush()
}
