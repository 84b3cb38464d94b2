package history

import (
	"bytes"
	"errors"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/dgraph-io/badger/v4"
	"golang.org/x/text/unicode/norm"
)

// SearchHit is one match: a conversation title (InTitle) or one message.
type SearchHit struct {
	ConvID  ID
	Title   string // the conversation's display title
	Updated time.Time
	InTitle bool
	Seq     uint64 // the matching message (when !InTitle)
	Role    string
	Snippet string // the text around the first match, on one line
}

// Search finds conversations whose title, and messages whose text or
// thinking, contain every term of query. Terms are separated by spaces;
// "a quoted phrase" is one term. Matching is case-insensitive (Unicode simple
// case folding, composed and decomposed accents alike) and a term matches at
// the start of a word: "cach" finds "Cache" and "caching", not "ecache"; a
// term ending in a one-letter word ("a", "is a") matches only that word. Hits
// come in sidebar order (pinned, then newest conversation first), the title
// hit before message hits, messages in order; limit <= 0 means all.
//
// Candidates come from the word index (a few prefix scans; word positions
// for terms of several words); each is then checked against its text, and
// checking stops once limit hits are found.
func (s *Store) Search(query string, limit int) ([]SearchHit, error) {
	terms := searchTerms(query)
	if len(terms) == 0 {
		return nil, nil
	}
	// Terms of several words ("quoted phrases", "c++x") are found by word
	// positions; the words of one-word terms by intersecting their lists.
	var phrases [][]queryWord
	var qwords []queryWord
	seen := map[string]bool{}
	for _, t := range terms {
		ws := termWords(t)
		if len(ws) > 1 {
			phrases = append(phrases, ws)
			continue
		}
		for _, w := range ws {
			if k := w.key(); !seen[k] {
				seen[k] = true
				qwords = append(qwords, w)
			}
		}
	}
	// Longest first: usually the rarest, so the candidate set shrinks fast.
	sort.SliceStable(qwords, func(i, j int) bool { return len(qwords[i].w) > len(qwords[j].w) })

	var hits []SearchHit
	err := s.view(func(txn *badger.Txn) error {
		rank := map[ID]int{}
		it := txn.NewIterator(badger.IteratorOptions{Prefix: prefixRecent})
		for it.Rewind(); it.Valid(); it.Next() {
			if id, ok := idFromRecentKey(it.Item().Key()); ok {
				rank[id] = len(rank)
			}
		}
		it.Close()

		var cands map[ID][]uint64 // nil: not narrowed down yet
		for _, ws := range phrases {
			var err error
			if cands, err = phraseCandidates(txn, ws, cands); err != nil {
				return err
			}
		}
		if len(qwords) > 0 {
			var err error
			if cands, err = intersectWords(txn, qwords, cands); err != nil {
				return err
			}
		}
		if cands == nil {
			cands = allPostings(txn) // a query of symbols only: check everything
		}
		order := make([]ID, 0, len(cands))
		for id := range cands {
			if _, ok := rank[id]; ok {
				order = append(order, id)
			}
		}
		sort.Slice(order, func(i, j int) bool { return rank[order[i]] < rank[order[j]] })

		// Check candidates a batch of conversations at a time: within a
		// batch in key order, so one iterator moves forward and each block
		// is decompressed about once; batches in result order, so checking
		// stops soon after limit hits.
		// Large batches are split into key ranges checked in parallel,
		// each by its own verifier (a read-only transaction may have
		// several iterators).
		vs := make([]*verifier, min(4, runtime.GOMAXPROCS(0)))
		for i := range vs {
			vs[i] = &verifier{txn: txn, terms: terms}
			vs[i].it = txn.NewIterator(badger.IteratorOptions{Prefix: prefixMsg})
			defer vs[i].it.Close()
		}
		// Batches grow from one conversation, so a common word stops after
		// a conversation or two and a rare one still gets long forward runs.
		for from, batch := 0, 1; from < len(order) && !(limit > 0 && len(hits) >= limit); from, batch = from+batch, min(2*batch, 64) {
			ids := order[from:min(from+batch, len(order))]
			byKey := append([]ID(nil), ids...)
			sort.Slice(byKey, func(i, j int) bool { return bytes.Compare(byKey[i][:], byKey[j][:]) < 0 })
			parts := 1
			if len(byKey) >= 8 {
				parts = len(vs)
			}
			found := make([]map[ID][]SearchHit, parts)
			errs := make([]error, parts)
			var wg sync.WaitGroup
			for p := 0; p < parts; p++ {
				part := byKey[p*len(byKey)/parts : (p+1)*len(byKey)/parts]
				found[p] = make(map[ID][]SearchHit, len(part))
				check := func() {
					for _, id := range part {
						h, err := vs[p].conv(id, cands[id])
						if err != nil {
							errs[p] = err
							return
						}
						found[p][id] = h
					}
				}
				if parts == 1 {
					check()
					continue
				}
				wg.Add(1)
				go func() { defer wg.Done(); check() }()
			}
			wg.Wait()
			if err := errors.Join(errs...); err != nil {
				return err
			}
			for _, id := range ids {
				for p := range found {
					hits = append(hits, found[p][id]...)
				}
			}
		}
		if limit > 0 && len(hits) > limit {
			hits = hits[:limit]
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return hits, nil
}

// verifier checks candidate messages against the query text.
type verifier struct {
	txn   *badger.Txn
	it    *badger.Iterator // over prefixMsg; moves forward within a batch
	terms [][]byte
	f     folder
}

// seek positions the iterator at the first message key >= target, walking
// forward when that is near (the block is already decompressed) and
// seeking otherwise.
func (v *verifier) seek(target []byte) {
	if v.it.Valid() && bytes.Compare(v.it.Item().Key(), target) <= 0 {
		for n := 0; n < 64 && v.it.Valid(); n++ {
			if bytes.Compare(v.it.Item().Key(), target) >= 0 {
				return
			}
			v.it.Next()
		}
		if v.it.Valid() && bytes.Compare(v.it.Item().Key(), target) >= 0 {
			return
		}
	}
	v.it.Seek(target)
}

// conv returns one conversation's hits among its candidate seqs (ascending,
// titleSeq last): the title first, then messages in order.
func (v *verifier) conv(id ID, seqs []uint64) ([]SearchHit, error) {
	c, err := getConv(v.txn, id)
	if errors.Is(err, ErrNotFound) || errors.Is(err, ErrCorrupt) {
		return nil, nil // gone, or unreadable: List reports the damage
	}
	if err != nil {
		return nil, err
	}
	var hits []SearchHit
	base := SearchHit{ConvID: id, Title: c.DisplayTitle(), Updated: c.Updated}
	if n := len(seqs); n > 0 && seqs[n-1] == titleSeq {
		seqs = seqs[:n-1]
		if v.f.matchAll(v.terms, []byte(c.Title)) {
			h := base
			h.InTitle, h.Snippet = true, c.Title
			hits = append(hits, h)
		}
	}
	for _, want := range seqs {
		key := msgKey(id, want)
		v.seek(key)
		if !v.it.Valid() || !bytes.Equal(v.it.Item().Key(), key) {
			continue // the message is gone
		}
		item := v.it.Item()
		var ok bool
		h := base
		err := item.Value(func(b []byte) error {
			text, thinking, err := messageTexts(b)
			if err != nil {
				return err
			}
			ok, h.Snippet = v.f.matchMessage(v.terms, text, thinking)
			return nil
		})
		if err != nil || !ok {
			continue // no match, or an unreadable record (Messages reports it)
		}
		m, err := itemMessage(item)
		if err != nil {
			continue
		}
		h.Seq, h.Role = m.Seq, m.Role
		hits = append(hits, h)
	}
	return hits, nil
}

// queryWord is one word of a search term, matched as a prefix of indexed
// words or, when exact, as a whole word.
type queryWord struct {
	w     []byte
	exact bool
}

func (q queryWord) key() string { return string(scanPrefix(q.w, q.exact)) }

// termWords returns the index words of a folded term. A word followed by
// more of the term (a space, a symbol) must be a whole word in the text, so
// it is exact; the last word is a prefix unless it is one letter (see
// wholeWord).
func termWords(term []byte) []queryWord {
	var out []queryWord
	forEachWord(term, func(w []byte) bool {
		end := cap(term) - cap(w) + len(w) // w is a slice of term
		out = append(out, queryWord{w: append([]byte(nil), w...), exact: end < len(term) || wholeWord(w)})
		return true
	})
	return out
}

// intersectWords narrows cands (nil: every message) to the messages and
// titles that have a word matching each query word. Once few candidates are
// left, the remaining words are left to the text check, which is cheaper
// than another scan.
func intersectWords(txn *badger.Txn, qwords []queryWord, cands map[ID][]uint64) (map[ID][]uint64, error) {
	total := 0
	for _, seqs := range cands {
		total += len(seqs)
	}
	for _, w := range qwords {
		if cands != nil && total <= 64 {
			break
		}
		next := map[ID][]uint64{}
		merged := map[ID]bool{} // lists from several words, to sort and dedupe
		err := scanWord(txn, scanPrefix(w.w, w.exact), func(id ID, seqs []uint64) {
			if cands != nil {
				prev, ok := cands[id]
				if !ok {
					return
				}
				seqs = intersectSorted(prev, seqs)
				if len(seqs) == 0 {
					return
				}
			}
			if have, ok := next[id]; ok { // another word with the same prefix
				seqs = append(have, seqs...)
				merged[id] = true
			}
			next[id] = seqs
		})
		if err != nil {
			return nil, err
		}
		for id := range merged {
			next[id] = sortedSet(next[id])
		}
		cands, total = next, 0
		for _, seqs := range cands {
			total += len(seqs)
		}
		if total == 0 {
			break
		}
	}
	return cands, nil
}

// phraseCandidates narrows cands (nil: every message) to the texts where
// the words of one term stand next to each other, in order, decided from
// the word positions in the index. A text whose positions are unknown (too
// long) stays a candidate for the text check.
func phraseCandidates(txn *badger.Txn, ws []queryWord, cands map[ID][]uint64) (map[ID][]uint64, error) {
	// starts[id]: the texts that still match, ascending by seq.
	starts := map[ID][]phraseText{}
	matched := map[ID][]uint64{}
	var scratch []uint32
	for k, w := range ws {
		last := k == len(ws)-1
		next := map[ID][]phraseText{}
		err := scanLists(txn, scanPrefix(w.w, w.exact), func(id ID, b []byte) {
			var have []phraseText
			var want []uint64
			if k > 0 {
				if have = starts[id]; len(have) == 0 {
					return
				}
			} else if cands != nil {
				if want = cands[id]; len(want) == 0 {
					return
				}
			}
			var prev uint64
			for i, j := 0, 0; len(b) > 0; i++ {
				p, rest, err := nextPosting(b, prev, i == 0)
				if err != nil {
					return // a damaged list costs search hits, never the search
				}
				b, prev = rest, p.seq
				var t phraseText
				if k == 0 {
					if cands != nil {
						for j < len(want) && want[j] < p.seq {
							j++
						}
						if j == len(want) {
							return
						}
						if want[j] != p.seq {
							continue
						}
					}
					t = phraseText{seq: p.seq, any: len(p.pos) == 0}
					if !t.any {
						if t.starts, err = decodePositions(nil, p.pos); err != nil {
							continue
						}
					}
				} else {
					for j < len(have) && have[j].seq < p.seq {
						j++
					}
					if j == len(have) {
						return
					}
					if have[j].seq != p.seq {
						continue
					}
					t = have[j]
					if len(p.pos) > 0 {
						if scratch, err = decodePositions(scratch[:0], p.pos); err != nil {
							continue
						}
						t = t.followedBy(scratch, uint32(k))
					}
					if len(t.starts) == 0 && !t.any {
						continue
					}
				}
				if last {
					matched[id] = append(matched[id], t.seq) // several words may match: sorted below
				} else {
					next[id] = append(next[id], t)
				}
			}
		})
		if err != nil {
			return nil, err
		}
		starts = next
		if !last && len(starts) == 0 {
			break
		}
	}
	for id, seqs := range matched {
		matched[id] = sortedSet(seqs)
	}
	return matched, nil
}

// phraseText is a text that may hold a phrase, with the positions where it
// could start.
type phraseText struct {
	seq    uint64
	any    bool // positions unknown: every start
	starts []uint32
}

// followedBy keeps the starts s for which pos holds s+k (word k of the
// phrase). The result does not share memory with t or pos.
func (t phraseText) followedBy(pos []uint32, k uint32) phraseText {
	out := phraseText{seq: t.seq}
	if t.any {
		for _, p := range pos {
			if p >= k {
				out.starts = append(out.starts, p-k)
			}
		}
		return out
	}
	for i, j := 0, 0; i < len(t.starts) && j < len(pos); {
		switch want := uint64(t.starts[i]) + uint64(k); {
		case uint64(pos[j]) < want:
			j++
		case uint64(pos[j]) > want:
			i++
		default:
			out.starts = append(out.starts, t.starts[i])
			i++
			j++
		}
	}
	return out
}

func intersectSorted(a, b []uint64) []uint64 {
	var out []uint64
	for i, j := 0, 0; i < len(a) && j < len(b); {
		switch {
		case a[i] < b[j]:
			i++
		case a[i] > b[j]:
			j++
		default:
			out = append(out, a[i])
			i++
			j++
		}
	}
	return out
}

// sortedSet sorts seqs and drops duplicates, in place.
func sortedSet(seqs []uint64) []uint64 {
	slices.Sort(seqs)
	return slices.Compact(seqs)
}

// allPostings lists every title and message, for queries without words.
func allPostings(txn *badger.Txn) map[ID][]uint64 {
	out := map[ID][]uint64{}
	it := txn.NewIterator(badger.IteratorOptions{Prefix: prefixMsg})
	defer it.Close()
	for it.Rewind(); it.Valid(); it.Next() {
		if id, seq, ok := parseMsgKey(it.Item().Key()); ok {
			out[id] = append(out[id], seq)
		}
	}
	it = txn.NewIterator(badger.IteratorOptions{Prefix: prefixConv})
	defer it.Close()
	for it.Rewind(); it.Valid(); it.Next() {
		if k := it.Item().Key(); len(k) == len(prefixConv)+16 {
			var id ID
			copy(id[:], k[len(prefixConv):])
			out[id] = append(out[id], titleSeq)
		}
	}
	return out
}

// matchMessage checks a message against the terms (each in its text or its
// thinking) and returns a snippet around the first term.
func (f *folder) matchMessage(terms [][]byte, text, thinking []byte) (bool, string) {
	if f.matchAll(terms, text) {
		return true, makeSnippet(text, terms[0])
	}
	if len(thinking) == 0 || !f.matchAllSplit(terms, text, thinking) {
		return false, ""
	}
	if f.contains(terms[0], text) {
		return true, makeSnippet(text, terms[0])
	}
	return true, makeSnippet(thinking, terms[0])
}

// searchTerms splits and folds a query: words, or "quoted phrases".
func searchTerms(q string) [][]byte {
	var terms [][]byte
	var f folder
	add := func(t string) {
		if t = strings.TrimSpace(t); t != "" {
			terms = append(terms, append([]byte(nil), f.fold([]byte(t))...))
		}
	}
	for q != "" {
		q = strings.TrimLeftFunc(q, unicode.IsSpace)
		if strings.HasPrefix(q, `"`) {
			end := strings.IndexByte(q[1:], '"')
			if end < 0 {
				add(q[1:])
				break
			}
			add(q[1 : 1+end])
			q = q[2+end:]
			continue
		}
		end := strings.IndexFunc(q, unicode.IsSpace)
		if end < 0 {
			add(q)
			break
		}
		add(q[:end])
		q = q[end:]
	}
	return terms
}

// folder folds text into a reusable buffer for matching.
type folder struct {
	buf, nfc []byte
}

// fold returns text case-folded (and NFC-normalized if needed). The result
// is valid until the next call.
func (f *folder) fold(text []byte) []byte {
	out, ascii := foldInto(f.buf[:0], text)
	if !ascii && !norm.NFC.IsNormal(text) {
		f.nfc = norm.NFC.Append(f.nfc[:0], text...)
		out, _ = foldInto(out[:0], f.nfc)
	}
	f.buf = out
	return out
}

func (f *folder) matchAll(terms [][]byte, text []byte) bool {
	folded := f.fold(text)
	for _, t := range terms {
		if !containsAtWord(folded, t) {
			return false
		}
	}
	return true
}

func (f *folder) contains(term, text []byte) bool {
	return containsAtWord(f.fold(text), term)
}

// containsAtWord reports whether term occurs in text starting at a word
// start, the same rule the index uses; a term ending in a one-letter word
// must end there in the text too (see wholeWord).
func containsAtWord(text, term []byte) bool {
	first, _ := utf8.DecodeRune(term)
	anywhere := !isWordRune(first) || isCJK(first)
	whole := wholeLast(term)
	for off := 0; ; {
		i := bytes.Index(text[off:], term)
		if i < 0 {
			return false
		}
		i += off
		start := anywhere || i == 0
		if !start {
			prev, _ := utf8.DecodeLastRune(text[:i])
			start = !isWordRune(prev) || isCJK(prev)
		}
		if start && whole {
			next, _ := utf8.DecodeRune(text[i+len(term):])
			start = i+len(term) == len(text) || !isWordRune(next) || isCJK(next)
		}
		if start {
			return true
		}
		_, n := utf8.DecodeRune(text[i:])
		off = i + n
	}
}

// wholeWord: a one-letter query word ("a", "x") matches only that word, not
// every word it starts; as a prefix it would match a large part of the
// index and tell the user nothing.
func wholeWord(w []byte) bool {
	r, n := utf8.DecodeRune(w)
	return n == len(w) && isWordRune(r) && !isCJK(r)
}

// wholeLast reports whether term ends with a one-letter word ("a", "is a").
func wholeLast(term []byte) bool {
	whole := false
	forEachWord(term, func(w []byte) bool {
		whole = wholeWord(w) && cap(term)-cap(w)+len(w) == len(term) // w is a slice of term
		return true
	})
	return whole
}

// matchAllSplit: every term occurs in text or in thinking.
func (f *folder) matchAllSplit(terms [][]byte, text, thinking []byte) bool {
	found := make([]bool, len(terms))
	folded := f.fold(text)
	for i, t := range terms {
		found[i] = containsAtWord(folded, t)
	}
	folded = f.fold(thinking)
	for i, t := range terms {
		if !found[i] && !containsAtWord(folded, t) {
			return false
		}
	}
	return true
}

// foldInto appends src with each rune case-folded and reports whether src
// was pure ASCII. ASCII, nearly all of it, takes the fast path.
func foldInto(dst, src []byte) ([]byte, bool) {
	ascii := true
	for i := 0; i < len(src); {
		c := src[i]
		if c < utf8.RuneSelf {
			if 'A' <= c && c <= 'Z' {
				c += 'a' - 'A'
			}
			dst = append(dst, c)
			i++
			continue
		}
		ascii = false
		r, n := utf8.DecodeRune(src[i:])
		dst = utf8.AppendRune(dst, foldRune(r))
		i += n
	}
	return dst, ascii
}

// foldRune maps every member of a case orbit (K, k, Kelvin sign; Σ, σ, ς)
// to one rune.
func foldRune(r rune) rune { return unicode.ToLower(unicode.ToUpper(r)) }

// makeSnippet returns about 120 characters of text around the first match of
// term, on one line.
func makeSnippet(text, term []byte) string {
	const before, total = 40, 120
	// Find the match in rune units: fold rune by rune so positions map back.
	runes := []rune(string(text))
	start := 0
	if len(term) > 0 {
		var folded []rune
		for _, r := range runes {
			folded = append(folded, foldRune(r))
		}
		if at := strings.Index(string(folded), string(term)); at >= 0 {
			start = utf8.RuneCountInString(string(folded)[:at])
		}
	}
	from := max(0, start-before)
	for from > 0 && from < start && !unicode.IsSpace(runes[from-1]) {
		from++ // start at a word
	}
	to := min(len(runes), from+total)
	for to < len(runes) && to > start+1 && !unicode.IsSpace(runes[to]) {
		to-- // end at a word
	}
	s := strings.Join(strings.Fields(string(runes[from:to])), " ")
	if from > 0 {
		s = "…" + s
	}
	if to < len(runes) {
		s += "…"
	}
	return s
}
