package tokenizer

import (
	"slices"
	"strings"
)

// fragment is a piece of the input: raw text [start,end) or a special token.
type fragment struct {
	start, end int
	token      int32 // -1 for raw text
}

// partition splits text at special-token occurrences like llama.cpp's
// tokenizer_st_partition: specials are taken longest first, and each one
// splits every remaining raw fragment at all its non-overlapping occurrences.
// Without parseSpecial only user-defined tokens are matched.
func (t *Tokenizer) partition(text string, parseSpecial bool) []fragment {
	frags := []fragment{{0, len(text), -1}}
	var next []fragment
	for _, id := range t.specials {
		ty := t.types[id]
		if !parseSpecial && ty != TypeUserDefined {
			continue
		}
		sp := t.tokens[id]
		if !strings.Contains(text, sp) {
			continue
		}
		next = next[:0]
		for _, f := range frags {
			if f.token >= 0 {
				next = append(next, f)
				continue
			}
			s := f.start
			for {
				k := strings.Index(text[s:f.end], sp)
				if k < 0 {
					break
				}
				if k > 0 {
					next = append(next, fragment{s, s + k, -1})
				}
				next = append(next, fragment{s + k, s + k + len(sp), id})
				s += k + len(sp)
			}
			if s < f.end {
				next = append(next, fragment{s, f.end, -1})
			}
		}
		frags, next = next, frags
	}
	return frags
}

// Encode tokenizes text. With parseSpecial, control tokens written in the
// text (e.g. "<|im_start|>") become their ids; user-defined tokens (e.g.
// "<think>") always do, as in llama.cpp. No BOS is added. Invalid UTF-8
// bytes are encoded as U+FFFD, as llama.cpp does.
func (t *Tokenizer) Encode(text string, parseSpecial bool) []int {
	out := make([]int, 0, len(text)/3+1)
	var st encodeState
	for _, f := range t.partition(text, parseSpecial) {
		if f.token >= 0 {
			out = append(out, int(f.token))
			continue
		}
		out = t.encodeRaw(&st, sanitizeUTF8(text[f.start:f.end]), out)
	}
	return out
}

// encodeState holds scratch buffers reused across the words of one call.
type encodeState struct {
	chars []char
	syms  []symbol
	heap  bigramHeap
	ids   []int32
}

func (t *Tokenizer) encodeRaw(st *encodeState, s string, out []int) []int {
	st.chars = splitWords(t.split, s, st.chars, func(a, b int) {
		for _, id := range t.encodeWord(st, s[a:b]) {
			out = append(out, int(id))
		}
	})
	return out
}

// encodeWord returns the ids of one pre-token, from the cache when possible.
// The returned slice must not be modified and is valid until the next call.
func (t *Tokenizer) encodeWord(st *encodeState, w string) []int32 {
	t.cacheMu.Lock()
	ids, ok := t.cache[w]
	t.cacheMu.Unlock()
	if ok {
		return ids
	}
	ids = t.bpe(st, w)
	if len(w) > maxCachedWord {
		return ids // rare, and would bloat the cache
	}
	ids = slices.Clone(ids)
	t.cacheMu.Lock()
	if len(t.cache) >= maxCacheEntries {
		clear(t.cache)
	}
	t.cache[strings.Clone(w)] = ids
	t.cacheMu.Unlock()
	return ids
}

// symbol is a node of the doubly linked list of a word's current symbols.
type symbol struct {
	id         int32 // symbol id, -1 once merged into its left neighbour
	prev, next int32
}

type bigram struct {
	rank        uint32
	left, right int32 // positions in the symbol list
	lid, rid    int32 // symbol ids the bigram was made from (to detect stale entries)
	merged      int32
}

// bigramHeap is a min-heap by (rank, left), llama.cpp's llm_bigram_bpe order.
type bigramHeap []bigram

func (h bigramHeap) less(a, b int) bool {
	return h[a].rank < h[b].rank || (h[a].rank == h[b].rank && h[a].left < h[b].left)
}

func (h *bigramHeap) push(b bigram) {
	*h = append(*h, b)
	s := *h
	for i := len(s) - 1; i > 0; {
		p := (i - 1) / 2
		if !s.less(i, p) {
			break
		}
		s[i], s[p] = s[p], s[i]
		i = p
	}
}

func (h *bigramHeap) pop() bigram {
	s := *h
	top := s[0]
	last := len(s) - 1
	s[0] = s[last]
	s = s[:last]
	for i := 0; ; {
		l, r, m := 2*i+1, 2*i+2, i
		if l < len(s) && s.less(l, m) {
			m = l
		}
		if r < len(s) && s.less(r, m) {
			m = r
		}
		if m == i {
			break
		}
		s[i], s[m] = s[m], s[i]
		i = m
	}
	*h = s
	return top
}

func (t *Tokenizer) addBigram(st *encodeState, left, right int32) {
	if left < 0 || right < 0 {
		return
	}
	l, r := st.syms[left].id, st.syms[right].id
	v, ok := t.merges[uint64(uint32(l))<<32|uint64(uint32(r))]
	if !ok {
		return
	}
	st.heap.push(bigram{rank: uint32(v >> 32), left: left, right: right, lid: l, rid: r, merged: int32(uint32(v))})
}

// bpe merges the bytes of w by rank: repeatedly the lowest-rank adjacent
// pair, leftmost first, exactly as llama.cpp's llm_tokenizer_bpe_session.
func (t *Tokenizer) bpe(st *encodeState, w string) []int32 {
	st.ids = st.ids[:0]
	if len(w) == 1 {
		return t.appendSymbol(st.ids, t.byteSym[w[0]])
	}
	syms := st.syms[:0]
	for i := 0; i < len(w); i++ {
		syms = append(syms, symbol{id: t.byteSym[w[i]], prev: int32(i - 1), next: int32(i + 1)})
	}
	syms[len(syms)-1].next = -1
	st.syms = syms
	st.heap = st.heap[:0]
	for i := int32(1); i < int32(len(syms)); i++ {
		t.addBigram(st, i-1, i)
	}
	for len(st.heap) > 0 {
		b := st.heap.pop()
		ls, rs := &st.syms[b.left], &st.syms[b.right]
		if ls.id != b.lid || rs.id != b.rid || ls.next != b.right {
			continue // stale: one side has been merged since
		}
		ls.id = b.merged
		ls.next = rs.next
		rs.id = -1
		if rs.next >= 0 {
			st.syms[rs.next].prev = b.left
		}
		t.addBigram(st, ls.prev, b.left)
		t.addBigram(st, b.left, ls.next)
	}
	for i := int32(0); i >= 0; i = st.syms[i].next {
		st.ids = t.appendSymbol(st.ids, st.syms[i].id)
	}
	return st.ids
}

// appendSymbol appends the token of a final symbol. A symbol that is not a
// vocabulary token falls back to the tokens of its single bytes, as llama.cpp
// does (only possible with inconsistent merges).
func (t *Tokenizer) appendSymbol(ids []int32, sym int32) []int32 {
	if int(sym) < len(t.tokens) {
		return append(ids, sym)
	}
	text := t.symText[int(sym)-len(t.tokens)]
	for i := 0; i < len(text); i++ {
		if id := t.oneByte[text[i]]; id >= 0 {
			ids = append(ids, id)
		}
	}
	return ids
}
