package models

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"smallthinker/weights/gguf"
)

func writeFile(t *testing.T, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// llamaGGUF is a well-formed GGUF of another architecture.
func llamaGGUF(t *testing.T) []byte {
	var b bytes.Buffer
	err := gguf.Write(&b, []gguf.KV{{Key: "general.architecture", Value: gguf.String("llama")}},
		[]gguf.WriteTensor{gguf.BytesTensor("token_embd.weight", gguf.F32, []uint64{4, 2}, make([]byte, 32))})
	if err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// withoutTensor rewrites the test model minus one tensor.
func withoutTensor(t *testing.T, name string) []byte {
	body := testModel(t)
	f, err := gguf.Parse(bytes.NewReader(body), int64(len(body)))
	if err != nil {
		t.Fatal(err)
	}
	var ts []gguf.WriteTensor
	for _, ti := range f.Tensors {
		if ti.Name == name {
			continue
		}
		data, err := f.ReadTensor(&ti)
		if err != nil {
			t.Fatal(err)
		}
		ts = append(ts, gguf.BytesTensor(ti.Name, ti.Type, ti.Dims, data))
	}
	var b bytes.Buffer
	if err := gguf.Write(&b, f.KVs, ts); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func TestVerifyNamesTheProblem(t *testing.T) {
	dir := t.TempDir()
	body := testModel(t)
	for _, tc := range []struct {
		name string
		data []byte
		kind error
		say  string
	}{
		{"text.gguf", []byte("hello, this is not a model"), ErrNotGGUF, `starts with "hell"`},
		{"page.gguf", []byte("<!DOCTYPE html>"), ErrNotGGUF, "HTML"},
		{"lfs.gguf", []byte("version https://git-lfs.github.com/spec/v1\n"), ErrNotGGUF, "Git LFS pointer"},
		{"empty.gguf", nil, ErrNotGGUF, "only 0 bytes"},
		{"half.gguf", body[:len(body)/2], ErrDamaged, "incomplete file"},
		{"header-cut.gguf", body[:5000], ErrDamaged, "incomplete"},
		{"llama.gguf", llamaGGUF(t), ErrWrongArch, `architecture is "llama"`},
		{"no-router.gguf", withoutTensor(t, "blk.2.ffn_gate_inp.weight"), ErrIncompleteModel, "blk.2.ffn_gate_inp.weight is missing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := Verify(writeFile(t, dir, tc.name, tc.data))
			if !errors.Is(err, tc.kind) || !strings.Contains(err.Error(), tc.say) {
				t.Fatalf("got %v, want %v saying %q", err, tc.kind, tc.say)
			}
			if strings.Contains(err.Error(), "\n") || !strings.HasPrefix(err.Error(), tc.name+": ") {
				t.Errorf("message %q is not one line starting with the file name", err)
			}
		})
	}
	if err := Verify(writeFile(t, dir, "ok.gguf", body)); err != nil {
		t.Fatalf("valid model rejected: %v", err)
	}
	if err := Verify(filepath.Join(dir, "absent.gguf")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

func TestInspect(t *testing.T) {
	p := writeFile(t, t.TempDir(), "m.gguf", testModel(t))
	info, err := Inspect(p)
	if err != nil {
		t.Fatal(err)
	}
	if info.Quant != "Q4_0" || !info.Demo || info.Size != int64(len(testModel(t))) || info.Config.Layers != 4 ||
		!strings.Contains(info.Family, "custom") || !strings.Contains(info.Name, "tiny") {
		t.Errorf("info %+v", *info)
	}
}

func TestImport(t *testing.T) {
	src, models := t.TempDir(), t.TempDir()
	good := writeFile(t, src, "good.gguf", testModel(t))
	writeFile(t, src, "bad.gguf", []byte("junk junk"))
	os.MkdirAll(filepath.Join(src, "sub"), 0o755)
	writeFile(t, filepath.Join(src, "sub"), "nested.gguf", testModel(t)[:1000])

	if _, err := Import(filepath.Join(src, "bad.gguf"), models, false); !errors.Is(err, ErrNotGGUF) {
		t.Fatalf("bad import: %v", err)
	}
	// In place: recorded, listed, not copied; Remove forgets without deleting.
	info, err := Import(good, models, false)
	if err != nil || !info.Imported {
		t.Fatalf("in-place import: %v %+v", err, info)
	}
	if _, err := Import(good, models, false); err != nil {
		t.Fatalf("re-import: %v", err)
	}
	list, _ := Installed(models)
	if len(list) != 1 || list[0].Path != good || !list[0].Imported || list[0].Err != nil {
		t.Fatalf("installed after in-place import: %+v", list)
	}
	if err := Remove(models, good); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(good); err != nil {
		t.Fatal("Remove deleted the user's imported file")
	}
	if list, _ := Installed(models); len(list) != 0 {
		t.Fatalf("still listed after Remove: %+v", list)
	}
	// Copy: the models folder gets its own verified copy.
	info, err = Import(good, models, true)
	if err != nil || info.Imported || filepath.Dir(info.Path) != models {
		t.Fatalf("copy import: %v %+v", err, info)
	}
	if a, b := sha256.Sum256(testModel(t)), mustRead(t, info.Path); a != sha256.Sum256(b) {
		t.Fatal("copy differs")
	}
	if _, err := Import(good, models, true); !errors.Is(err, ErrExists) {
		t.Errorf("second copy: %v", err)
	}
	// A vanished in-place import is listed with a reason, not dropped silently.
	moved := writeFile(t, src, "moved.gguf", testModel(t))
	if _, err := Import(moved, models, false); err != nil {
		t.Fatal(err)
	}
	os.Remove(moved)
	list, _ = Installed(models)
	if len(list) != 2 {
		t.Fatalf("%d listed", len(list))
	}
	for _, m := range list {
		if m.Path == moved && (m.Err == nil || !strings.Contains(m.Err.Error(), "no longer exists")) {
			t.Errorf("vanished import: %v", m.Err)
		}
	}

	found, err := ScanFolder(src)
	if err != nil {
		t.Fatal(err)
	}
	oks, bads := 0, 0
	for _, r := range found {
		if r.Err == nil {
			oks++
		} else {
			bads++
		}
	}
	if oks != 1 || bads != 2 {
		t.Errorf("scan found %d good, %d bad: %+v", oks, bads, found)
	}
}

func mustRead(t *testing.T, p string) []byte {
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestEnsureDemo(t *testing.T) {
	a, b := t.TempDir(), t.TempDir()
	start := time.Now()
	p, err := EnsureDemo(filepath.Join(a, "fresh", "models"))
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("demo created in %v", time.Since(start))
	info, err := Inspect(p)
	if err != nil || !info.Demo || filepath.Base(p) != DemoFile {
		t.Fatalf("demo: %v %+v", err, info)
	}
	q, err := EnsureDemo(b)
	if err != nil {
		t.Fatal(err)
	}
	if sha256.Sum256(mustRead(t, p)) != sha256.Sum256(mustRead(t, q)) {
		t.Error("demo differs between two installs")
	}
	// Present and valid: left alone. Damaged: regenerated.
	st1, _ := os.Stat(q)
	os.Chtimes(q, st1.ModTime().Add(-time.Hour), st1.ModTime().Add(-time.Hour))
	st1, _ = os.Stat(q)
	if _, err := EnsureDemo(b); err != nil {
		t.Fatal(err)
	}
	if st2, _ := os.Stat(q); !st2.ModTime().Equal(st1.ModTime()) {
		t.Error("valid demo was rewritten")
	}
	os.Truncate(q, 1000)
	if _, err := EnsureDemo(b); err != nil || Verify(q) != nil {
		t.Errorf("damaged demo not repaired: %v", err)
	}
	list, _ := Installed(b)
	if len(list) != 1 || !list[0].Demo {
		t.Errorf("installed: %+v", list)
	}
}

func TestCatalog(t *testing.T) {
	es := Catalog()
	if len(es) < 4 {
		t.Fatalf("%d entries", len(es))
	}
	seenCommunity := false
	for _, e := range es {
		if !strings.HasPrefix(e.URL, "https://huggingface.co/") || !strings.HasSuffix(e.URL, "/"+e.File) {
			t.Errorf("%s: url %s does not end in its file %s", e.ID, e.URL, e.File)
		}
		if e.Official && seenCommunity {
			t.Errorf("official %s listed after community files", e.ID)
		}
		seenCommunity = seenCommunity || !e.Official
	}
	if es[0].ID != "smallthinker-4b-q4_0" {
		t.Errorf("first entry %s, want the official 4B Q4_0", es[0].ID)
	}
	const gib = 1 << 30
	for _, tc := range []struct {
		ram  int64
		want string
	}{{1 * gib, "smallthinker-4b-q3_k_s"}, {4 * gib, "smallthinker-4b-q3_k_s"}, {8 * gib, "smallthinker-4b-q4_0"}, {32 * gib, "smallthinker-4b-q4_0"}} {
		if got := Recommend(tc.ram).ID; got != tc.want {
			t.Errorf("Recommend(%d GiB) = %s, want %s", tc.ram/gib, got, tc.want)
		}
	}
	for _, e := range es {
		if e.Recommended && e.URLVerified && Recommend(e.RecommendedRAM).ID != e.ID {
			t.Errorf("Recommend(%d) = %s, want %s", e.RecommendedRAM, Recommend(e.RecommendedRAM).ID, e.ID)
		}
	}
	if _, ok := Find("SMALLTHINKER-4B-Q4_0"); !ok {
		t.Error("Find is not case-insensitive")
	}
	for _, bad := range []string{`{"version":2,"models":[]}`, `{"version":1,"models":[{"id":"a","url":"u","file":"../x.gguf"}]}`,
		`{"version":1,"models":[{"id":"a","url":"u","file":"x.gguf","sha256":"zz"}]}`, `[`} {
		if _, err := ParseCatalog([]byte(bad)); err == nil {
			t.Errorf("catalog %s accepted", bad)
		}
	}
	if e, err := EntryForURL("https://example.com/a/b/Model.Q4_0.gguf?download=1", ""); err != nil || e.File != "Model.Q4_0.gguf" {
		t.Errorf("EntryForURL: %+v %v", e, err)
	}
	for _, bad := range []string{"ftp://x/a.gguf", "https://x/", "https://x/a.bin", "not a url"} {
		if _, err := EntryForURL(bad, ""); err == nil {
			t.Errorf("EntryForURL(%q) accepted", bad)
		}
	}
}

func TestDefaultDir(t *testing.T) {
	t.Setenv(DirEnv, "/data/ssd/models")
	if DefaultDir() != "/data/ssd/models" {
		t.Error("SMALLTHINKER_MODELS ignored")
	}
	t.Setenv(DirEnv, "")
	if d := DefaultDir(); !filepath.IsAbs(d) || !strings.Contains(strings.ToLower(d), "smallthinker") {
		t.Errorf("default dir %q", d)
	}
}

func FuzzInspect(f *testing.F) {
	body := testModel(f)
	f.Add(body[:4096])
	f.Add([]byte("GGUF"))
	f.Add([]byte("<html>"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, b []byte) {
		p := filepath.Join(dir, "f.gguf")
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		if _, err := Inspect(p); err == nil {
			return
		} else if !errors.Is(err, ErrNotGGUF) && !errors.Is(err, ErrDamaged) && !errors.Is(err, ErrWrongArch) && !errors.Is(err, ErrIncompleteModel) {
			t.Fatalf("unclassified error: %v", err)
		}
	})
}
