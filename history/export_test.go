package history

import (
	"bytes"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"
)

// fillVaried writes conversations that use every field.
func fillVaried(t *testing.T, s *Store, clock *fakeClock) []Conversation {
	t.Helper()
	var out []Conversation
	a := mustCreate(t, s, Conversation{Model: "smallthinker-4b", SystemPrompt: "Answer in French.\nBe brief.",
		Sampling: Sampling{Temperature: 0.7, TopK: 20, TopP: 0.95, RepetitionPenalty: 1.1, RepetitionWindow: 64, Seed: 42, MaxTokens: 256, ContextLength: 4096}})
	clock.advance(time.Second)
	mustAppend(t, s, a.ID, RoleSystem, "Answer in French.")
	mustAppend(t, s, a.ID, RoleUser, "Quelle est la capitale du Japon ? 東京?")
	if _, err := s.AppendMessage(a.ID, Message{Role: RoleAssistant, Text: "Tokyo (東京).", Thinking: "Simple geography.",
		Model: "smallthinker-4b", StopReason: "end", Stats: Stats{PromptTokens: 31, CachedTokens: 5, GeneratedTokens: 6,
			TimeToFirstToken: 412345678 * time.Nanosecond, Duration: 1500 * time.Millisecond, PrefillTokPerSec: 77.125,
			TokPerSec: 1.0 / 3, CacheHitRate: 0.8125}}); err != nil {
		t.Fatal(err)
	}
	clock.advance(time.Second)
	r, err := s.BeginReply(a.ID, "smallthinker-4b")
	if err != nil {
		t.Fatal(err)
	}
	s.checkpointEvery = 0
	r.Update("cut off mid", "", Stats{GeneratedTokens: 3}) // left incomplete
	out = append(out, a)

	clock.advance(time.Hour)
	b := mustCreate(t, s, Conversation{Title: "Pinned: **markdown** & \"quotes\"", Pinned: true})
	mustAppend(t, s, b.ID, RoleUser, "```go\nfmt.Println(\"hi\")\n```\n| a | b |")
	out = append(out, b)

	clock.advance(time.Hour)
	out = append(out, mustCreate(t, s, Conversation{})) // empty
	for i := range out {
		c, err := s.Conversation(out[i].ID)
		if err != nil {
			t.Fatal(err)
		}
		out[i] = c
	}
	return out
}

func snapshot(t *testing.T, s *Store) ([]Conversation, [][]Message) {
	t.Helper()
	cs, err := s.List(0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var msgs [][]Message
	for _, c := range cs {
		m, err := s.Messages(c.ID)
		if err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, m)
	}
	return cs, msgs
}

func TestExportImportRoundTrip(t *testing.T) {
	src, clock := newTestStore(t)
	fillVaried(t, src, clock)
	var exported bytes.Buffer
	if err := src.ExportJSON(&exported); err != nil {
		t.Fatal(err)
	}
	dst, _ := newTestStore(t)
	dst.now = clock.now // the same "exported" time
	res, err := dst.Import(bytes.NewReader(exported.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	if res != (ImportResult{Imported: 3, Messages: 5}) {
		t.Fatalf("import result %+v", res)
	}
	wantC, wantM := snapshot(t, src)
	gotC, gotM := snapshot(t, dst)
	if !reflect.DeepEqual(gotC, wantC) {
		t.Fatalf("conversations differ after the round trip\n got %+v\nwant %+v", gotC, wantC)
	}
	if !reflect.DeepEqual(gotM, wantM) {
		t.Fatalf("messages differ after the round trip\n got %+v\nwant %+v", gotM, wantM)
	}
	var again bytes.Buffer
	if err := dst.ExportJSON(&again); err != nil {
		t.Fatal(err)
	}
	if exported.String() != again.String() {
		t.Fatalf("export → import → export changed the file:\n%s\n---\n%s", exported.String(), again.String())
	}
	if !reflect.DeepEqual(indexKeys(t, dst), expectedIndex(t, dst)) {
		t.Fatal("imported conversations are not indexed for search")
	}
	if hits, _ := dst.Search("東京", 0); len(hits) != 3 { // title, question, answer
		t.Fatalf("search in imported history: %+v", hits)
	}
	// Importing again changes nothing.
	res, err = dst.Import(bytes.NewReader(exported.Bytes()))
	if err != nil || res != (ImportResult{Skipped: 3}) {
		t.Fatalf("second import: %+v, %v", res, err)
	}
	if c, _ := snapshot(t, dst); len(c) != 3 {
		t.Fatalf("second import added conversations: %d", len(c))
	}
	// One conversation exports alone.
	var one bytes.Buffer
	if err := src.ExportJSON(&one, wantC[0].ID); err != nil {
		t.Fatal(err)
	}
	solo, _ := newTestStore(t)
	if res, err := solo.Import(&one); err != nil || res.Imported != 1 {
		t.Fatalf("single export import: %+v, %v", res, err)
	}
}

func TestExportMarkdown(t *testing.T) {
	s, clock := newTestStore(t)
	cs := fillVaried(t, s, clock)
	var md bytes.Buffer
	if err := s.ExportMarkdown(&md, cs[0].ID); err != nil {
		t.Fatal(err)
	}
	out := md.String()
	for _, want := range []string{
		"# Quelle est la capitale du Japon ? 東京?\n",
		"> Answer in French.\n> Be brief.",
		"## User\n", "## Assistant\n", "## System\n",
		"<details><summary>Thinking</summary>\n\nSimple geography.\n\n</details>",
		"Tokyo (東京).", "6 tokens", "0.3 tok/s", "first token 0.41 s",
		"cut off mid\n\n*(this reply was cut off)*",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("markdown lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "Pinned") {
		t.Error("exporting one conversation included another")
	}
	md.Reset()
	if err := s.ExportMarkdown(&md); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(md.String(), "\n---\n"); n != 2 {
		t.Errorf("exporting all: %d separators, want 2", n)
	}
	if err := s.ExportMarkdown(&md, NewID(time.Now())); !errors.Is(err, ErrNotFound) {
		t.Errorf("exporting a missing conversation: %v", err)
	}
}

func TestImportRejectsBadFiles(t *testing.T) {
	const id = "0190f3a1b2c37d4e8f00112233445566"
	conv := func(msgs string) string {
		return `{"format":"smallthinker-chat-history","version":1,"conversations":[{"id":"` + id + `","title":"t","created":"2026-01-01T00:00:00Z","updated":"2026-01-01T00:00:00Z","sampling":{},"messages":[` + msgs + `]}]}`
	}
	for _, tc := range []struct{ name, file, want string }{
		{"not json", "hello", "reading the export"},
		{"other format", `{"format":"other","version":1}`, "not a SmallThinker"},
		{"future version", `{"format":"smallthinker-chat-history","version":9}`, "version 9"},
		{"bad id", `{"format":"smallthinker-chat-history","version":1,"conversations":[{"id":"xyz"}]}`, "32 hex"},
		{"missing id", `{"format":"smallthinker-chat-history","version":1,"conversations":[{"title":"x"}]}`, "no id"},
		{"duplicate id", `{"format":"smallthinker-chat-history","version":1,"conversations":[{"id":"` + id + `"},{"id":"` + id + `"}]}`, "twice"},
		{"bad role", conv(`{"seq":0,"role":"robot","text":"x"}`), "unknown role"},
		{"seq order", conv(`{"seq":3,"role":"user"},{"seq":2,"role":"user"}`), "not after"},
		{"bad duration", conv(`{"seq":0,"role":"user","stats":{"duration":"soon"}}`), "duration"},
		{"negative tokens", conv(`{"seq":0,"role":"user","stats":{"prompt_tokens":-1}}`), "negative"},
	} {
		s, _ := newTestStore(t)
		_, err := s.Import(strings.NewReader(tc.file))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one mentioning %q", tc.name, err, tc.want)
		}
		if n, _ := s.Count(); n != 0 {
			t.Errorf("%s: a rejected file wrote %d conversations", tc.name, n)
		}
	}
}

func FuzzImport(f *testing.F) {
	s, err := OpenWith("", Options{InMemory: true})
	if err != nil {
		f.Fatal(err)
	}
	defer s.Close()
	clock := &fakeClock{t: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	s.now = clock.now
	c, _ := s.CreateConversation(Conversation{Title: "seed"})
	s.AppendMessage(c.ID, Message{Role: RoleUser, Text: "hello"})
	var b bytes.Buffer
	s.ExportJSON(&b)
	f.Add(b.Bytes())
	f.Add([]byte(`{"format":"smallthinker-chat-history","version":1,"conversations":[{"id":"0190f3a1b2c37d4e8f00112233445566","messages":[{"seq":0,"role":"user"}]}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		convs, err := parseExport(bytes.NewReader(data))
		if err != nil {
			return
		}
		for _, ic := range convs {
			for _, m := range ic.msgs {
				if !validRole(m.Role) {
					t.Fatalf("accepted role %q", m.Role)
				}
				// Whatever parses must survive the record format.
				if _, err := decodeMessage(encodeMessage(&m)); err != nil {
					t.Fatalf("parsed message does not encode: %v", err)
				}
			}
			if _, err := decodeConversation(encodeConversation(&ic.c)); err != nil {
				t.Fatalf("parsed conversation does not encode: %v", err)
			}
		}
	})
}
