package inference

import (
	"path/filepath"
	"testing"

	"smallthinker/weights/gguf"
	"smallthinker/weights/modelgen"
)

// decodeModel writes a small random model of the given type.
func decodeModel(tb testing.TB, typ gguf.TensorType) *Model {
	tb.Helper()
	path := filepath.Join(tb.TempDir(), "decode.gguf")
	if err := modelgen.WriteFile(path, modelgen.Options{Preset: "tiny", Type: typ, Seed: 3}); err != nil {
		tb.Fatal(err)
	}
	m, err := Load(path, LoadOptions{Threads: 2})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { m.Close() })
	return m
}

// A decode step allocates nothing once the runner is warm, with experts in
// the mapping and in the expert cache.
func TestDecodeStepAllocatesNothing(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are meaningless under the race detector")
	}
	for _, typ := range []gguf.TensorType{gguf.Q4_0, gguf.Q8_0} {
		m := decodeModel(t, typ)
		for _, cached := range []bool{false, true} {
			if cached {
				if err := m.SetBudget(m.Breakdown(0).MinBudget); err != nil {
					t.Fatal(err)
				}
			}
			r := m.NewRunner(512)
			next := []int{1}
			step := func() {
				if r.Pos() >= 500 {
					r.Rewind(16)
				}
				if err := r.Eval(next, false, func(_ int, l []float32) { next[0] = Argmax(l) }); err != nil {
					t.Fatal(err)
				}
			}
			for range 40 { // warm: scratch sized, experts packed, cache filled
				step()
			}
			if a := testing.AllocsPerRun(50, step); a != 0 {
				t.Errorf("%s, cache %v: %v allocations per decoded token, want 0", typ, cached, a)
			}
		}
	}
}

// BenchmarkDecodeStep decodes one token per op on a tiny random model and
// reports allocations (the full-size speed is `smallthinker bench`).
func BenchmarkDecodeStep(b *testing.B) {
	m := decodeModel(b, gguf.Q4_0)
	r := m.NewRunner(1024)
	next := []int{1}
	b.ReportAllocs()
	for b.Loop() {
		if r.Pos() >= 1000 {
			r.Rewind(16)
		}
		if err := r.Eval(next, false, func(_ int, l []float32) { next[0] = Argmax(l) }); err != nil {
			b.Fatal(err)
		}
	}
}
