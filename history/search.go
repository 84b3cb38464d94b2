package history

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"sort"
	"strings"
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
// the start of a word: "cach" finds "Cache" and "caching", not "ecache". Hits
// come in sidebar order (pinned, then newest conversation first), the title
// hit before message hits, messages in order; limit <= 0 means all.
//
// Candidates come from the word index (a few prefix scans); each is then
// checked against its text, and checking stops once limit hits are found.
func (s *Store) Search(query string, limit int) ([]SearchHit, error) {
	terms := searchTerms(query)
	if len(terms) == 0 {
		return nil, nil
	}
	var qwords [][]byte
	seen := map[string]bool{}
	for _, t := range terms {
		forEachWord(t, func(w []byte) bool {
			if !seen[string(w)] {
				seen[string(w)] = true
				qwords = append(qwords, append([]byte(nil), w...))
			}
			return true
		})
	}
	// Longest first: usually the rarest, so the candidate set shrinks fast.
	sort.SliceStable(qwords, func(i, j int) bool { return len(qwords[i]) > len(qwords[j]) })

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

		var cands []posting
		if len(qwords) == 0 {
			cands = allPostings(txn) // a query of symbols only: check everything
		} else {
			cands = intersectWords(txn, qwords)
		}
		kept := cands[:0]
		for _, p := range cands {
			if _, ok := rank[p.conv()]; ok {
				kept = append(kept, p)
			}
		}
		cands = kept
		sort.Slice(cands, func(i, j int) bool {
			a, b := cands[i], cands[j]
			if ra, rb := rank[a.conv()], rank[b.conv()]; ra != rb {
				return ra < rb
			}
			sa, sb := a.seq(), b.seq()
			if (sa == titleSeq) != (sb == titleSeq) {
				return sa == titleSeq
			}
			return sa < sb
		})

		var f folder
		convs := map[ID]*Conversation{}
		for _, p := range cands {
			if limit > 0 && len(hits) >= limit {
				break
			}
			id := p.conv()
			c := convs[id]
			if c == nil {
				cv, err := getConv(txn, id)
				if errors.Is(err, ErrNotFound) {
					continue
				}
				if err != nil {
					return err
				}
				c = &cv
				convs[id] = c
			}
			hit := SearchHit{ConvID: id, Title: c.DisplayTitle(), Updated: c.Updated}
			if p.seq() == titleSeq {
				if !f.matchAll(terms, []byte(c.Title)) {
					continue
				}
				hit.InTitle, hit.Snippet = true, c.Title
				hits = append(hits, hit)
				continue
			}
			item, err := txn.Get(msgKey(id, p.seq()))
			if errors.Is(err, badger.ErrKeyNotFound) {
				continue
			}
			if err != nil {
				return err
			}
			var ok bool
			err = item.Value(func(b []byte) error {
				text, thinking, err := messageTexts(b)
				if err != nil {
					return err
				}
				ok, hit.Snippet = f.matchMessage(terms, text, thinking)
				return nil
			})
			if err != nil {
				return fmt.Errorf("message %s/%d: %w", id, p.seq(), err)
			}
			if !ok {
				continue
			}
			m, err := itemMessage(item)
			if err != nil {
				return err
			}
			hit.Seq, hit.Role = m.Seq, m.Role
			hits = append(hits, hit)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return hits, nil
}

// intersectWords returns the postings that have a word starting with each
// query word. Once few candidates are left, the remaining words are left to
// the text check, which is cheaper than another scan.
func intersectWords(txn *badger.Txn, qwords [][]byte) []posting {
	var cands map[posting]struct{}
	for i, w := range qwords {
		if i > 0 && len(cands) <= 64 {
			break
		}
		next := map[posting]struct{}{}
		scanWord(txn, w, func(p posting) {
			if i == 0 {
				next[p] = struct{}{}
			} else if _, ok := cands[p]; ok {
				next[p] = struct{}{}
			}
		})
		cands = next
		if len(cands) == 0 {
			break
		}
	}
	out := make([]posting, 0, len(cands))
	for p := range cands {
		out = append(out, p)
	}
	return out
}

// allPostings lists every title and message, for queries without words.
func allPostings(txn *badger.Txn) []posting {
	var out []posting
	it := txn.NewIterator(badger.IteratorOptions{Prefix: prefixConv})
	for it.Rewind(); it.Valid(); it.Next() {
		if k := it.Item().Key(); len(k) == len(prefixConv)+16 {
			var p posting
			copy(p[:16], k[len(prefixConv):])
			binary.BigEndian.PutUint64(p[16:], titleSeq)
			out = append(out, p)
		}
	}
	it.Close()
	it = txn.NewIterator(badger.IteratorOptions{Prefix: prefixMsg})
	defer it.Close()
	for it.Rewind(); it.Valid(); it.Next() {
		if k := it.Item().Key(); len(k) == len(prefixMsg)+24 {
			var p posting
			copy(p[:], k[len(prefixMsg):])
			out = append(out, p)
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
// start, the same rule the index uses.
func containsAtWord(text, term []byte) bool {
	first, _ := utf8.DecodeRune(term)
	anywhere := !isWordRune(first) || isCJK(first)
	for off := 0; ; {
		i := bytes.Index(text[off:], term)
		if i < 0 {
			return false
		}
		i += off
		if anywhere || i == 0 {
			return true
		}
		prev, _ := utf8.DecodeLastRune(text[:i])
		if !isWordRune(prev) || isCJK(prev) {
			return true
		}
		_, n := utf8.DecodeRune(text[i:])
		off = i + n
	}
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
