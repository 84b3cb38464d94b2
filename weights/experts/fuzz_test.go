package experts

import (
	"bytes"
	"os"
	"testing"

	"smallthinker/weights/gguf"
)

// FuzzLayout: whatever a (possibly hostile) GGUF header says, NewLayout
// either refuses it or yields slices that lie inside the file and fit a slot.
func FuzzLayout(f *testing.F) {
	// Small synthetic files keep each run fast (the shared test models are 100+ KB).
	for i, shape := range [][3]int{{2, 4, 32}, {1, 8, 64}} {
		path := f.TempDir() + "/seed.gguf"
		typ := gguf.Q8_0
		if i == 1 {
			typ = gguf.F32
		}
		writeSynthetic(f, path, shape[0], shape[1], shape[2], 8, typ)
		seed, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(seed, shape[0], shape[1], 2)
		f.Add(seed, shape[0]+1, shape[1], 1)
	}
	f.Fuzz(func(t *testing.T, data []byte, layers, experts, topK int) {
		if layers > 64 || experts > 1024 {
			return // the loop over every slice would only be slow
		}
		g, err := gguf.Parse(bytes.NewReader(data), int64(len(data)))
		if err != nil {
			return
		}
		l, err := NewLayout(g, layers, experts, topK)
		if err != nil {
			return
		}
		if l.ExpertBytes()%pageSize != 0 || l.MinBytes() <= 0 {
			t.Fatalf("slot %d, min %d", l.ExpertBytes(), l.MinBytes())
		}
		for il := 0; il < layers; il++ {
			for e := 0; e < experts; e++ {
				var used int64
				for p := Gate; p < numParts; p++ {
					off, n := l.Slice(il, e, p)
					if off < 0 || n <= 0 || off+n > int64(len(data)) {
						t.Fatalf("layer %d expert %d %s: bytes %d+%d outside the %d-byte file", il, e, p, off, n, len(data))
					}
					used += alignUp(off+n) - alignDown(off)
				}
				if used > l.ExpertBytes() {
					t.Fatalf("layer %d expert %d needs %d bytes, slot has %d", il, e, used, l.ExpertBytes())
				}
			}
		}
	})
}
