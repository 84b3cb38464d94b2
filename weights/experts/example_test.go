package experts_test

import (
	"fmt"
	"log"

	"smallthinker/weights/arch"
	"smallthinker/weights/experts"
	"smallthinker/weights/gguf"
)

// How the engine uses the cache for one MoE layer of one token.
func Example() {
	path := "../../../shared/testdata/models/tiny-swa-sigmoid-q4_0.gguf"
	f, err := gguf.Open(path)
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	cfg, err := arch.ReadConfig(f)
	if err != nil {
		log.Fatal(err)
	}
	layout, err := experts.NewLayout(f, cfg.Layers, cfg.Experts, cfg.ExpertsUsed)
	if err != nil {
		log.Fatal(err)
	}
	// The budget left after resident weights, KV cache and scratch (here: half the experts).
	cache, err := experts.Open(path, layout, layout.AllBytes()/2, experts.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer cache.Close()

	layer, topK := 1, []int{6, 3} // from the router, before attention
	before := cache.Stats()
	cache.Prefetch(layer, topK) // reads start now...
	// ... attention runs here ...
	err = cache.Each(layer, topK, func(i int, e *experts.Expert) error {
		// Run expert topK[i]: e.Gate(), e.Up(), e.Down() are the raw GGUF bytes,
		// valid until this function returns.
		fmt.Println("expert", e.Index(), "gate bytes", len(e.Gate()))
		return nil
	})
	if err != nil {
		log.Fatal(err) // a *experts.ReadError names the expert and the file
	}
	tok := cache.Stats().Sub(before) // per-token stats
	fmt.Println("reads", tok.Reads, "hits", tok.Hits)

	// The app's memory slider: takes effect at once, evicting LRU experts.
	if err := cache.Resize(layout.MinBytes()); err != nil {
		log.Fatal(err)
	}
}
