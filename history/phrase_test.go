package history

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"
)

type hitKey struct {
	conv    ID
	inTitle bool
	seq     uint64
}

func hitKeys(hits []SearchHit) []hitKey {
	var out []hitKey
	for _, h := range hits {
		out = append(out, hitKey{h.ConvID, h.InTitle, h.Seq})
	}
	return out
}

// bruteSearch is Search without the index: every title and message is
// checked against the text rule, in sidebar order. The index may only ever
// save work, so Search must agree with it.
func bruteSearch(t *testing.T, s *Store, query string) []hitKey {
	t.Helper()
	terms := searchTerms(query)
	if len(terms) == 0 {
		return nil
	}
	cs, err := s.List(0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var f folder
	var out []hitKey
	for _, c := range cs {
		if f.matchAll(terms, []byte(c.Title)) {
			out = append(out, hitKey{c.ID, true, 0})
		}
		msgs, err := s.Messages(c.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range msgs {
			if ok, _ := f.matchMessage(terms, []byte(m.Text), []byte(m.Thinking)); ok {
				out = append(out, hitKey{c.ID, false, m.Seq})
			}
		}
	}
	return out
}

func checkAgainstBrute(t *testing.T, s *Store, query string) int {
	t.Helper()
	hits, err := s.Search(query, 0)
	if err != nil {
		t.Fatalf("Search(%q): %v", query, err)
	}
	got, want := hitKeys(hits), bruteSearch(t, s, query)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Search(%q) = %v\nthe texts say %v", query, got, want)
	}
	if len(want) > 2 {
		hits, _ := s.Search(query, 2)
		if got := hitKeys(hits); !reflect.DeepEqual(got, want[:2]) {
			t.Fatalf("Search(%q, 2) = %v, want %v", query, got, want[:2])
		}
	}
	return len(want)
}

func TestPhraseSearch(t *testing.T) {
	s, clock := newTestStore(t)
	add := func(title string, msgs ...Message) Conversation {
		clock.advance(time.Minute)
		c := mustCreate(t, s, Conversation{Title: title})
		for _, m := range msgs {
			if _, err := s.AppendMessage(c.ID, m); err != nil {
				t.Fatal(err)
			}
		}
		return c
	}
	a := add("Token memory notes",
		Message{Role: RoleUser, Text: "token memory and memory token"},
		Message{Role: RoleAssistant, Text: "the token\nmemory is split by a line", Thinking: "token memory in thinking"},
		Message{Role: RoleUser, Text: "ends with token", Thinking: "memory starts the thinking"},
		Message{Role: RoleUser, Text: "token  memory, two spaces; token memoryless; is apple; is a test"})
	b := add("",
		Message{Role: RoleUser, Text: "東京タワーは高い and c++x or go-lang"},
		Message{Role: RoleAssistant, Text: "the the the cat; Straße und Zürich"})
	type want []hitKey
	for _, tc := range []struct {
		query string
		want  want
	}{
		{`"token memory"`, want{{a.ID, true, 0}, {a.ID, false, 0}, {a.ID, false, 1}, {a.ID, false, 3}}}, // thinking counts, "token memoryless" too
		{`"memory token"`, want{{a.ID, false, 0}}},
		{`"token memory and"`, want{{a.ID, false, 0}}},
		{`"token mem"`, want{{a.ID, true, 0}, {a.ID, false, 0}, {a.ID, false, 1}, {a.ID, false, 3}}}, // the last word is a prefix
		{`"token memoryl"`, want{{a.ID, false, 3}}},
		{`"token  memory"`, want{{a.ID, false, 3}}}, // the spacing is the user's
		{`"token memory" split`, want{{a.ID, false, 1}}},
		{`"is a"`, want{{a.ID, false, 3}}}, // a one-letter last word is whole: not "is apple"
		{`"a line"`, want{{a.ID, false, 1}}},
		{`"東京タ"`, want{{b.ID, true, 0}, {b.ID, false, 0}}},   // the first message titles b
		{`"京タ"`, want{{b.ID, true, 0}, {b.ID, false, 0}}},    // the first message titles b
		{`c++x`, want{{b.ID, true, 0}, {b.ID, false, 0}}},    // the first message titles b
		{`go-lang`, want{{b.ID, true, 0}, {b.ID, false, 0}}}, // the first message titles b
		{`"the the cat"`, want{{b.ID, false, 1}}},
		{`"the cat the"`, nil},
		{`"straße und zü"`, want{{b.ID, false, 1}}},
		{`"token thinking"`, nil}, // text and thinking never join
		{`"with token memory"`, nil},
	} {
		hits, err := s.Search(tc.query, 0)
		if err != nil {
			t.Fatal(err)
		}
		if got := want(hitKeys(hits)); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Search(%s) = %v, want %v", tc.query, got, tc.want)
		}
		checkAgainstBrute(t, s, tc.query)
	}
}

// TestPhraseSearchRandom compares Search with the text rule on random
// texts: words from a small vocabulary (so phrases repeat and nearly miss),
// odd separators, one-letter words, accents and CJK.
func TestPhraseSearchRandom(t *testing.T) {
	s, clock := newTestStore(t)
	r := rand.New(rand.NewPCG(11, 12))
	vocab := strings.Fields("a i token tokens memory mem cache caching expert the of to x ab abc école Zürich σίσυφος 東 京 c")
	seps := []string{" ", " ", " ", "  ", ", ", "\n", "-", "'", "++", ". "}
	text := func(n int) string {
		var b strings.Builder
		for i := 0; i < n; i++ {
			if i > 0 {
				b.WriteString(seps[r.IntN(len(seps))])
			}
			w := vocab[r.IntN(len(vocab))]
			if r.IntN(8) == 0 {
				w = strings.ToUpper(w)
			}
			b.WriteString(w)
		}
		return b.String()
	}
	var texts []string
	for i := 0; i < 30; i++ {
		clock.advance(time.Minute)
		c := mustCreate(t, s, Conversation{Title: text(1 + r.IntN(4))})
		for j := 0; j < 6; j++ {
			m := Message{Role: RoleUser, Text: text(r.IntN(30))}
			if j%2 == 1 {
				m.Role, m.Thinking = RoleAssistant, text(r.IntN(10))
			}
			if _, err := s.AppendMessage(c.ID, m); err != nil {
				t.Fatal(err)
			}
			texts = append(texts, m.Text, m.Thinking)
		}
		if i%7 == 0 {
			s.Pin(c.ID, true)
		}
	}
	// Queries: pieces of stored texts (true phrases, cut anywhere, maybe
	// with a word changed) and random word sequences.
	matched := 0
	for i := 0; i < 400; i++ {
		var q string
		if src := texts[r.IntN(len(texts))]; i%2 == 0 && len(src) > 0 {
			runes := []rune(src)
			from := r.IntN(len(runes))
			q = string(runes[from:min(len(runes), from+3+r.IntN(20))])
		} else {
			q = text(2 + r.IntN(3))
		}
		q = strings.ReplaceAll(q, `"`, "")
		switch i % 3 {
		case 0:
			q = `"` + q + `"`
		case 1:
			q = `"` + q + `" ` + vocab[r.IntN(len(vocab))]
		}
		if checkAgainstBrute(t, s, q) > 0 {
			matched++
		}
	}
	if matched < 100 {
		t.Fatalf("only %d of 400 queries matched anything: the test does not test much", matched)
	}
	// Two-rune prefixes come from the prefix index.
	for _, w := range vocab {
		if r := []rune(w); len(r) >= 2 {
			checkAgainstBrute(t, s, string(r[:2]))
			checkAgainstBrute(t, s, strings.ToUpper(string(r[:2]))+" "+vocab[r[0]%rune(len(vocab))])
		}
	}
	checkIndex(t, s)
}

// TestPhraseSearchLongText: a message with more words than get positions is
// still found by its phrases (from the text), and an edit that shortens it
// brings its positions back.
func TestPhraseSearchLongText(t *testing.T) {
	s, _ := newTestStore(t)
	c := mustCreate(t, s, Conversation{})
	var b strings.Builder
	for i := 0; i <= maxPositions; i++ {
		fmt.Fprintf(&b, "w%d ", i%1000)
	}
	long := b.String() + "needle haystack"
	m := mustAppend(t, s, c.ID, RoleUser, long)
	mustAppend(t, s, c.ID, RoleUser, "haystack needle")
	for q, want := range map[string][]hitKey{
		`"needle haystack"`: {{c.ID, false, 0}},
		`"haystack needle"`: {{c.ID, false, 1}},
		`"w999 w0 w1"`:      {{c.ID, false, 0}},
		`"w1 w0"`:           nil,
	} {
		hits, err := s.Search(q, 0)
		if err != nil || !reflect.DeepEqual(hitKeys(hits), want) {
			t.Errorf("Search(%s) = %v, %v; want %v", q, hitKeys(hits), err, want)
		}
	}
	checkIndex(t, s)
	m.Text = "short needle haystack"
	if err := s.putMessage(&m, false); err != nil {
		t.Fatal(err)
	}
	if hits, _ := s.Search(`"short needle"`, 0); !reflect.DeepEqual(hitKeys(hits), []hitKey{{c.ID, false, 0}}) {
		t.Errorf("after the edit: %v", hitKeys(hits))
	}
	checkIndex(t, s)
}

// checkIndex fails unless the index equals one rebuilt from the texts.
func checkIndex(t *testing.T, s *Store) {
	t.Helper()
	if got, want := indexKeys(t, s), expectedIndex(t, s); !reflect.DeepEqual(got, want) {
		t.Fatalf("index differs from the texts: %d keys, want %d", len(got), len(want))
	}
}
