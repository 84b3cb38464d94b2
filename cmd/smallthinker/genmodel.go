package main

import (
	"fmt"
	"os"
	"strings"
	"time"

	"smallthinker/weights/modelgen"
	"smallthinker/weights/quant"
)

func init() {
	register(&command{name: "gen-model", summary: "write a random-weight SmallThinker GGUF (tiny, 4b or 21b shape)", run: runGenModel})
}

func runGenModel(args []string) error {
	fs := newFlags("gen-model")
	preset := fs.String("preset", "tiny", "model shape: "+strings.Join(modelgen.Presets, ", "))
	typ := fs.String("type", "q4_0", "matrix type: q4_0, q8_0, f16, bf16, f32, q4_1, q5_0, q5_1, q2_k..q6_k, or q4_k_m (llama.cpp's mix); norms and router stay f32")
	seed := fs.Uint64("seed", 1, "random seed; the same seed gives the same file")
	swa := fs.Bool("swa", false, "tiny only: sliding-window layout (layers with index%4 != 0 use a 4096 window and RoPE)")
	tdown := fs.Bool("transpose-down", false, "store ffn_down_exps as [n_embd, ffn, E] (the authors' fork layout)")
	out := fs.String("out", "", "output file (written as FILE.tmp, then renamed)")
	profiler := fs.Int("lm-head-profiler", 0, "add the authors' sparse lm_head predictor of this rank (multiple of 32; 0 = none)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" || fs.NArg() != 0 {
		return fmt.Errorf("usage: smallthinker gen-model --preset tiny|4b|21b --type q4_0|q8_0|f16|bf16|f32 [--seed N] [--swa] [--transpose-down] --out FILE.gguf")
	}
	mix := strings.EqualFold(*typ, "q4_k_m")
	if mix {
		*typ = "q4_k"
	}
	t, err := quant.TypeByName(*typ)
	if err != nil {
		return err
	}
	start := time.Now()
	o := modelgen.Options{Preset: *preset, Type: t, Seed: *seed, SWA: *swa, TransposeDown: *tdown, MixQ4KM: mix, LMHeadProfiler: *profiler}
	if err := modelgen.WriteFile(*out, o); err != nil {
		return err
	}
	st, err := os.Stat(*out)
	if err != nil {
		return err
	}
	el := time.Since(start)
	fmt.Printf("wrote %s: %d bytes (%.2f GiB) in %.1fs (%.0f MiB/s)\n", *out, st.Size(), float64(st.Size())/(1<<30),
		el.Seconds(), float64(st.Size())/(1<<20)/el.Seconds())
	return nil
}
