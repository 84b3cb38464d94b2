package inference

import (
	"fmt"
	"path/filepath"
	"testing"
)

// Packing Q4_0 weights (resident at load, experts in the mapping on first
// use or in cache slots on fill) changes no bit of any logit.
func TestPackedMatchesPlain(t *testing.T) {
	saved, savedPairs := packsQ4_0, pairsQ4_0
	defer func() { packsQ4_0, pairsQ4_0 = saved, savedPairs }()
	packsQ4_0 = func() bool { return true } // also where only the plain-Go packed kernel exists
	for _, paired := range []bool{false, true} {
		pairsQ4_0 = func() bool { return paired }
		for _, name := range []string{"tiny-swa-sigmoid-q4_0.p0", "tiny-tdown-sigmoid-q4_0.p0", "tiny-dense-sigmoid-untied-q4_0.p1", "tiny-fullvocab-sigmoid-q4_0.p0"} {
			var c *goldenCase
			for _, cc := range loadCases(t) {
				if cc.Name == name {
					c = &cc
				}
			}
			if c == nil {
				t.Fatalf("case %s is not in cases.json", name)
			}
			t.Run(fmt.Sprintf("%s/paired=%v", name, paired), func(t *testing.T) {
				path := filepath.Join(testdataDir, c.Model)
				ids := append(append([]int{}, c.PromptIDs...), c.GreedyIDs...)
				plain, err := Load(path, LoadOptions{Threads: 2, NoPack: true})
				if err != nil {
					t.Fatal(err)
				}
				defer plain.Close()
				want := logitsOf(t, plain, ids)
				if plain.layers[0].q.Packed {
					t.Fatal("NoPack model has packed matrices")
				}
				for _, cacheSlots := range []int64{0, 3, 1 << 20} {
					opts := LoadOptions{Threads: 2}
					m, err := Load(path, opts)
					if err != nil {
						t.Fatal(err)
					}
					if cacheSlots > 0 {
						m.Close()
						opts.ExpertCacheBytes = min(cacheSlots*m.layout.ExpertBytes(), m.layout.AllBytes())
						if m, err = Load(path, opts); err != nil {
							t.Fatal(err)
						}
					}
					if !m.layers[0].q.Packed || !m.layers[0].o.Packed || m.layers[0].q.Paired != paired {
						t.Fatalf("attention matrices were not packed (paired: %v, want %v)", m.layers[0].q.Paired, paired)
					}
					gate, up, down := m.expertMatrices(0, 0, nil)
					if !gate.Packed || up.Packed || down.Packed == m.Config.DownTransposed {
						t.Fatalf("expert matrices: gate packed %v, up %v, down %v (down transposed: %v)", gate.Packed, up.Packed, down.Packed, m.Config.DownTransposed)
					}
					// Twice: the second pass runs on experts packed by the first.
					for pass := 0; pass < 2; pass++ {
						got := logitsOf(t, m, ids)
						for p := range want {
							for i := range want[p] {
								if got[p][i] != want[p][i] {
									t.Fatalf("cache %d slots, pass %d: position %d logit %d = %v, want %v (bit-identical)", cacheSlots, pass, p, i, got[p][i], want[p][i])
								}
							}
						}
					}
					m.Close()
				}
			})
		}
	}
}

// Switching from experts in the mapping to the expert cache gives back the
// experts packed in place and keeps the logits.
func TestPackedBudgetSwitch(t *testing.T) {
	saved := packsQ4_0
	defer func() { packsQ4_0 = saved }()
	packsQ4_0 = func() bool { return true }
	cs := loadCases(t)
	var c goldenCase
	for _, cc := range cs {
		if cc.Name == "tiny-swa-sigmoid-q4_0.p0" {
			c = cc
		}
	}
	path := filepath.Join(testdataDir, c.Model)
	ids := append(append([]int{}, c.PromptIDs...), c.GreedyIDs...)
	m, err := Load(path, LoadOptions{Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	want := logitsOf(t, m, ids) // copies the experts it uses into the arena, packed
	if m.expArena == nil {
		t.Fatal("experts used in place have no arena")
	}
	gate, _, _ := m.expertMatrices(0, 0, nil)
	if a := m.expArena.buf.Bytes(); &gate.Data[0] != &a[0] {
		t.Fatal("expert 0 of layer 0 is not read from the arena")
	}
	b := m.Breakdown(0)
	if err := m.SetBudget(b.MinBudget); err != nil { // fewer slots than experts
		t.Fatal(err)
	}
	if m.expArena != nil {
		t.Fatal("the arena outlived the switch to the expert cache")
	}
	got := logitsOf(t, m, ids)
	for p := range want {
		for i := range want[p] {
			if got[p][i] != want[p][i] {
				t.Fatalf("after the switch: position %d logit %d = %v, want %v", p, i, got[p][i], want[p][i])
			}
		}
	}
	if st := m.ExpertStats(); st.Reads == 0 {
		t.Fatalf("the expert cache was not used after the switch: %+v, cache %v, breakdown %+v", st, m.cache.Load() != nil, m.Breakdown(m.Budget()))
	}
}

// The background packer packs every mapped expert after load while no pass
// runs, stops when the model closes or the expert cache takes over, and
// changes no logit whether a pass meets its experts packed or not.
func TestBackgroundPacker(t *testing.T) {
	saved := packsQ4_0
	defer func() { packsQ4_0 = saved }()
	packsQ4_0 = func() bool { return true }
	var c goldenCase
	for _, cc := range loadCases(t) {
		if cc.Name == "tiny-swa-sigmoid-q4_0.p0" {
			c = cc
		}
	}
	path := filepath.Join(testdataDir, c.Model)
	ids := append(append([]int{}, c.PromptIDs...), c.GreedyIDs...)
	plain, err := Load(path, LoadOptions{Threads: 2, NoPack: true})
	if err != nil {
		t.Fatal(err)
	}
	want := logitsOf(t, plain, ids)
	plain.Close()
	same := func(what string, got [][]float32) {
		t.Helper()
		for p := range want {
			for i := range want[p] {
				if got[p][i] != want[p][i] {
					t.Fatalf("%s: position %d logit %d = %v, want %v", what, p, i, got[p][i], want[p][i])
				}
			}
		}
	}

	t.Run("packs everything", func(t *testing.T) {
		m, err := Load(path, LoadOptions{Threads: 2})
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		m.WaitPacked()
		for i := range m.mappedPacked {
			if !m.mappedPacked[i].Load() {
				t.Fatalf("expert %d of layer %d is not packed", i%m.Config.Experts, i/m.Config.Experts)
			}
		}
		same("after packing", logitsOf(t, m, ids))
	})
	t.Run("alongside passes", func(t *testing.T) {
		for rep := 0; rep < 5; rep++ {
			m, err := Load(path, LoadOptions{Threads: 2})
			if err != nil {
				t.Fatal(err)
			}
			same("while packing", logitsOf(t, m, ids))
			m.WaitPacked()
			m.Close()
		}
	})
	t.Run("close at once", func(t *testing.T) {
		for rep := 0; rep < 20; rep++ {
			m, err := Load(path, LoadOptions{Threads: 2})
			if err != nil {
				t.Fatal(err)
			}
			if err := m.Close(); err != nil {
				t.Fatal(err)
			}
			m.WaitPacked() // returns: the packer has stopped
		}
	})
	t.Run("cache takes over", func(t *testing.T) {
		m, err := Load(path, LoadOptions{Threads: 2})
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		if err := m.SetBudget(m.Breakdown(0).MinBudget); err != nil {
			t.Fatal(err)
		}
		m.WaitPacked()
		same("with the cache", logitsOf(t, m, ids))
		if m.ExpertStats().Reads == 0 {
			t.Fatal("the expert cache was not used")
		}
	})
	t.Run("nothing to pack", func(t *testing.T) {
		m, err := Load(path, LoadOptions{Threads: 2, NoPack: true})
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		m.WaitPacked()
	})
}
