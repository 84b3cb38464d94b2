package history

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dgraph-io/badger/v4"
)

type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func newTestStore(t *testing.T) (*Store, *fakeClock) {
	t.Helper()
	s, err := OpenWith("", Options{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	clock := &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	s.now = clock.now
	t.Cleanup(func() { s.Close() })
	return s, clock
}

func mustCreate(t *testing.T, s *Store, c Conversation) Conversation {
	t.Helper()
	c, err := s.CreateConversation(c)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func mustAppend(t *testing.T, s *Store, id ID, role, text string) Message {
	t.Helper()
	m, err := s.AppendMessage(id, Message{Role: role, Text: text})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestCreateAppendAndRead(t *testing.T) {
	s, clock := newTestStore(t)
	c := mustCreate(t, s, Conversation{Model: "4b", SystemPrompt: "Be brief.", Sampling: Sampling{Temperature: 0.6, TopK: 20, TopP: 0.95}})
	if c.ID.IsZero() || !c.Created.Equal(clock.now()) || c.Title != "" || c.DisplayTitle() != "New chat" {
		t.Fatalf("created %+v", c)
	}
	clock.advance(time.Second)
	u := mustAppend(t, s, c.ID, RoleUser, "  What is a sparse\nmixture of experts?  ")
	clock.advance(time.Second)
	a, err := s.AppendMessage(c.ID, Message{Role: RoleAssistant, Text: "A model that routes tokens.", Thinking: "Keep it short.",
		Model: "4b", Stats: Stats{PromptTokens: 12, CachedTokens: 3, GeneratedTokens: 7, TimeToFirstToken: 412 * time.Millisecond,
			Duration: 2 * time.Second, PrefillTokPerSec: 80.5, TokPerSec: 11.25, CacheHitRate: 0.875}, StopReason: "end"})
	if err != nil {
		t.Fatal(err)
	}
	if u.Seq != 0 || a.Seq != 1 || a.ConvID != c.ID || !a.Created.Equal(clock.now()) {
		t.Fatalf("seqs %d %d, conv %s, created %v", u.Seq, a.Seq, a.ConvID, a.Created)
	}
	got, err := s.Messages(c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, []Message{u, a}) {
		t.Fatalf("messages\n got %+v\nwant %+v", got, []Message{u, a})
	}
	one, err := s.Message(c.ID, 1)
	if err != nil || !reflect.DeepEqual(one, a) {
		t.Fatalf("Message(1) = %+v, %v", one, err)
	}
	if _, err := s.Message(c.ID, 9); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing message: %v", err)
	}
	c2, err := s.Conversation(c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if c2.Title != "What is a sparse" || c2.MessageCount != 2 || !c2.Updated.Equal(clock.now()) || c2.SystemPrompt != "Be brief." || c2.Sampling.TopK != 20 {
		t.Fatalf("conversation after appends: %+v", c2)
	}
	if _, err := s.AppendMessage(c.ID, Message{Role: "robot", Text: "x"}); err == nil {
		t.Fatal("unknown role accepted")
	}
	if _, err := s.AppendMessage(NewID(clock.now()), Message{Role: RoleUser, Text: "x"}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("append to a missing conversation: %v", err)
	}
	if _, err := s.AppendMessage(c.ID, Message{Role: RoleUser, Text: "bad \xff"}); err == nil {
		t.Fatal("invalid UTF-8 accepted")
	}
}

func TestAutoTitle(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"Hello", "Hello"},
		{"\n\n  first   line  \nsecond", "first line"},
		{"", ""},
		{strings.Repeat("word ", 30), "word word word word word word word word word word word word…"},
		{strings.Repeat("x", 80), strings.Repeat("x", 60) + "…"},
		{"Привет, как работает разреженная смесь экспертов на обычном процессоре без видеокарты?", "Привет, как работает разреженная смесь экспертов на обычном…"},
	} {
		if got := AutoTitle(tc.in); got != tc.want {
			t.Errorf("AutoTitle(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func listIDs(t *testing.T, s *Store, offset, limit int) []ID {
	t.Helper()
	cs, err := s.List(offset, limit)
	if err != nil {
		t.Fatal(err)
	}
	var ids []ID
	for _, c := range cs {
		ids = append(ids, c.ID)
	}
	return ids
}

func TestListOrderPinningAndPaging(t *testing.T) {
	s, clock := newTestStore(t)
	var cs []Conversation
	for i := 0; i < 5; i++ {
		clock.advance(time.Minute)
		cs = append(cs, mustCreate(t, s, Conversation{Title: fmt.Sprint("chat ", i)}))
	}
	want := []ID{cs[4].ID, cs[3].ID, cs[2].ID, cs[1].ID, cs[0].ID}
	if got := listIDs(t, s, 0, 0); !reflect.DeepEqual(got, want) {
		t.Fatalf("newest first: %v, want %v", got, want)
	}
	clock.advance(time.Minute)
	mustAppend(t, s, cs[1].ID, RoleUser, "bump") // activity moves it to the top
	if err := s.Pin(cs[0].ID, true); err != nil {
		t.Fatal(err)
	}
	want = []ID{cs[0].ID, cs[1].ID, cs[4].ID, cs[3].ID, cs[2].ID}
	if got := listIDs(t, s, 0, 0); !reflect.DeepEqual(got, want) {
		t.Fatalf("pinned, then newest: %v, want %v", got, want)
	}
	for _, tc := range []struct{ offset, limit, from, to int }{{0, 2, 0, 2}, {2, 2, 2, 4}, {4, 2, 4, 5}, {5, 2, 5, 5}, {1, 0, 1, 5}} {
		got := listIDs(t, s, tc.offset, tc.limit)
		if w := want[tc.from:tc.to]; !(len(got) == 0 && len(w) == 0) && !reflect.DeepEqual(got, w) {
			t.Errorf("List(%d, %d) = %v, want %v", tc.offset, tc.limit, got, w)
		}
	}
	if n, err := s.Count(); err != nil || n != 5 {
		t.Fatalf("Count = %d, %v", n, err)
	}
	if err := s.Pin(cs[0].ID, false); err != nil {
		t.Fatal(err)
	}
	if got := listIDs(t, s, 0, 1); got[0] != cs[1].ID {
		t.Fatalf("after unpin the newest is first, got %v", got)
	}
	if got := listIDs(t, s, 0, 0); len(got) != 5 {
		t.Fatalf("unpinning left %d entries, want 5 (stale sidebar keys?)", len(got))
	}
}

func TestRenameAndUpdate(t *testing.T) {
	s, _ := newTestStore(t)
	c := mustCreate(t, s, Conversation{})
	if err := s.Rename(c.ID, "  My\n plans "); err != nil {
		t.Fatal(err)
	}
	mustAppend(t, s, c.ID, RoleUser, "this should not rename it")
	got, _ := s.Conversation(c.ID)
	if got.Title != "My plans" {
		t.Fatalf("title %q", got.Title)
	}
	u, err := s.UpdateConversation(c.ID, func(c *Conversation) {
		c.Model, c.SystemPrompt, c.Sampling.Temperature = "21b", "You are terse.", 0.2
		c.MessageCount = 99 // not the caller's to change
	})
	if err != nil {
		t.Fatal(err)
	}
	got, _ = s.Conversation(c.ID)
	if !reflect.DeepEqual(got, u) || got.Model != "21b" || got.SystemPrompt != "You are terse." || got.Sampling.Temperature != 0.2 || got.MessageCount != 1 {
		t.Fatalf("after update %+v (returned %+v)", got, u)
	}
	if err := s.Rename(NewID(time.Now()), "x"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("rename missing: %v", err)
	}
}

// indexKeys returns every search list in the store as "key=postings".
func indexKeys(t *testing.T, s *Store) []string {
	t.Helper()
	var keys []string
	for _, prefix := range [][]byte{prefixWord, prefixShort} {
		s.db.View(func(txn *badger.Txn) error {
			it := txn.NewIterator(badger.IteratorOptions{Prefix: prefix, PrefetchValues: true})
			defer it.Close()
			for it.Rewind(); it.Valid(); it.Next() {
				v, _ := it.Item().ValueCopy(nil)
				ps, err := decodePostings(v)
				if err != nil {
					t.Errorf("posting list %q: %v", it.Item().Key(), err)
				}
				keys = append(keys, fmt.Sprintf("%q=%s", it.Item().Key(), formatPostings(t, ps)))
			}
			return nil
		})
	}
	sort.Strings(keys)
	return keys
}

// expectedIndex recomputes the postings from the stored texts.
func expectedIndex(t *testing.T, s *Store) []string {
	t.Helper()
	cs, err := s.List(0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	var f folder
	for _, c := range cs {
		msgs, err := s.Messages(c.ID)
		if err != nil {
			t.Fatal(err)
		}
		for w, ps := range convPostings(&f, c.Title, msgs).words {
			keys = append(keys, fmt.Sprintf("%q=%s", wordKey([]byte(w), c.ID), formatPostings(t, ps)))
		}
		// The prefix index straight from the texts: each text under the
		// first two runes of each of its words, at the words' positions
		// (numbered through text and thinking with a gap).
		starts := map[string][]posting{}
		add := func(seq uint64, texts ...string) {
			at := map[string][]uint32{}
			next := uint32(0)
			for i, text := range texts {
				if i > 0 {
					next++
				}
				forEachWord(f.fold([]byte(text)), func(w []byte) bool {
					if r := []rune(string(w)); len(r) >= 2 {
						at[string(r[:2])] = append(at[string(r[:2])], next)
					}
					next++
					return true
				})
			}
			for p, pos := range at {
				if next > maxPositions {
					pos = nil
				}
				starts[p] = append(starts[p], posting{seq: seq, pos: positions(pos...)})
			}
		}
		for _, m := range msgs {
			add(m.Seq, m.Text, m.Thinking)
		}
		add(titleSeq, c.Title)
		for p, ps := range starts {
			keys = append(keys, fmt.Sprintf("%q=%s", shortKey([]byte(p), c.ID), formatPostings(t, ps)))
		}
	}
	sort.Strings(keys)
	return keys
}

// formatPostings prints a list as "seq@positions ...".
func formatPostings(t *testing.T, ps []posting) string {
	t.Helper()
	var b strings.Builder
	for _, p := range ps {
		pos, err := decodePositions(nil, p.pos)
		if err != nil {
			t.Errorf("positions of %d: %v", p.seq, err)
		}
		fmt.Fprintf(&b, "%d@%v ", p.seq, pos)
	}
	return b.String()
}

func TestIndexFollowsEveryChange(t *testing.T) {
	s, clock := newTestStore(t)
	s.checkpointEvery = 0
	a := mustCreate(t, s, Conversation{})
	b := mustCreate(t, s, Conversation{Title: "Rust versus Go"})
	mustAppend(t, s, a.ID, RoleUser, "Explain goroutines and channels")
	r, err := s.BeginReply(a.ID, "4b")
	if err != nil {
		t.Fatal(err)
	}
	r.Update("Goroutines are cheap", "thinking about threads", Stats{})
	r.Update("Goroutines are lightweight threads", "", Stats{}) // a word disappears
	if _, err := r.Finish("Goroutines are lightweight threads; channels connect them.", "", Stats{}, "end"); err != nil {
		t.Fatal(err)
	}
	mustAppend(t, s, b.ID, RoleUser, "Compare ownership with garbage collection")
	mustAppend(t, s, b.ID, RoleAssistant, "Ownership frees memory deterministically")
	mustAppend(t, s, b.ID, RoleUser, "And data races?")
	clock.advance(time.Second)
	if err := s.Rename(b.ID, "Memory models"); err != nil {
		t.Fatal(err)
	}
	if err := s.TruncateAfter(b.ID, 0); err != nil {
		t.Fatal(err)
	}
	c := mustCreate(t, s, Conversation{})
	mustAppend(t, s, c.ID, RoleUser, "temporary chat about tensors")
	if err := s.Delete(c.ID); err != nil {
		t.Fatal(err)
	}
	got, want := indexKeys(t, s), expectedIndex(t, s)
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("index drifted from the texts:\n got %q\nwant %q", got, want)
	}
	if bm, _ := s.Messages(b.ID); len(bm) != 1 {
		t.Fatalf("truncate left %d messages", len(bm))
	}
	if bc, _ := s.Conversation(b.ID); bc.MessageCount != 1 {
		t.Fatalf("truncate left count %d", bc.MessageCount)
	}
}

func TestDeleteAndDeleteAll(t *testing.T) {
	s, _ := newTestStore(t)
	a := mustCreate(t, s, Conversation{})
	b := mustCreate(t, s, Conversation{})
	for i := 0; i < 30; i++ {
		mustAppend(t, s, a.ID, RoleUser, fmt.Sprint("alpha message ", i))
		mustAppend(t, s, b.ID, RoleUser, fmt.Sprint("beta message ", i))
	}
	if err := s.SavePreset(Preset{Model: "4b", Name: "precise", Sampling: Sampling{Greedy: true}}); err != nil {
		t.Fatal(err)
	}
	if err := s.Delete(a.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Conversation(a.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleted conversation still there: %v", err)
	}
	if _, err := s.Messages(a.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("messages of a deleted conversation: %v", err)
	}
	if hits, _ := s.Search("alpha", 0); len(hits) != 0 {
		t.Fatalf("search finds deleted messages: %+v", hits)
	}
	if hits, _ := s.Search("beta", 0); len(hits) != 31 {
		t.Fatalf("search finds %d beta hits, want the title and 30 messages", len(hits))
	}
	if !reflect.DeepEqual(indexKeys(t, s), expectedIndex(t, s)) {
		t.Fatal("delete left search postings behind")
	}
	if err := s.Delete(a.ID); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second delete: %v", err)
	}
	if err := s.DeleteAll(); err != nil {
		t.Fatal(err)
	}
	if ids := listIDs(t, s, 0, 0); len(ids) != 0 {
		t.Fatalf("after DeleteAll: %v", ids)
	}
	if n := len(indexKeys(t, s)); n != 0 {
		t.Fatalf("after DeleteAll %d postings remain", n)
	}
	if ps, err := s.Presets("4b"); err != nil || len(ps) != 1 {
		t.Fatalf("DeleteAll must keep presets: %v, %v", ps, err)
	}
	c := mustCreate(t, s, Conversation{})
	mustAppend(t, s, c.ID, RoleUser, "fresh start")
	if hits, _ := s.Search("fresh", 0); len(hits) != 2 { // title and message
		t.Fatalf("store unusable after DeleteAll: %+v", hits)
	}
}

func TestInterruptedDeleteFinishesAtOpen(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenWith(dir, Options{GCInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	c := mustCreate(t, s, Conversation{})
	for i := 0; i < 5; i++ {
		mustAppend(t, s, c.ID, RoleUser, "doomed words")
	}
	// Simulate a crash between the first step of Delete and the purge.
	err = s.update(func(txn *badger.Txn) error {
		if err := txn.Delete(convKey(c.ID)); err != nil {
			return err
		}
		cc := c
		cc.Updated = c.Updated
		return txn.Set(deletedKey(c.ID), nil)
	})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = OpenWith(dir, Options{GCInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	var left int
	s.db.View(func(txn *badger.Txn) error {
		for _, p := range [][]byte{msgPrefix(c.ID), prefixDeleted} {
			it := txn.NewIterator(badger.IteratorOptions{Prefix: p})
			for it.Rewind(); it.Valid(); it.Next() {
				left++
			}
			it.Close()
		}
		return nil
	})
	if left != 0 {
		t.Fatalf("%d message or marker keys survive an interrupted delete", left)
	}
}

func TestReplyCheckpoints(t *testing.T) {
	s, clock := newTestStore(t)
	c := mustCreate(t, s, Conversation{})
	mustAppend(t, s, c.ID, RoleUser, "hi")
	r, err := s.BeginReply(c.ID, "4b")
	if err != nil {
		t.Fatal(err)
	}
	stored := func() Message {
		m, err := s.Message(c.ID, r.Message().Seq)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	if m := stored(); !m.Incomplete || m.Text != "" || m.Role != RoleAssistant || m.Model != "4b" {
		t.Fatalf("begun reply %+v", m)
	}
	clock.advance(500 * time.Millisecond)
	r.Update("Hel", "", Stats{GeneratedTokens: 1})
	if m := stored(); m.Text != "" {
		t.Fatalf("wrote a checkpoint after 0.5 s: %q", m.Text)
	}
	clock.advance(1600 * time.Millisecond)
	r.Update("Hello", "hmm", Stats{GeneratedTokens: 2})
	if m := stored(); m.Text != "Hello" || m.Thinking != "hmm" || !m.Incomplete || m.Stats.GeneratedTokens != 2 {
		t.Fatalf("checkpoint after 2.1 s: %+v", m)
	}
	clock.advance(time.Second)
	r.Update("Hello wor", "hmm", Stats{GeneratedTokens: 3})
	if m := stored(); m.Text != "Hello" {
		t.Fatalf("checkpoint 1 s after the last one: %q", m.Text)
	}
	if err := r.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	if m := stored(); m.Text != "Hello wor" {
		t.Fatalf("forced checkpoint: %q", m.Text)
	}
	clock.advance(time.Second)
	final, err := r.Finish("Hello world", "hmm", Stats{GeneratedTokens: 4, TokPerSec: 9}, "end")
	if err != nil {
		t.Fatal(err)
	}
	if m := stored(); !reflect.DeepEqual(m, final) || m.Incomplete || m.StopReason != "end" || m.Text != "Hello world" {
		t.Fatalf("finished %+v, returned %+v", m, final)
	}
	if cv, _ := s.Conversation(c.ID); !cv.Updated.Equal(clock.now()) {
		t.Fatalf("Finish did not bump Updated: %v", cv.Updated)
	}
	if err := r.Update("more", "", Stats{}); !errors.Is(err, ErrReplyFinished) {
		t.Fatalf("update after finish: %v", err)
	}
	if _, err := r.Finish("x", "", Stats{}, "end"); !errors.Is(err, ErrReplyFinished) {
		t.Fatalf("second finish: %v", err)
	}
	// A reply whose conversation is deleted mid-stream fails cleanly.
	r2, _ := s.BeginReply(c.ID, "4b")
	if err := s.Delete(c.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := r2.Finish("late", "", Stats{}, "end"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("finish into a deleted conversation: %v", err)
	}
}

func TestPresets(t *testing.T) {
	s, _ := newTestStore(t)
	for _, p := range []Preset{
		{Model: "4b", Name: "creative", Sampling: Sampling{Temperature: 1.1, TopK: 40, TopP: 0.98}},
		{Model: "4b", Name: "code", SystemPrompt: "You write Go.", Sampling: Sampling{Temperature: 0.2, MaxTokens: 512}},
		{Model: "21b", Name: "code", Sampling: Sampling{Greedy: true}},
	} {
		if err := s.SavePreset(p); err != nil {
			t.Fatal(err)
		}
	}
	ps, err := s.Presets("4b")
	if err != nil || len(ps) != 2 || ps[0].Name != "code" || ps[0].SystemPrompt != "You write Go." || ps[1].Sampling.TopK != 40 {
		t.Fatalf("Presets(4b) = %+v, %v", ps, err)
	}
	p, err := s.Preset("21b", "code")
	if err != nil || !p.Sampling.Greedy {
		t.Fatalf("Preset = %+v, %v", p, err)
	}
	if err := s.DeletePreset("4b", "code"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Preset("4b", "code"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleted preset: %v", err)
	}
	if err := s.SavePreset(Preset{Model: "4b"}); err == nil {
		t.Fatal("a preset without a name was accepted")
	}
}

func TestLockedByAnotherInstance(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenWith(dir, Options{GCInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	_, err = OpenWith(dir, Options{GCInterval: -1})
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second open: %v, want ErrLocked", err)
	}
	if !strings.Contains(err.Error(), fmt.Sprint("process ", os.Getpid())) {
		t.Errorf("the message does not name the holder: %v", err)
	}
	if errors.Is(err, ErrCorrupt) {
		t.Error("a lock is not corruption")
	}
	// A table the running instance is still writing looks damaged; a second
	// instance must still say "locked", never "corrupt".
	partial := filepath.Join(dir, "999999.sst")
	if err := os.WriteFile(partial, []byte("half a table"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := OpenWith(dir, Options{GCInterval: -1}); !errors.Is(err, ErrLocked) {
		t.Fatalf("second open while a table is being written: %v, want ErrLocked", err)
	}
	os.Remove(partial)
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = OpenWith(dir, Options{GCInterval: -1})
	if err != nil {
		t.Fatalf("open after the holder closed: %v", err)
	}
	s.Close()
}

func TestCorruptDatabaseIsMovedAsideNotDeleted(t *testing.T) {
	root := t.TempDir()
	dir := filepath.Join(root, "history")
	s, err := OpenWith(dir, Options{GCInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	c := mustCreate(t, s, Conversation{Title: "precious"})
	mustAppend(t, s, c.ID, RoleUser, "do not lose me")
	s.Close()
	garbage := bytes.Repeat([]byte{0xde, 0xad, 0xbe, 0xef}, 64)
	if err := os.WriteFile(filepath.Join(dir, "MANIFEST"), garbage, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = OpenWith(dir, Options{GCInterval: -1})
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("open of a damaged database: %v, want ErrCorrupt", err)
	}
	moved, err := MoveAside(dir)
	if err != nil {
		t.Fatal(err)
	}
	if b, err := os.ReadFile(filepath.Join(moved, "MANIFEST")); err != nil || !bytes.Equal(b, garbage) {
		t.Fatalf("the damaged files were not kept in %s: %v", moved, err)
	}
	s, err = OpenWith(dir, Options{GCInterval: -1})
	if err != nil {
		t.Fatalf("fresh start after moving aside: %v", err)
	}
	defer s.Close()
	if n, _ := s.Count(); n != 0 {
		t.Fatalf("fresh store has %d conversations", n)
	}
	if _, err := MoveAside(filepath.Join(root, "missing")); err == nil {
		t.Fatal("MoveAside of a missing directory succeeded")
	}
}

func TestSchemaMigrations(t *testing.T) {
	dir := t.TempDir()
	s, err := OpenWith(dir, Options{GCInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	c := mustCreate(t, s, Conversation{Title: "old"})
	s.Close()

	ran := 0
	currentSchema = SchemaVersion + 1
	migrations[SchemaVersion] = func(s *Store) error {
		ran++
		return s.Rename(c.ID, "migrated") // a migration sees a working store
	}
	defer func() { currentSchema = SchemaVersion; delete(migrations, SchemaVersion) }()
	s, err = OpenWith(dir, Options{GCInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	if v, _, _ := s.schema(); v != SchemaVersion+1 || ran != 1 {
		t.Fatalf("schema %d after migration, migration ran %d times", v, ran)
	}
	if got, _ := s.Conversation(c.ID); got.Title != "migrated" {
		t.Fatalf("migration did not apply: %q", got.Title)
	}
	s.Close()
	s, err = OpenWith(dir, Options{GCInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	if ran != 1 {
		t.Fatalf("migration ran again on reopen (%d)", ran)
	}
	currentSchema = SchemaVersion // an older build opening a newer database
	if _, err := OpenWith(dir, Options{GCInterval: -1}); !errors.Is(err, ErrNewerSchema) {
		t.Fatalf("older build: %v, want ErrNewerSchema", err)
	}
}

func TestClosedStore(t *testing.T) {
	s, err := OpenWith(t.TempDir(), Options{GCInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	c := mustCreate(t, s, Conversation{})
	r, _ := s.BeginReply(c.ID, "m")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); !errors.Is(err, ErrClosed) {
		t.Fatalf("second Close: %v", err)
	}
	if _, err := s.List(0, 10); !errors.Is(err, ErrClosed) {
		t.Fatalf("List after Close: %v", err)
	}
	if _, err := s.AppendMessage(c.ID, Message{Role: RoleUser, Text: "x"}); !errors.Is(err, ErrClosed) {
		t.Fatalf("append after Close: %v", err)
	}
	if _, err := r.Finish("x", "", Stats{}, "end"); !errors.Is(err, ErrClosed) {
		t.Fatalf("finish after Close: %v", err)
	}
	s.CollectGarbage() // must not panic
}

func TestConcurrentWriters(t *testing.T) {
	s, err := OpenWith("", Options{InMemory: true})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c := mustCreate(t, s, Conversation{})
	const writers, each = 4, 25
	var wg sync.WaitGroup
	errs := make(chan error, writers*each)
	for w := 0; w < writers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				if _, err := s.AppendMessage(c.ID, Message{Role: RoleUser, Text: fmt.Sprintf("writer %d line %d", w, i)}); err != nil {
					errs <- err
				}
				s.List(0, 10)
				s.Search("line", 5)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	msgs, _ := s.Messages(c.ID)
	got, _ := s.Conversation(c.ID)
	if len(msgs) != writers*each || got.MessageCount != writers*each {
		t.Fatalf("%d messages, count %d, want %d", len(msgs), got.MessageCount, writers*each)
	}
	for i, m := range msgs {
		if m.Seq != uint64(i) {
			t.Fatalf("message %d has seq %d", i, m.Seq)
		}
	}
}

func TestDefaultDir(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", "/tmp/xdg-test")
	t.Setenv("HOME", "/tmp/home-test")
	d, err := DefaultDir()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(d, filepath.Join("smallthinker", "history")) {
		t.Fatalf("DefaultDir = %q", d)
	}
}

// TestDamagedTables damages the table file in the ways a disk or a crash
// can: each must end in ErrCorrupt (at Open, or from Verify), never a panic,
// and the files must stay where they are.
func TestDamagedTables(t *testing.T) {
	for _, tc := range []struct {
		name     string
		damage   func([]byte) []byte
		atVerify bool // Open succeeds; Verify finds it
	}{
		{"zeroed footer", func(b []byte) []byte { copy(b[len(b)-20:], make([]byte, 20)); return b }, false},
		{"truncated", func(b []byte) []byte { return b[:len(b)/2] }, false},
		{"flipped block bytes", func(b []byte) []byte {
			for i := len(b) / 4; i < len(b)/2; i++ {
				b[i] ^= 0x55
			}
			return b
		}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			s, err := OpenWith(dir, Options{GCInterval: -1})
			if err != nil {
				t.Fatal(err)
			}
			c := mustCreate(t, s, Conversation{})
			for i := 0; i < 50; i++ {
				mustAppend(t, s, c.ID, RoleUser, fmt.Sprint("hello world message ", i))
			}
			if err := s.Verify(); err != nil {
				t.Fatalf("Verify of a healthy store: %v", err)
			}
			s.Close()
			tables, _ := filepath.Glob(filepath.Join(dir, "*.sst"))
			if len(tables) == 0 {
				t.Fatal("no table written at Close")
			}
			for _, p := range tables {
				b, _ := os.ReadFile(p)
				os.WriteFile(p, tc.damage(b), 0o600)
			}
			s, err = OpenWith(dir, Options{GCInterval: -1})
			if !tc.atVerify {
				if !errors.Is(err, ErrCorrupt) {
					t.Fatalf("Open: %v, want ErrCorrupt", err)
				}
			} else {
				if err != nil {
					t.Fatalf("Open: %v", err)
				}
				err = s.Verify()
				s.Close()
				if !errors.Is(err, ErrCorrupt) {
					t.Fatalf("Verify: %v, want ErrCorrupt", err)
				}
			}
			for _, p := range tables {
				if _, err := os.Stat(p); err != nil {
					t.Fatalf("the damaged table is gone: %v", err)
				}
			}
		})
	}
}

func TestCollectGarbageOnALiveStore(t *testing.T) {
	s, err := OpenWith(t.TempDir(), Options{GCInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	c := mustCreate(t, s, Conversation{})
	for i := 0; i < 20; i++ {
		mustAppend(t, s, c.ID, RoleUser, strings.Repeat("x", 1000))
	}
	if err := s.Delete(c.ID); err != nil {
		t.Fatal(err)
	}
	s.CollectGarbage()
	d := mustCreate(t, s, Conversation{})
	mustAppend(t, s, d.ID, RoleUser, "still works")
	if msgs, err := s.Messages(d.ID); err != nil || len(msgs) != 1 {
		t.Fatalf("after GC: %v, %v", msgs, err)
	}
}

// TestDamagedRecordsAreSkipped: one unreadable record must not hide the
// rest of the history from the sidebar, the conversation view, search or
// export.
func TestDamagedRecordsAreSkipped(t *testing.T) {
	s, _ := newTestStore(t)
	good := mustCreate(t, s, Conversation{})
	bad := mustCreate(t, s, Conversation{Title: "bad"})
	for i := 0; i < 3; i++ {
		mustAppend(t, s, good.ID, RoleUser, fmt.Sprint("kept message ", i))
	}
	mustAppend(t, s, bad.ID, RoleUser, "kept too")
	err := s.update(func(txn *badger.Txn) error {
		if err := txn.Set(msgKey(good.ID, 1), []byte{kindMessage, 9, 1, 2, 3}); err != nil {
			return err
		}
		return txn.Set(convKey(bad.ID), []byte("garbage"))
	})
	if err != nil {
		t.Fatal(err)
	}
	msgs, err := s.Messages(good.ID)
	if !errors.Is(err, ErrCorrupt) || len(msgs) != 2 || msgs[0].Seq != 0 || msgs[1].Seq != 2 {
		t.Fatalf("Messages = %d messages, %v; want the 2 readable ones and ErrCorrupt", len(msgs), err)
	}
	cs, err := s.List(0, 0)
	if !errors.Is(err, ErrCorrupt) || len(cs) != 1 || cs[0].ID != good.ID {
		t.Fatalf("List = %v, %v; want the readable conversation and ErrCorrupt", cs, err)
	}
	hits, err := s.Search("kept", 0)
	if err != nil || len(hits) != 3 { // title "kept message 0" is the auto title; bad conversation skipped
		t.Fatalf("Search = %+v, %v", hits, err)
	}
	var out bytes.Buffer
	err = s.ExportJSON(&out)
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(out.String(), "kept message 2") {
		t.Fatalf("ExportJSON: %v\n%s", err, out.String())
	}
	other, _ := newTestStore(t)
	if res, err := other.Import(&out); err != nil || res.Imported != 1 || res.Messages != 2 {
		t.Fatalf("the partial export does not import: %+v, %v", res, err)
	}
}
