package inference

import (
	"math"
	"path/filepath"
	"testing"

	"smallthinker/weights/gguf"
	"smallthinker/weights/modelgen"
)

func TestSparseLMHead(t *testing.T) {
	path := filepath.Join(t.TempDir(), "prof.gguf")
	if err := modelgen.WriteFile(path, modelgen.Options{Preset: "tiny", Type: gguf.Q4_0, Seed: 9, LMHeadProfiler: 64}); err != nil {
		t.Fatal(err)
	}
	dense, err := Load(path, LoadOptions{Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer dense.Close()
	sparse, err := Load(path, LoadOptions{Threads: 2, SparseLMHead: true})
	if err != nil {
		t.Fatal(err)
	}
	defer sparse.Close()
	if !sparse.HasSparseHead() {
		t.Fatal("predictor not found")
	}
	ids := sparse.Tok.Encode("Hello there, how are you?", false)
	var want, got []float32
	dense.NewRunner(64).Eval(ids, false, func(_ int, l []float32) { want = append([]float32(nil), l...) })
	sparse.NewRunner(64).Eval(ids, false, func(_ int, l []float32) { got = append([]float32(nil), l...) })
	kept := 0
	for v := range want {
		if math.IsInf(float64(got[v]), -1) {
			continue
		}
		kept++
		if got[v] != want[v] {
			t.Fatalf("kept row %d: logit %v, dense %v", v, got[v], want[v])
		}
	}
	t.Logf("predictor kept %d of %d rows", kept, len(want))
	if kept == 0 || kept == len(want) {
		t.Fatalf("predictor kept %d of %d rows: not sparse", kept, len(want))
	}
}
