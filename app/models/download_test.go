package models

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"smallthinker/weights/gguf"
	"smallthinker/weights/modelgen"
)

var (
	modelOnce  sync.Once
	modelBytes []byte
)

// testModel is a valid tiny SmallThinker GGUF (~215 KB).
func testModel(tb testing.TB) []byte {
	modelOnce.Do(func() {
		var b bytes.Buffer
		if err := modelgen.Generate(&b, modelgen.Options{Preset: "tiny", Type: gguf.Q4_0, Seed: 11}); err != nil {
			tb.Fatal(err)
		}
		modelBytes = b.Bytes()
	})
	return modelBytes
}

func sha(b []byte) string { s := sha256.Sum256(b); return hex.EncodeToString(s[:]) }

// server serves body at /m.gguf with switchable misbehaviour.
type server struct {
	*httptest.Server
	body    []byte
	noRange bool // ignore Range headers (always 200 + whole file)
	cutAt   int  // >0: send only this many body bytes of a full response, then drop the connection
	stallAt int  // >0: send this many bytes, then hang until the client gives up
	status  int  // non-zero: reply with this status
	mu      sync.Mutex
	ranges  []string // Range headers seen
}

func newServer(t *testing.T, body []byte) *server {
	s := &server{body: body}
	s.Server = httptest.NewServer(http.HandlerFunc(s.handle))
	t.Cleanup(s.Close)
	return s
}

func (s *server) handle(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.ranges = append(s.ranges, r.Header.Get("Range"))
	noRange, cutAt, stallAt, status := s.noRange, s.cutAt, s.stallAt, s.status
	s.mu.Unlock()
	if status != 0 {
		http.Error(w, http.StatusText(status), status)
		return
	}
	w.Header().Set("ETag", `"v1"`)
	start := 0
	if rg := r.Header.Get("Range"); rg != "" && !noRange {
		fmt.Sscanf(rg, "bytes=%d-", &start)
		w.Header().Set("Content-Range", fmt.Sprintf("bytes %d-%d/%d", start, len(s.body)-1, len(s.body)))
		w.Header().Set("Content-Length", fmt.Sprint(len(s.body)-start))
		w.WriteHeader(http.StatusPartialContent)
	} else {
		w.Header().Set("Content-Length", fmt.Sprint(len(s.body)))
		w.WriteHeader(http.StatusOK)
	}
	rest := s.body[start:]
	switch {
	case cutAt > 0 && cutAt < len(rest):
		w.Write(rest[:cutAt])
		w.(http.Flusher).Flush()
		panic(http.ErrAbortHandler) // drops the connection mid-body
	case stallAt > 0 && stallAt < len(rest):
		w.Write(rest[:stallAt])
		w.(http.Flusher).Flush()
		<-r.Context().Done()
		return
	}
	w.Write(rest)
}

func (s *server) set(f func(s *server)) { s.mu.Lock(); f(s); s.mu.Unlock() }

func testDownloader() *Downloader {
	d := NewDownloader()
	d.StallTimeout = 2 * time.Second
	d.ProgressEvery = 0
	d.Reserve = 0
	return d
}

// assertNoModel checks that a failed download left nothing that looks like a model.
func assertNoModel(t *testing.T, dir string) {
	t.Helper()
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".gguf") {
			t.Errorf("%s exists after a failed download", e.Name())
		}
		if strings.HasSuffix(e.Name(), ".lock") {
			t.Errorf("lock file %s left behind", e.Name())
		}
	}
	infos, err := Installed(dir)
	if err != nil || len(infos) != 0 {
		t.Errorf("Installed lists %d models (err %v) after a failed download", len(infos), err)
	}
}

func entryFor(s *server, sum string) Entry {
	return Entry{ID: "m", URL: s.URL + "/m.gguf", File: "m.gguf", SHA256: sum}
}

func TestDownloadFull(t *testing.T) {
	body := testModel(t)
	s := newServer(t, body)
	dir := t.TempDir()
	var last Progress
	p, err := testDownloader().Download(context.Background(), entryFor(s, sha(body)), dir, func(p Progress) {
		if p.Phase == "downloading" {
			last = p
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(p)
	if !bytes.Equal(got, body) {
		t.Fatal("downloaded bytes differ")
	}
	if last.Done != int64(len(body)) || last.Total != int64(len(body)) || last.Fraction() != 1 {
		t.Errorf("final progress %+v", last)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("dir holds %d entries, want just the model", len(entries))
	}
	if _, err := testDownloader().Download(context.Background(), entryFor(s, ""), dir, nil); !errors.Is(err, ErrExists) {
		t.Errorf("second download: %v, want ErrExists", err)
	}
}

func TestDownloadResume(t *testing.T) {
	body := testModel(t)
	for _, tc := range []struct {
		name    string
		noRange bool
		want    string // Range header of the second request
	}{
		{"range", false, "bytes=80000-"},
		{"server-without-range", true, "bytes=80000-"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newServer(t, body)
			s.set(func(s *server) { s.cutAt = 80000; s.noRange = tc.noRange })
			dir := t.TempDir()
			e := entryFor(s, sha(body))
			_, err := testDownloader().Download(context.Background(), e, dir, nil)
			var de *DownloadError
			if !errors.As(err, &de) || !errors.Is(err, ErrNetwork) || !de.Resumable {
				t.Fatalf("interrupted download: %v, want a resumable network error", err)
			}
			assertNoModel(t, dir)
			if st, err := os.Stat(filepath.Join(dir, "m.gguf.part")); err != nil || st.Size() != 80000 {
				t.Fatalf("partial file: %v %v", st, err)
			}
			s.set(func(s *server) { s.cutAt = 0 })
			p, err := testDownloader().Download(context.Background(), e, dir, nil)
			if err != nil {
				t.Fatal(err)
			}
			if got, _ := os.ReadFile(p); !bytes.Equal(got, body) {
				t.Fatal("resumed file differs")
			}
			if len(s.ranges) != 2 || s.ranges[1] != tc.want {
				t.Errorf("requests' Range headers %q, want second %q", s.ranges, tc.want)
			}
			if _, err := os.Stat(filepath.Join(dir, "m.gguf.part.json")); err == nil {
				t.Error("resume note left behind")
			}
		})
	}
}

func TestDownloadPauseAndResume(t *testing.T) {
	body := testModel(t)
	s := newServer(t, body)
	s.set(func(s *server) { s.stallAt = 50000 })
	dir := t.TempDir()
	e := entryFor(s, sha(body))
	ctx, cancel := context.WithCancel(context.Background())
	_, err := testDownloader().Download(ctx, e, dir, func(p Progress) {
		if p.Done >= 50000 {
			cancel() // the user pressed Pause
		}
	})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("paused download: %v, want context.Canceled", err)
	}
	assertNoModel(t, dir)
	s.set(func(s *server) { s.stallAt = 0 })
	var first Progress
	p, err := testDownloader().Download(context.Background(), e, dir, func(p Progress) {
		if first.Phase == "" {
			first = p
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if first.Resumed != 50000 {
		t.Errorf("resumed from %d, want 50000", first.Resumed)
	}
	if got, _ := os.ReadFile(p); !bytes.Equal(got, body) {
		t.Fatal("file differs")
	}
}

func TestDownloadFailures(t *testing.T) {
	body := testModel(t)
	html := []byte("<html><body>Please log in</body></html>")
	for _, tc := range []struct {
		name     string
		body     []byte
		setup    func(s *server)
		sum      string
		d        func(d *Downloader)
		kind     error
		partKept bool
	}{
		{name: "404", body: body, setup: func(s *server) { s.status = 404 }, kind: ErrNotFound},
		{name: "500", body: body, setup: func(s *server) { s.status = 500 }, kind: ErrHTTP},
		{name: "checksum", body: body, sum: strings.Repeat("ab", 32), kind: ErrChecksumMismatch},
		{name: "truncated", body: body, setup: func(s *server) { s.cutAt = len(body) - 1000 }, kind: ErrNetwork, partKept: true},
		{name: "stalled", body: body, setup: func(s *server) { s.stallAt = 1000 }, d: func(d *Downloader) { d.StallTimeout = 300 * time.Millisecond }, kind: ErrNetwork, partKept: true},
		{name: "not-a-model", body: html, kind: ErrNotGGUF},
		{name: "no-disk-space", body: body, d: func(d *Downloader) { d.Reserve = 1 << 62 }, kind: ErrDiskFull},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newServer(t, tc.body)
			if tc.setup != nil {
				s.set(tc.setup)
			}
			d := testDownloader()
			if tc.d != nil {
				tc.d(d)
			}
			dir := t.TempDir()
			start := time.Now()
			_, err := d.Download(context.Background(), entryFor(s, tc.sum), dir, nil)
			if !errors.Is(err, tc.kind) {
				t.Fatalf("error %v, want %v", err, tc.kind)
			}
			if time.Since(start) > 10*time.Second {
				t.Errorf("took %v", time.Since(start))
			}
			t.Logf("%v", err)
			assertNoModel(t, dir)
			_, perr := os.Stat(filepath.Join(dir, "m.gguf.part"))
			if kept := perr == nil; kept != tc.partKept {
				t.Errorf("partial file kept = %v, want %v", kept, tc.partKept)
			}
		})
	}
}

func TestDownloadBusy(t *testing.T) {
	body := testModel(t)
	s := newServer(t, body)
	dir := t.TempDir()
	// A lock held by a live process (this one) blocks a second download.
	if err := os.WriteFile(filepath.Join(dir, "m.gguf.part.lock"), []byte(fmt.Sprint(os.Getpid())), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := testDownloader().Download(context.Background(), entryFor(s, ""), dir, nil); !errors.Is(err, ErrBusy) {
		t.Fatalf("got %v, want ErrBusy", err)
	}
	// A lock left by a dead process is taken over.
	if err := os.WriteFile(filepath.Join(dir, "m.gguf.part.lock"), []byte("999999999"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := testDownloader().Download(context.Background(), entryFor(s, ""), dir, nil); err != nil {
		t.Fatalf("stale lock: %v", err)
	}
}

func TestParseContentRange(t *testing.T) {
	for _, tc := range []struct {
		in           string
		start, total int64
		ok           bool
	}{
		{"bytes 100-199/200", 100, 200, true},
		{"bytes 0-0/*", 0, -1, true},
		{"bytes 5-9/3", 0, 0, false},
		{"bytes -5/10", 0, 0, false},
		{"items 0-1/2", 0, 0, false},
		{"bytes 1-2", 0, 0, false},
		{"", 0, 0, false},
	} {
		start, total, ok := parseContentRange(tc.in)
		if ok != tc.ok || ok && (start != tc.start || total != tc.total) {
			t.Errorf("%q: %d %d %v", tc.in, start, total, ok)
		}
	}
}

func FuzzParseContentRange(f *testing.F) {
	for _, s := range []string{"bytes 100-199/200", "bytes 0-0/*", "bytes 1-2"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		start, total, ok := parseContentRange(s)
		if ok && (start < 0 || total != -1 && total < start) {
			t.Errorf("%q: start %d total %d accepted", s, start, total)
		}
	})
}
