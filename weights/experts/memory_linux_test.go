//go:build linux

package experts

import (
	"bytes"
	"io"
	"os"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"unsafe"

	"golang.org/x/sys/unix"

	"smallthinker/weights/gguf"
)

// rssBytes is the process's resident set size.
func rssBytes(t *testing.T) int64 {
	t.Helper()
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		t.Skipf("no /proc/self/statm: %v", err)
	}
	f := strings.Fields(string(b))
	pages, err := strconv.ParseInt(f[1], 10, 64)
	if err != nil {
		t.Fatal(err)
	}
	return pages * int64(os.Getpagesize())
}

// cachedBytes is how much of the file the page cache holds (mincore).
func cachedBytes(t *testing.T, path string) int64 {
	t.Helper()
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	st, _ := fh.Stat()
	m, err := unix.Mmap(int(fh.Fd()), 0, int(st.Size()), unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		t.Fatal(err)
	}
	defer unix.Munmap(m)
	pg := os.Getpagesize()
	vec := make([]byte, (len(m)+pg-1)/pg)
	if _, _, e := unix.Syscall(unix.SYS_MINCORE, uintptr(unsafe.Pointer(&m[0])), uintptr(len(m)), uintptr(unsafe.Pointer(&vec[0]))); e != 0 {
		t.Fatal(e)
	}
	var n int64
	for _, v := range vec {
		n += int64(v & 1)
	}
	return n * int64(pg)
}

// evictFile evicts this one file from the page cache (nothing system-wide).
func evictFile(t testing.TB, path string) {
	t.Helper()
	fh, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer fh.Close()
	if err := unix.Fadvise(int(fh.Fd()), 0, 0, unix.FADV_DONTNEED); err != nil {
		t.Fatal(err)
	}
}

// The cache's memory is what the budget says: filling it raises RSS by about
// the budget, shrinking returns the memory, and reads leave (almost) nothing
// in the page cache, with O_DIRECT and with the buffered fallback.
func TestMemoryIsHonest(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a 48 MiB file")
	}
	path := t.TempDir() + "/big.gguf"
	const experts, d, f = 16, 512, 512 // F32: 1 MiB per slice, 3 MiB per expert
	writeSynthetic(t, path, 1, experts, d, f, gguf.F32)
	m := openSynthetic(t, path, 1, experts, 2)
	m.f.Close() // no mapping of our own: only the cache reads the file now
	for _, direct := range []bool{true, false} {
		evictFile(t, path)
		c, err := Open(path, m.layout, m.layout.AllBytes(), Options{DisableDirect: !direct})
		if err != nil {
			t.Fatal(err)
		}
		base := rssBytes(t)
		for e := 0; e < experts; e++ {
			x, err := c.Acquire(0, e)
			if err != nil {
				t.Fatal(err)
			}
			c.Release(x)
		}
		full := rssBytes(t)
		if err := c.Resize(m.layout.MinBytes()); err != nil {
			t.Fatal(err)
		}
		shrunk := rssBytes(t)
		cached := cachedBytes(t, path)
		st := c.Stats()
		c.Close()
		all := m.layout.AllBytes()
		t.Logf("direct=%v (used %v): RSS +%d MiB filled, +%d MiB after shrinking to %d slots; page cache holds %d KiB of the file",
			direct, st.Direct, (full-base)>>20, (shrunk-base)>>20, st.Slots, cached>>10)
		if full-base < all*9/10 {
			t.Errorf("filling the cache raised RSS by %d bytes, want about %d", full-base, all)
		}
		if shrunk-base > m.layout.MinBytes()+all/10 {
			t.Errorf("shrinking kept %d bytes resident, want about %d", shrunk-base, m.layout.MinBytes())
		}
		if cached > all/10 {
			t.Errorf("reads left %d bytes of the file in the page cache", cached)
		}
	}
}

// Reads the file system refuses with EINVAL under O_DIRECT switch to
// buffered reads and still return the right bytes.
func TestDirectRefusedAtRead(t *testing.T) {
	m := openModel(t, testModel(t, "tiny-swa-sigmoid-q4_0.gguf"))
	c := m.open(t, MinSlots(m.layout.TopK), Options{WrapReader: func(r io.ReaderAt) io.ReaderAt {
		if _, ok := r.(directReader); ok {
			return einvalReader{}
		}
		return r
	}})
	for e := 0; e < m.layout.Experts; e++ {
		x, err := c.Acquire(1, e)
		if err != nil {
			t.Fatal(err)
		}
		if err := m.check(t, x, 1, e); err != nil {
			t.Fatal(err)
		}
		c.Release(x)
	}
	if c.Stats().Direct {
		t.Fatal("still using O_DIRECT after EINVAL")
	}
}

type einvalReader struct{}

func (einvalReader) ReadAt(p []byte, off int64) (int, error) {
	return 0, &os.PathError{Op: "pread", Path: "x", Err: syscall.EINVAL}
}

// The synthetic writer and the layout agree with a plain read of the file.
func TestSyntheticLayout(t *testing.T) {
	path := t.TempDir() + "/s.gguf"
	writeSynthetic(t, path, 2, 4, 64, 96, gguf.Q8_0)
	m := openSynthetic(t, path, 2, 4, 1)
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	c := m.open(t, 2, Options{})
	for il := 0; il < 2; il++ {
		for e := 0; e < 4; e++ {
			x, err := c.Acquire(il, e)
			if err != nil {
				t.Fatal(err)
			}
			for p := Gate; p < numParts; p++ {
				off, n := m.layout.Slice(il, e, p)
				if !bytes.Equal(x.Part(p), raw[off:off+n]) {
					t.Fatalf("layer %d expert %d %s differs", il, e, p)
				}
			}
			c.Release(x)
		}
	}
}
