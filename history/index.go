package history

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
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
//	x/<first two runes>\x00<convID:16>  ->  postings
//
// listing the texts with a word (of two or more runes) that starts so, and
// where such words are.
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

// textIndex is what one text (a message's text and thinking, or a title)
// puts in the index: its words and their two-rune starts, each with the
// encoded positions where they occur.
type textIndex struct {
	words, starts map[string][]byte
}

// textWords indexes the given texts. Words are numbered through the texts
// with a gap between them. After maxWords distinct words no new ones are
// indexed; texts of more than maxPositions words get no positions at all
// (unknown).
func textWords(f *folder, texts ...[]byte) textIndex {
	type entry struct {
		last int
		pos  []byte
	}
	note := func(e *entry, at int) {
		switch {
		case at >= maxPositions: // dropped below
		case e.last < 0:
			e.pos = binary.AppendUvarint(e.pos, uint64(at))
		default:
			e.pos = binary.AppendUvarint(e.pos, uint64(at-e.last))
		}
		e.last = at
	}
	words, starts := map[string]*entry{}, map[string]*entry{}
	next := 0 // the next word's position
	for i, t := range texts {
		if i > 0 {
			next++ // the gap
		}
		forEachWord(f.fold(t), func(w []byte) bool {
			at := next
			next++
			e := words[string(w)]
			if e == nil {
				if len(words) >= maxWords {
					return true
				}
				e = &entry{last: -1}
				words[string(w)] = e
			}
			note(e, at)
			if p, ok := shortStart(w); ok {
				e := starts[string(p)]
				if e == nil {
					e = &entry{last: -1}
					starts[string(p)] = e
				}
				note(e, at)
			}
			return true
		})
	}
	out := func(set map[string]*entry) map[string][]byte {
		m := make(map[string][]byte, len(set))
		for w, e := range set {
			if next > maxPositions {
				e.pos = nil
			}
			m[w] = e.pos
		}
		return m
	}
	return textIndex{out(words), out(starts)}
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
// from its old words, starts and positions to its new ones.
func reindex(txn *badger.Txn, id ID, seq uint64, old, new textIndex) error {
	if err := reindexLists(txn, prefixWord, id, seq, old.words, new.words); err != nil {
		return err
	}
	return reindexLists(txn, prefixShort, id, seq, old.starts, new.starts)
}

func reindexLists(txn *badger.Txn, prefix []byte, id ID, seq uint64, old, new map[string][]byte) error {
	for w := range old {
		if _, keep := new[w]; !keep {
			if err := editPosting(txn, listKey(prefix, []byte(w), id), posting{seq: seq}, false); err != nil {
				return err
			}
		}
	}
	for w, pos := range new {
		if had, ok := old[w]; !ok || !bytes.Equal(had, pos) {
			if err := editPosting(txn, listKey(prefix, []byte(w), id), posting{seq: seq, pos: pos}, true); err != nil {
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

func messageWords(f *folder, m *Message) textIndex {
	return textWords(f, []byte(m.Text), []byte(m.Thinking))
}

// convIndex is a whole conversation's index: word (and two-rune start) ->
// postings ascending by seq.
type convIndex struct {
	words, starts map[string][]posting
}

// convPostings indexes a whole conversation (imports, bulk loads).
func convPostings(f *folder, title string, msgs []Message) convIndex {
	ci := convIndex{map[string][]posting{}, map[string][]posting{}}
	add := func(seq uint64, ti textIndex) {
		for w, pos := range ti.words {
			ci.words[w] = append(ci.words[w], posting{seq, pos})
		}
		for p, pos := range ti.starts {
			ci.starts[p] = append(ci.starts[p], posting{seq, pos})
		}
	}
	for _, m := range msgs { // ascending seqs
		add(m.Seq, messageWords(f, &m))
	}
	add(titleSeq, textWords(f, []byte(title)))
	return ci
}

// putConvIndex writes a conversation's whole index to a write batch.
func putConvIndex(wb *badger.WriteBatch, id ID, ci convIndex) error {
	for w, ps := range ci.words {
		if err := wb.Set(wordKey([]byte(w), id), encodePostings(ps)); err != nil {
			return err
		}
	}
	for p, ps := range ci.starts {
		if err := wb.Set(shortKey([]byte(p), id), encodePostings(ps)); err != nil {
			return err
		}
	}
	return nil
}

// scanPrefix is the key prefix of the lists of every indexed word that
// starts with w, or of w alone when exact. A two-rune prefix has one list
// per conversation in the prefix index.
func scanPrefix(w []byte, exact bool) []byte {
	if exact {
		return append(append(append([]byte{}, prefixWord...), w...), 0)
	}
	if p, ok := shortStart(w); ok && len(p) == len(w) {
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
		for w, ps := range convPostings(&f, title, msgs).words {
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
	type text struct {
		unknown bool
		pos     []uint32
	}
	var start []byte
	group := map[ID]map[uint64]*text{}
	flush := func() error {
		for id, texts := range group {
			ps := make([]posting, 0, len(texts))
			for seq, t := range texts {
				p := posting{seq: seq}
				if !t.unknown {
					slices.Sort(t.pos) // the words' positions never overlap
					p.pos = appendPositions(nil, t.pos)
				}
				ps = append(ps, p)
			}
			slices.SortFunc(ps, func(a, b posting) int { return cmp.Compare(a.seq, b.seq) })
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
			texts := group[id]
			if texts == nil {
				texts = map[uint64]*text{}
				group[id] = texts
			}
			err := it.Item().Value(func(b []byte) error {
				ps, err := decodePostings(b)
				if err != nil {
					return nil // a damaged list is left out, as search would
				}
				for _, p := range ps {
					t := texts[p.seq]
					if t == nil {
						t = &text{}
						texts[p.seq] = t
					}
					if len(p.pos) == 0 {
						t.unknown = true
					} else {
						t.pos, _ = decodePositions(t.pos, p.pos) // checked by decodePostings
					}
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

// appendPositions encodes ascending positions.
func appendPositions(b []byte, pos []uint32) []byte {
	for i, p := range pos {
		if i > 0 {
			p -= pos[i-1]
		}
		b = binary.AppendUvarint(b, uint64(p))
	}
	return b
}
