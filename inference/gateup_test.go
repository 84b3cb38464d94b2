package inference

import (
	"path/filepath"
	"testing"
)

// A decode step's active up rows (one token per expert) go through
// kernels.GemvRows where its rounding is the general path's; for every
// weight type, token-by-token logits must keep every bit either way.
func TestUpRowsGatherBitIdentical(t *testing.T) {
	want := map[string]bool{"tiny-swa-sigmoid-f32.p0": true, "tiny-swa-sigmoid-f16.p0": true, "kq-bf16.p0": true,
		"tiny-swa-sigmoid-q4_0.p0": true, "kq-q8_0.p0": true, "kq-q4_k_m.p0": true}
	if testing.Short() {
		want = map[string]bool{"tiny-swa-sigmoid-f32.p0": true, "tiny-swa-sigmoid-q4_0.p0": true}
	}
	defer func() { upRowsGather = true }()
	for _, c := range loadCases(t) {
		if !want[c.Name] {
			continue
		}
		t.Run(c.Name, func(t *testing.T) {
			m, err := Load(filepath.Join(testdataDir, c.Model), LoadOptions{Threads: 2})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			ids := append(append([]int{}, c.PromptIDs...), c.GreedyIDs...)
			ids = ids[:min(len(ids), 24)]
			stepwise := func(gather bool) [][]float32 {
				upRowsGather = gather
				r := m.NewRunner(len(ids) + 1)
				var out [][]float32
				for _, id := range ids {
					if err := r.Eval([]int{id}, false, func(_ int, l []float32) { out = append(out, append([]float32(nil), l...)) }); err != nil {
						t.Fatal(err)
					}
				}
				return out
			}
			general, gathered := stepwise(false), stepwise(true)
			for p := range general {
				for i := range general[p] {
					if general[p][i] != gathered[p][i] {
						t.Fatalf("position %d logit %d = %v with GemvRows, %v without", p, i, gathered[p][i], general[p][i])
					}
				}
			}
		})
	}
}
