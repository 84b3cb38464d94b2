package history

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/dgraph-io/badger/v4"
)

// TestMigrateSchema1 opens a database written by the schema-1 build (see
// testdata/schema1/README.md): it must upgrade on its own, keep every
// conversation, and search correctly, phrases included.
func TestMigrateSchema1(t *testing.T) {
	dir := t.TempDir()
	files, err := filepath.Glob("testdata/schema1/*")
	if err != nil || len(files) == 0 {
		t.Fatalf("fixture missing: %v", err)
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(f)), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	s, err := OpenWith(dir, Options{GCInterval: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { s.Close() }()
	if v, _, _ := s.schema(); v != SchemaVersion {
		t.Fatalf("schema %d after Open, want %d", v, SchemaVersion)
	}
	cs, err := s.List(0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var titles []string
	byTitle := map[string]Conversation{}
	for _, c := range cs {
		titles = append(titles, c.Title)
		byTitle[c.Title] = c
	}
	wantTitles := []string{"Go channels", "first question about sparse mixture", "Is an unbuffered channel a token memory fence?", "Expert cache tuning"}
	if !reflect.DeepEqual(titles, wantTitles) {
		t.Fatalf("conversations %q, want %q", titles, wantTitles)
	}
	checkIndex(t, s)

	id := func(title string) ID { return byTitle[title].ID }
	goc, edited, chann, cache := id(wantTitles[0]), id(wantTitles[1]), id(wantTitles[2]), id(wantTitles[3])
	for q, want := range map[string][]hitKey{
		// Not the deleted chat, nor the answer cut by the edit, nor "token  memory".
		`"token memory"`:   {{goc, false, 1}, {chann, true, 0}, {chann, false, 0}, {cache, false, 1}},
		`"memory token"`:   {{edited, false, 3}, {chann, false, 1}}, // seqs 1 and 2 were cut
		"zürich straße":    {{chann, false, 2}},
		`"東京タ"`:            {{chann, false, 2}},
		"8 gb":             {{cache, false, 1}},
		"deleted":          nil,
		`"caching 40% of"`: {{cache, false, 1}},
	} {
		hits, err := s.Search(q, 0)
		if err != nil || !reflect.DeepEqual(hitKeys(hits), want) {
			t.Errorf("Search(%s) = %v, %v; want %v", q, hitKeys(hits), err, want)
		}
		checkAgainstBrute(t, s, q)
	}

	// The upgraded store keeps working, and reopening does not migrate again.
	mustAppend(t, s, cache, RoleUser, "one more token memory question")
	s.Close()
	if s, err = OpenWith(dir, Options{GCInterval: -1}); err != nil {
		t.Fatal(err)
	}
	checkIndex(t, s)
	if hits, _ := s.Search(`"more token memory"`, 0); !reflect.DeepEqual(hitKeys(hits), []hitKey{{cache, false, 2}}) {
		t.Fatalf("after reopening: %v", hitKeys(hits))
	}
}

// TestRebuildIndexAgain: the index migrations start by dropping what they
// build, so one cut short by a crash (leaving partial or stale lists) is
// simply run again at the next Open.
func TestRebuildIndexAgain(t *testing.T) {
	s, _ := newTestStore(t)
	c := mustCreate(t, s, Conversation{Title: "Rebuilt"})
	mustAppend(t, s, c.ID, RoleUser, "token memory and more")
	mustAppend(t, s, c.ID, RoleAssistant, "an answer")
	stale := func() {
		t.Helper()
		err := s.db.Update(func(txn *badger.Txn) error {
			if err := txn.Set(wordKey([]byte("gone"), c.ID), encodePostings([]posting{{7, positions(1)}})); err != nil {
				return err
			}
			return txn.Set(shortKey([]byte("go"), c.ID), []byte{0xff}) // damaged
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for round := 0; round < 2; round++ {
		stale()
		if err := rebuildIndex(s); err != nil {
			t.Fatal(err)
		}
		if err := buildShortIndex(s); err != nil {
			t.Fatal(err)
		}
		checkIndex(t, s)
	}
	hits, err := s.Search(`"token memory" an`, 0)
	if want := []hitKey{{c.ID, false, 0}}; err != nil || !reflect.DeepEqual(hitKeys(hits), want) {
		t.Fatalf("after rebuilding: %v, %v; want %v", hitKeys(hits), err, want)
	}
}
