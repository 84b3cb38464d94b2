package history

import (
	"fmt"
	"reflect"
	"testing"
	"time"
)

func TestSearch(t *testing.T) {
	s, clock := newTestStore(t)
	type msg struct{ role, text, thinking string }
	add := func(title string, msgs ...msg) Conversation {
		clock.advance(time.Minute)
		c := mustCreate(t, s, Conversation{Title: title})
		for _, m := range msgs {
			if _, err := s.AppendMessage(c.ID, Message{Role: m.role, Text: m.text, Thinking: m.thinking}); err != nil {
				t.Fatal(err)
			}
		}
		return c
	}
	cache := add("Expert cache tuning",
		msg{RoleUser, "How big should the expert cache be?", ""},
		msg{RoleAssistant, "Caching 40% of experts gives most of the speed.", "The user has 8 GB of RAM."})
	intl := add("",
		msg{RoleUser, "Une ÉCOLE à Zürich, Straße und ΣΊΣΥΦΟΣ", ""},
		msg{RoleAssistant, "L'e\u0301cole de Zu\u0308rich; σίσυφος; 東京タワーは高い", ""})
	code := add("Go channels",
		msg{RoleUser, "Is an unbuffered channel a token memory fence?", ""},
		msg{RoleAssistant, "Yes: a send happens before the receive completes. Memory token order holds.", ""},
		msg{RoleUser, "C++ atomics vs ecache lines?", ""})
	if err := s.Pin(code.ID, true); err != nil {
		t.Fatal(err)
	}

	type hit struct {
		conv    ID
		inTitle bool
		seq     uint64
	}
	for _, tc := range []struct {
		query string
		want  []hit
	}{
		{"expert", []hit{{cache.ID, true, 0}, {cache.ID, false, 0}, {cache.ID, false, 1}}},
		{"EXPERT CACHE", []hit{{cache.ID, true, 0}, {cache.ID, false, 0}}},               // every term, any case
		{"cach", []hit{{cache.ID, true, 0}, {cache.ID, false, 0}, {cache.ID, false, 1}}}, // prefix: cache, Caching; not "ecache"
		{"8 gb", []hit{{cache.ID, false, 1}}},                                            // thinking is searched
		{"speed ram", []hit{{cache.ID, false, 1}}},                                       // one term in text, one in thinking
		{"école", []hit{{intl.ID, true, 0}, {intl.ID, false, 0}, {intl.ID, false, 1}}},   // case and composed/decomposed accents
		{"zürich", []hit{{intl.ID, true, 0}, {intl.ID, false, 0}, {intl.ID, false, 1}}},  //
		{"σίσυφος", []hit{{intl.ID, true, 0}, {intl.ID, false, 0}, {intl.ID, false, 1}}}, // final sigma folds with Σ
		{"une", []hit{{intl.ID, true, 0}, {intl.ID, false, 0}}},                          // auto title is searchable
		{"東京", []hit{{intl.ID, false, 1}}},                                               // CJK without spaces
		{"京タ", []hit{{intl.ID, false, 1}}},                                               // inside a CJK run
		{`"token memory"`, []hit{{code.ID, false, 0}}},                                   // a phrase keeps its order
		{"token memory", []hit{{code.ID, false, 0}, {code.ID, false, 1}}},                // separate terms do not
		{"c++", []hit{{code.ID, false, 2}}},                                              //
		{"a", []hit{{code.ID, false, 0}, {code.ID, false, 1}}},                           // one letter: the word "a" only, not "atomics" or "an"
		{"l", []hit{{intl.ID, false, 1}}},                                                // "L'école"
		{"channel", []hit{{code.ID, true, 0}, {code.ID, false, 0}}},                      // pinned conversation first
		{"nothing-like-this", nil},                                                       //
		{"   ", nil},                                                                     //
		{"?", []hit{{code.ID, false, 0}, {code.ID, false, 2}, {cache.ID, false, 0}}},     // symbols only: full check
	} {
		hits, err := s.Search(tc.query, 0)
		if err != nil {
			t.Fatalf("Search(%q): %v", tc.query, err)
		}
		var got []hit
		for _, h := range hits {
			got = append(got, hit{h.ConvID, h.InTitle, h.Seq})
			if h.Snippet == "" {
				t.Errorf("Search(%q): empty snippet for %+v", tc.query, h)
			}
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Search(%q) = %v, want %v", tc.query, got, tc.want)
		}
	}
	hits, _ := s.Search("expert", 2)
	if len(hits) != 2 || !hits[0].InTitle || hits[1].Role != RoleUser || hits[0].Title != "Expert cache tuning" {
		t.Fatalf("limited search: %+v", hits)
	}
}

func TestSnippet(t *testing.T) {
	long := ""
	for i := 0; i < 40; i++ {
		long += fmt.Sprintf("word%d ", i)
	}
	for _, tc := range []struct{ text, term, want string }{
		{"short Text here", "text", "short Text here"},
		{"line one\n\nline two", "two", "line one line two"},
		{long + "NEEDLE in the haystack " + long, "needle", "…word35 word36 word37 word38 word39 NEEDLE in the haystack word0 word1 word2 word3 word4 word5 word6 word7 word8 word9…"},
		{"x" + long, "word39", "…word34 word35 word36 word37 word38 word39"},
	} {
		if got := makeSnippet([]byte(tc.text), []byte(tc.term)); got != tc.want {
			t.Errorf("makeSnippet(%q) = %q, want %q", tc.term, got, tc.want)
		}
	}
}

func TestWords(t *testing.T) {
	for _, tc := range []struct {
		text string
		want []string
	}{
		{"Hello, World! 42x", []string{"hello", "world", "42x"}},
		{"naïve CAFÉ", []string{"naïve", "café"}},
		{"東京タワー", []string{"東", "京", "タ", "ワ", "ー"}},
		{"C++ & Go-lang", []string{"c", "go", "lang"}},
		{"\u0301alone", []string{"alone"}},
		{"supercalifragilisticexpialidocious-and-then-some", []string{"supercalifragilisticexpialidocio", "and", "then", "some"}},
	} {
		var f folder
		var got []string
		forEachWord(f.fold([]byte(tc.text)), func(w []byte) bool { got = append(got, string(w)); return true })
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("words(%q) = %q, want %q", tc.text, got, tc.want)
		}
	}
}

// TestSearchManyConversations: results across many conversations (checked
// in parallel batches) keep the sidebar order and respect the limit.
func TestSearchManyConversations(t *testing.T) {
	s, clock := newTestStore(t)
	var want []ID
	for i := 0; i < 70; i++ {
		clock.advance(time.Minute)
		c := mustCreate(t, s, Conversation{Title: fmt.Sprint("chat ", i)})
		text := "nothing here"
		if i%3 != 0 {
			text = fmt.Sprintf("needle number %d", i)
			want = append([]ID{c.ID}, want...) // newest first
		}
		mustAppend(t, s, c.ID, RoleUser, text)
		mustAppend(t, s, c.ID, RoleAssistant, "filler reply")
	}
	for _, limit := range []int{0, 1, 7, 30} {
		hits, err := s.Search("needle", limit)
		if err != nil {
			t.Fatal(err)
		}
		n := len(want)
		if limit > 0 {
			n = min(limit, n)
		}
		if len(hits) != n {
			t.Fatalf("limit %d: %d hits, want %d", limit, len(hits), n)
		}
		for i, h := range hits {
			if h.ConvID != want[i] || h.Seq != 0 || h.InTitle {
				t.Fatalf("limit %d: hit %d is %s/%d, want %s/0", limit, i, h.ConvID, h.Seq, want[i])
			}
		}
	}
}
