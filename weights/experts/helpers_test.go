package experts

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"smallthinker/weights/arch"
	"smallthinker/weights/gguf"
)

const testdataDir = "../../../shared/testdata"

// testModel returns the path of a model in the shared test data, or skips.
func testModel(t testing.TB, name string) string {
	t.Helper()
	p := filepath.Join(testdataDir, "models", name)
	if _, err := os.Stat(p); err != nil {
		t.Skipf("%s is absent (../shared/testdata not available): %v", p, err)
	}
	return p
}

// model is an opened GGUF with its layout and the expected bytes of every slice.
type model struct {
	path   string
	f      *gguf.File
	layout *Layout
}

func openModel(t testing.TB, path string) *model {
	t.Helper()
	f, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	// Map once here: gguf.File.Map is not safe for a concurrent first call.
	if _, err := f.Map(); err != nil {
		t.Fatal(err)
	}
	cfg, err := arch.ReadConfig(f)
	if err != nil {
		t.Fatal(err)
	}
	l, err := NewLayout(f, cfg.Layers, cfg.Experts, cfg.ExpertsUsed)
	if err != nil {
		t.Fatal(err)
	}
	return &model{path: path, f: f, layout: l}
}

// want returns the file's bytes of one part of one expert, via the mmapped tensor.
func (m *model) want(t testing.TB, layer, expert int, p Part) []byte {
	t.Helper()
	ti, ok := m.f.Tensor(tensorName(layer, p))
	if !ok {
		t.Fatalf("tensor %s missing", tensorName(layer, p))
	}
	data, err := m.f.TensorData(ti)
	if err != nil {
		t.Fatal(err)
	}
	n := len(data) / m.layout.Experts
	return data[expert*n : (expert+1)*n]
}

// check compares an acquired expert with the file, returning an error (safe
// to call from other goroutines).
func (m *model) check(t testing.TB, e *Expert, layer, expert int) error {
	if e.Layer() != layer || e.Index() != expert {
		return fmt.Errorf("got expert %d/%d, asked for %d/%d", e.Layer(), e.Index(), layer, expert)
	}
	for p := Gate; p < numParts; p++ {
		if !bytes.Equal(e.Part(p), m.want(t, layer, expert, p)) {
			return fmt.Errorf("layer %d expert %d %s: bytes differ from the file", layer, expert, p)
		}
	}
	if !bytes.Equal(e.Gate(), e.Part(Gate)) || !bytes.Equal(e.Up(), e.Part(Up)) || !bytes.Equal(e.Down(), e.Part(Down)) {
		return errors.New("Gate/Up/Down disagree with Part")
	}
	return nil
}

func (m *model) open(t testing.TB, slots int, opts Options) *Cache {
	t.Helper()
	c, err := Open(m.path, m.layout, int64(slots)*m.layout.ExpertBytes(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// slowReader adds a fixed latency to every read.
type slowReader struct {
	r     io.ReaderAt
	delay time.Duration
}

func (s slowReader) ReadAt(p []byte, off int64) (int, error) {
	time.Sleep(s.delay)
	return s.r.ReadAt(p, off)
}

// faultReader fails reads while a fault mode is set.
type faultReader struct {
	r    io.ReaderAt
	mode *atomic.Int32 // 0 none, 1 EIO, 2 short read with nil error, 3 short read with io.EOF
}

func (f faultReader) ReadAt(p []byte, off int64) (int, error) {
	switch f.mode.Load() {
	case 1:
		return 0, &os.PathError{Op: "read", Path: "model", Err: syscall.EIO}
	case 2:
		n, _ := f.r.ReadAt(p[:len(p)/2], off)
		return n, nil
	case 3:
		n, _ := f.r.ReadAt(p[:len(p)/2], off)
		return n, io.EOF
	}
	return f.r.ReadAt(p, off)
}

// countingReader counts reads (to prove the resident case does no I/O).
type countingReader struct {
	r io.ReaderAt
	n *atomic.Int64
}

func (c countingReader) ReadAt(p []byte, off int64) (int, error) {
	c.n.Add(1)
	return c.r.ReadAt(p, off)
}

// writeSynthetic writes a GGUF holding only stacked expert tensors of the
// given type and shape [d, f, experts] for each layer, filled with a
// position-dependent pattern, and returns its path.
func writeSynthetic(t testing.TB, path string, layers, experts, d, f int, typ gguf.TensorType) {
	t.Helper()
	fh, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	var tensors []gguf.WriteTensor
	for il := 0; il < layers; il++ {
		for p := Gate; p < numParts; p++ {
			info := gguf.TensorInfo{Name: tensorName(il, p), Type: typ, Dims: []uint64{uint64(d), uint64(f), uint64(experts)}}
			seed := byte(il*3 + int(p))
			n := info.Bytes()
			tensors = append(tensors, gguf.WriteTensor{Info: info, Write: func(w io.Writer) error {
				buf := make([]byte, 1<<20)
				for done := uint64(0); done < n; {
					k := min(uint64(len(buf)), n-done)
					for i := range buf[:k] {
						x := done + uint64(i)
						buf[i] = byte(x*131) ^ byte(x>>12) ^ seed
					}
					if _, err := w.Write(buf[:k]); err != nil {
						return err
					}
					done += k
				}
				return nil
			}})
		}
	}
	if err := gguf.Write(fh, []gguf.KV{{Key: "general.architecture", Value: gguf.String("smallthinker")}}, tensors); err != nil {
		t.Fatal(err)
	}
	if err := fh.Sync(); err != nil {
		t.Fatal(err)
	}
}

func openSynthetic(t testing.TB, path string, layers, experts, topK int) *model {
	t.Helper()
	f, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	if _, err := f.Map(); err != nil {
		t.Fatal(err)
	}
	l, err := NewLayout(f, layers, experts, topK)
	if err != nil {
		t.Fatal(err)
	}
	return &model{path: path, f: f, layout: l}
}

// runConcurrently runs fn(i) in n goroutines and returns the first error.
func runConcurrently(n int, fn func(i int) error) error {
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = fn(i)
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}
