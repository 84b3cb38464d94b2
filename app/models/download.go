package models

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// Download failure kinds; test with errors.Is. A *DownloadError carries the details.
var (
	ErrNotFound    = errors.New("file not found on the server")
	ErrHTTP        = errors.New("server error")
	ErrNetwork     = errors.New("network error")
	ErrDiskFull    = errors.New("not enough disk space")
	ErrExists      = errors.New("file already exists")
	ErrBusy        = errors.New("already being downloaded")
	errRestartFull = errors.New("server restarted the transfer") // internal
)

// DownloadError explains a failed download in one sentence and says whether
// running the download again resumes it.
type DownloadError struct {
	Kind      error
	Detail    string
	Resumable bool // the partial file was kept; Download again continues it
}

func (e *DownloadError) Error() string {
	s := e.Kind.Error() + ": " + e.Detail
	if e.Resumable {
		s += " (the partial download was kept; try again to resume)"
	}
	return s
}
func (e *DownloadError) Unwrap() error { return e.Kind }

// Progress reports a running download.
type Progress struct {
	Phase       string // "downloading", "verifying"
	Done        int64  // bytes on disk so far
	Total       int64  // -1 if the server did not say
	Resumed     int64  // bytes that were already on disk when this run started
	BytesPerSec float64
	Remaining   time.Duration // -1 if unknown
}

// Fraction is Done/Total, or -1 if Total is unknown.
func (p Progress) Fraction() float64 {
	if p.Total <= 0 {
		return -1
	}
	return float64(p.Done) / float64(p.Total)
}

// Downloader fetches model files. The zero value is not usable; see NewDownloader.
type Downloader struct {
	Client *http.Client
	// StallTimeout aborts a transfer that received nothing for this long.
	StallTimeout time.Duration
	// ProgressEvery throttles progress callbacks.
	ProgressEvery time.Duration
	// Reserve is disk space to leave free beyond the file itself.
	Reserve int64
}

// NewDownloader returns a Downloader with production settings.
func NewDownloader() *Downloader {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.ResponseHeaderTimeout = 60 * time.Second
	return &Downloader{
		Client:        &http.Client{Transport: tr},
		StallTimeout:  60 * time.Second,
		ProgressEvery: 200 * time.Millisecond,
		Reserve:       256 << 20,
	}
}

// Download fetches e into dir with NewDownloader's settings.
func Download(ctx context.Context, e Entry, dir string, progress func(Progress)) (string, error) {
	return NewDownloader().Download(ctx, e, dir, progress)
}

// partMeta is saved beside a partial download so a later run (even after an
// app restart) resumes only if it is the same file on the server.
type partMeta struct {
	URL          string `json:"url"`
	ETag         string `json:"etag,omitempty"`
	LastModified string `json:"last_modified,omitempty"`
	Total        int64  `json:"total"`
}

// Download fetches e.URL into dir/e.File and returns the final path.
//
// Data goes to dir/e.File+".part" (with a ".part.json" note of what it is);
// an interrupted or cancelled download keeps them and the next call resumes
// with an HTTP range request. When the last byte is in, the file's SHA-256
// is checked against e.SHA256 (if published) and the GGUF is verified; only
// then is it synced and renamed to dir/e.File, so a path in the models
// directory never holds a partial or unverified model. Cancel ctx to pause.
func (d *Downloader) Download(ctx context.Context, e Entry, dir string, progress func(Progress)) (string, error) {
	if progress == nil {
		progress = func(Progress) {}
	}
	if e.File == "" || strings.ContainsAny(e.File, `/\`) || e.File == "." || e.File == ".." {
		return "", fmt.Errorf("invalid model file name %q", e.File)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("models directory: %w", err)
	}
	final := filepath.Join(dir, e.File)
	if _, err := os.Stat(final); err == nil {
		return final, &DownloadError{Kind: ErrExists, Detail: final}
	}
	part, metaPath, lockPath := final+".part", final+".part.json", final+".part.lock"
	lock, err := os.OpenFile(lockPath, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			if !lockAlive(lockPath) {
				os.Remove(lockPath) // left by a crashed run
				return d.Download(ctx, e, dir, progress)
			}
			return "", &DownloadError{Kind: ErrBusy, Detail: e.File}
		}
		return "", err
	}
	fmt.Fprintf(lock, "%d\n", os.Getpid())
	lock.Close()
	defer os.Remove(lockPath)

	for attempt := 0; ; attempt++ {
		err := d.fetch(ctx, e, part, metaPath, progress)
		if errors.Is(err, errRestartFull) && attempt == 0 {
			continue // the server sent the whole file or the file changed: start over once
		}
		if err != nil {
			return "", err
		}
		break
	}
	progress(Progress{Phase: "verifying", Total: -1, Remaining: -1})
	if e.SHA256 != "" {
		sum, err := fileSHA256(part)
		if err != nil {
			return "", err
		}
		if sum != e.SHA256 {
			os.Remove(part)
			os.Remove(metaPath)
			return "", &DownloadError{Kind: ErrChecksumMismatch, Detail: fmt.Sprintf("%s has SHA-256 %s, expected %s; the corrupt file was deleted", e.File, sum, e.SHA256)}
		}
	}
	if err := Verify(part); err != nil {
		os.Remove(part)
		os.Remove(metaPath)
		var ve *VerifyError
		if errors.As(err, &ve) {
			ve.Path = final
		}
		return "", fmt.Errorf("downloaded file is not usable (deleted): %w", err)
	}
	if err := syncFile(part); err != nil {
		return "", err
	}
	if err := os.Rename(part, final); err != nil {
		return "", err
	}
	os.Remove(metaPath)
	syncDir(dir)
	return final, nil
}

// fetch brings part up to the full file, resuming what is there.
func (d *Downloader) fetch(ctx context.Context, e Entry, part, metaPath string, progress func(Progress)) error {
	var have int64
	meta := readMeta(metaPath)
	if st, err := os.Stat(part); err == nil && meta != nil && meta.URL == e.URL {
		have = st.Size()
		if meta.Total > 0 && have > meta.Total {
			have = 0
		}
	}
	if have > 0 && meta != nil && meta.Total > 0 && have == meta.Total {
		return nil // complete from an earlier run that stopped before verification
	}

	parent := ctx
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, e.URL, nil)
	if err != nil {
		return fmt.Errorf("bad URL %q: %w", e.URL, err)
	}
	req.Header.Set("User-Agent", "SmallThinkerChat/1")
	if have > 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", have))
		if meta.ETag != "" {
			req.Header.Set("If-Range", meta.ETag)
		} else if meta.LastModified != "" {
			req.Header.Set("If-Range", meta.LastModified)
		}
	}
	resp, err := d.Client.Do(req)
	if err != nil {
		if parent.Err() != nil {
			return ctxError(parent, have)
		}
		return &DownloadError{Kind: ErrNetwork, Detail: fmt.Sprintf("cannot reach %s: %v", hostOf(e.URL), rootCause(err)), Resumable: have > 0}
	}
	defer resp.Body.Close()

	var total int64 = -1
	switch {
	case resp.StatusCode == http.StatusPartialContent && have > 0:
		start, size, ok := parseContentRange(resp.Header.Get("Content-Range"))
		if !ok || start != have {
			return d.restart(part, metaPath)
		}
		total = size
	case resp.StatusCode == http.StatusOK:
		if have > 0 {
			have = 0 // no range support, or the file changed (If-Range): start over
		}
		total = resp.ContentLength
	case resp.StatusCode == http.StatusRequestedRangeNotSatisfiable && have > 0:
		return d.restart(part, metaPath)
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusGone:
		return &DownloadError{Kind: ErrNotFound, Detail: fmt.Sprintf("HTTP %d for %s (the file was moved or renamed; check the URL)", resp.StatusCode, e.URL)}
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return &DownloadError{Kind: ErrHTTP, Detail: fmt.Sprintf("HTTP %d for %s: the server requires a login or refuses access", resp.StatusCode, e.URL)}
	default:
		return &DownloadError{Kind: ErrHTTP, Detail: fmt.Sprintf("HTTP %s from %s", resp.Status, hostOf(e.URL)), Resumable: have > 0}
	}

	need := int64(0)
	if total > 0 {
		need = total - have
	} else if e.Size > 0 {
		need = e.Size - have
	}
	if free, ok := freeSpace(filepath.Dir(part)); ok && need > 0 && free < need+d.Reserve {
		return &DownloadError{Kind: ErrDiskFull, Detail: fmt.Sprintf("%s needs %s more (plus %s headroom) but only %s is free in %s", e.File, HumanBytes(need), HumanBytes(d.Reserve), HumanBytes(free), filepath.Dir(part)), Resumable: have > 0}
	}

	flags := os.O_CREATE | os.O_WRONLY
	if have == 0 {
		flags |= os.O_TRUNC
	} else {
		flags |= os.O_APPEND
	}
	f, err := os.OpenFile(part, flags, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	if have > 0 {
		if err := f.Truncate(have); err != nil {
			return err
		}
	}
	m := partMeta{URL: e.URL, ETag: resp.Header.Get("ETag"), LastModified: resp.Header.Get("Last-Modified"), Total: total}
	if err := writeMeta(metaPath, m); err != nil {
		return err
	}

	// The watchdog cancels the request when no byte arrives for StallTimeout.
	stall := time.AfterFunc(d.StallTimeout, func() { cancel(errStalled) })
	defer stall.Stop()
	start, resumed := time.Now(), have
	last := time.Time{}
	done := have
	report := func(force bool) {
		now := time.Now()
		if !force && now.Sub(last) < d.ProgressEvery {
			return
		}
		last = now
		p := Progress{Phase: "downloading", Done: done, Total: total, Resumed: resumed, Remaining: -1}
		if el := now.Sub(start).Seconds(); el > 0.2 {
			p.BytesPerSec = float64(done-resumed) / el
			if total > 0 && p.BytesPerSec > 0 {
				p.Remaining = time.Duration(float64(total-done) / p.BytesPerSec * float64(time.Second))
			}
		}
		progress(p)
	}
	report(true)
	buf := make([]byte, 256<<10)
	for {
		n, rerr := resp.Body.Read(buf)
		if n > 0 {
			stall.Reset(d.StallTimeout)
			if _, werr := f.Write(buf[:n]); werr != nil {
				if errors.Is(werr, syscall.ENOSPC) {
					return &DownloadError{Kind: ErrDiskFull, Detail: fmt.Sprintf("the disk filled up while writing %s", part), Resumable: true}
				}
				return fmt.Errorf("writing %s: %w", part, werr)
			}
			done += int64(n)
			report(false)
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			report(true)
			if parent.Err() != nil {
				return ctxError(parent, done)
			}
			if errors.Is(context.Cause(ctx), errStalled) {
				return &DownloadError{Kind: ErrNetwork, Detail: fmt.Sprintf("no data from %s for %v after %s", hostOf(e.URL), d.StallTimeout, HumanBytes(done)), Resumable: true}
			}
			return &DownloadError{Kind: ErrNetwork, Detail: fmt.Sprintf("connection lost after %s of %s: %v", HumanBytes(done), sizeText(total), rootCause(rerr)), Resumable: true}
		}
	}
	report(true)
	if total > 0 && done != total {
		return &DownloadError{Kind: ErrNetwork, Detail: fmt.Sprintf("the server closed the connection after %s of %s", HumanBytes(done), HumanBytes(total)), Resumable: true}
	}
	if total < 0 {
		m.Total = done
		if err := writeMeta(metaPath, m); err != nil {
			return err
		}
	}
	return f.Close()
}

// restart discards a partial file the server will not continue.
func (d *Downloader) restart(part, metaPath string) error {
	os.Remove(part)
	os.Remove(metaPath)
	return errRestartFull
}

// errStalled is the cancellation cause the stall watchdog sets.
var errStalled = errors.New("transfer stalled")

// ctxError reports a download the caller stopped (pause or quit).
func ctxError(ctx context.Context, have int64) error {
	return &DownloadError{Kind: ctx.Err(), Detail: fmt.Sprintf("stopped after %s", HumanBytes(have)), Resumable: have > 0}
}

func readMeta(path string) *partMeta {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var m partMeta
	if json.Unmarshal(b, &m) != nil {
		return nil
	}
	return &m
}

func writeMeta(path string, m partMeta) error {
	b, _ := json.Marshal(m)
	return os.WriteFile(path, b, 0o644)
}

// parseContentRange reads "bytes START-END/TOTAL" (TOTAL may be "*": -1).
func parseContentRange(s string) (start, total int64, ok bool) {
	s, found := strings.CutPrefix(s, "bytes ")
	if !found {
		return 0, 0, false
	}
	rng, tot, found := strings.Cut(s, "/")
	if !found {
		return 0, 0, false
	}
	a, _, found := strings.Cut(rng, "-")
	if !found {
		return 0, 0, false
	}
	start, err := strconv.ParseInt(a, 10, 64)
	if err != nil || start < 0 {
		return 0, 0, false
	}
	total = -1
	if tot != "*" {
		if total, err = strconv.ParseInt(tot, 10, 64); err != nil || total < start {
			return 0, 0, false
		}
	}
	return start, total, true
}

func fileSHA256(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	var h hash.Hash = sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", err
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func syncFile(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// syncDir makes a rename durable; best effort (not supported everywhere).
func syncDir(dir string) {
	if f, err := os.Open(dir); err == nil {
		f.Sync()
		f.Close()
	}
}

// lockAlive reports whether the process named in a lock file still runs.
func lockAlive(path string) bool {
	b, err := os.ReadFile(path)
	if err != nil {
		return false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return false
	}
	if pid == os.Getpid() {
		return true
	}
	p, err := os.FindProcess(pid)
	if err != nil {
		return false
	}
	return p.Signal(syscall.Signal(0)) == nil
}

func hostOf(raw string) string {
	if i := strings.Index(raw, "://"); i >= 0 {
		h := raw[i+3:]
		if j := strings.IndexByte(h, '/'); j >= 0 {
			h = h[:j]
		}
		return h
	}
	return raw
}

func rootCause(err error) error {
	for {
		u := errors.Unwrap(err)
		if u == nil {
			return err
		}
		err = u
	}
}

func sizeText(n int64) string {
	if n < 0 {
		return "an unknown size"
	}
	return HumanBytes(n)
}

// HumanBytes formats a byte count for people: "2.24 GiB", "512.0 MiB".
func HumanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
