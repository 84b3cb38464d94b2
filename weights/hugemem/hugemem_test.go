package hugemem

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"testing"
	"unsafe"
)

func TestAlloc(t *testing.T) {
	for _, n := range []int{0, 1, 4096, hugePage - 1, hugePage, 3*hugePage + 17} {
		m, err := Alloc(n)
		if err != nil {
			t.Fatal(err)
		}
		b := m.Bytes()
		if len(b) != n || cap(b) != n {
			t.Fatalf("Alloc(%d): len %d cap %d", n, len(b), cap(b))
		}
		for i := range b {
			if b[i] != 0 {
				t.Fatalf("Alloc(%d): byte %d is %d, want zeroed memory", n, i, b[i])
			}
			b[i] = byte(i)
		}
		if n > 0 && runtime.GOOS == "linux" && uintptr(unsafe.Pointer(&b[0]))%hugePage != 0 {
			t.Fatalf("Alloc(%d) is not 2 MiB-aligned", n)
		}
		if err := m.Free(); err != nil {
			t.Fatal(err)
		}
		if m.Bytes() != nil || m.Free() != nil {
			t.Fatalf("Alloc(%d): a freed buffer still has memory, or a second Free failed", n)
		}
	}
	if _, err := Alloc(-1); err == nil {
		t.Fatal("Alloc(-1) succeeded")
	}
}

// Map trims its alignment slack: the mapping is exactly the buffer's pages,
// so a partial huge page at the end never becomes resident whole.
func TestMapExact(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads /proc/self/maps")
	}
	n := 3*hugePage + 5*4096 + 100
	b, err := Map(n)
	if err != nil {
		t.Fatal(err)
	}
	defer Unmap(b)
	start := uintptr(unsafe.Pointer(&b[0]))
	maps, err := os.ReadFile("/proc/self/maps")
	if err != nil {
		t.Skip(err)
	}
	page := uintptr(os.Getpagesize())
	want := start + (uintptr(n)+page-1)/page*page
	for _, l := range strings.Split(string(maps), "\n") {
		var lo, hi uintptr
		if k, _ := fmt.Sscanf(l, "%x-%x ", &lo, &hi); k == 2 && lo <= start && start < hi {
			// Neighbouring anonymous mappings may merge with it; its end
			// must still not reach past the buffer's last page unless
			// something else was mapped there.
			if hi < want {
				t.Fatalf("mapping %x-%x does not cover the buffer %x-%x", lo, hi, start, want)
			}
			return
		}
	}
	t.Fatal("the buffer's mapping is not in /proc/self/maps")
}

// Where THP may be used (madvise or always), the buffer may get huge pages
// (whether it does depends on the memory's fragmentation at the time).
func TestHugePages(t *testing.T) {
	mode, err := os.ReadFile("/sys/kernel/mm/transparent_hugepage/enabled")
	if err != nil || strings.Contains(string(mode), "[never]") {
		t.Skip("transparent huge pages are unavailable here")
	}
	m, err := Alloc(8 * hugePage)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Free()
	b := m.Bytes()
	for i := 0; i < len(b); i += 4096 {
		b[i] = 1
	}
	smaps, err := os.ReadFile("/proc/self/smaps")
	if err != nil {
		t.Skip(err)
	}
	start := uintptr(unsafe.Pointer(&b[0]))
	inside := false
	for _, l := range strings.Split(string(smaps), "\n") {
		var lo, hi uintptr
		if n, _ := fmt.Sscanf(l, "%x-%x ", &lo, &hi); n == 2 {
			inside = lo <= start && start < hi
			continue
		}
		if inside && strings.HasPrefix(l, "THPeligible:") {
			if strings.TrimSpace(strings.TrimPrefix(l, "THPeligible:")) != "1" {
				t.Fatalf("the buffer may not get huge pages (%s)", l)
			}
			return
		}
	}
	t.Fatal("the buffer's mapping is not in /proc/self/smaps")
}
