package main

import (
	"bytes"
	"encoding/json"
	"io"
	"math"
	"os"
	"path/filepath"
	"testing"

	"smallthinker/weights/gguf"
	"smallthinker/weights/modelgen"
)

// bench --json ends with one JSON object holding the contract's keys.
func TestBenchJSON(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tiny.gguf")
	if err := modelgen.WriteFile(path, modelgen.Options{Preset: "tiny", Type: gguf.Q4_0, Seed: 5}); err != nil {
		t.Fatal(err)
	}
	out := captureStdout(t, func() error {
		return runBench([]string{"--model", path, "--threads", "2", "--prompt", "24", "--gen", "8", "--json"})
	})
	lines := bytes.Split(bytes.TrimSpace(out), []byte("\n"))
	var res map[string]any
	if err := json.Unmarshal(lines[len(lines)-1], &res); err != nil {
		t.Fatalf("last line %q is not JSON: %v", lines[len(lines)-1], err)
	}
	for _, k := range []string{"prefill_tok_s", "decode_tok_s", "ttft_ms", "peak_rss_bytes", "weight_bytes_per_token",
		"achieved_gbps", "mem_bw_gbps", "cache_hit_rate", "io_wait_ms_per_token", "bytes_read"} {
		v, ok := res[k].(float64)
		if !ok {
			t.Fatalf("key %s missing or not a number in %s", k, lines[len(lines)-1])
		}
		if v < 0 {
			t.Fatalf("%s = %v", k, v)
		}
	}
	read, dense := res["weight_bytes_per_token"].(float64), res["dense_bytes_per_token"].(float64)
	if read <= 0 || read > dense {
		t.Fatalf("weight bytes read per token %v, dense %v: want 0 < read ≤ dense", read, dense)
	}
	if res["decode_tok_s"].(float64) <= 0 || res["mem_bw_gbps"].(float64) <= 0 {
		t.Fatalf("no speed measured: %v", res)
	}
	// The sustained bandwidth averages the passes, so no pass is slower than
	// it on average and the fastest is at least as fast.
	idle, ok := res["mem_bw_idle_gbps"].(float64)
	if !ok || idle <= 0 {
		t.Fatalf("mem_bw_idle_gbps = %v", res["mem_bw_idle_gbps"])
	}
	if peak, ok := res["mem_bw_peak_gbps"].(float64); !ok || peak < res["mem_bw_gbps"].(float64) || peak < idle {
		t.Fatalf("mem_bw_peak_gbps %v below a sustained figure (%v between tokens, %v idle)", res["mem_bw_peak_gbps"], res["mem_bw_gbps"], idle)
	}
	if res["kv_type"] != "f16" {
		t.Fatalf("bench's KV cache is %v, want f16 (the reference's llama-bench setting)", res["kv_type"])
	}
	if v, ok := res["load_ms"].(float64); !ok || v <= 0 {
		t.Fatalf("load_ms = %v", res["load_ms"])
	}
}

// With --budget the experts go through the cache, the JSON says so, and the
// bandwidth (probed after decode then) is still measured.
func TestBenchJSONBudget(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tiny.gguf")
	if err := modelgen.WriteFile(path, modelgen.Options{Preset: "tiny", Type: gguf.Q4_0, Seed: 6}); err != nil {
		t.Fatal(err)
	}
	out := captureStdout(t, func() error {
		return runBench([]string{"--model", path, "--threads", "2", "--prompt", "16", "--gen", "4", "--budget", "400KiB", "--json"})
	})
	lines := bytes.Split(bytes.TrimSpace(out), []byte("\n"))
	var res map[string]any
	if err := json.Unmarshal(lines[len(lines)-1], &res); err != nil {
		t.Fatalf("last line %q is not JSON: %v", lines[len(lines)-1], err)
	}
	if res["budget_bytes"] != float64(400<<10) {
		t.Fatalf("budget_bytes = %v, want %d", res["budget_bytes"], 400<<10)
	}
	if hr, ok := res["cache_hit_rate"].(float64); !ok || hr < 0 || hr > 1 {
		t.Fatalf("cache_hit_rate = %v", res["cache_hit_rate"])
	}
	if bw, ok := res["mem_bw_gbps"].(float64); !ok || bw <= 0 {
		t.Fatalf("mem_bw_gbps = %v", res["mem_bw_gbps"])
	}
	if !bytes.Contains(out, []byte("right after decode")) {
		t.Fatalf("a budget run's bandwidth line does not say the probe ran after decode:\n%s", out)
	}
}

// --kv-type takes f32 and f16 and refuses anything else with the flag's name.
func TestKVTypeFlag(t *testing.T) {
	for _, tc := range []struct {
		arg     string
		f16, ok bool
	}{{"f32", false, true}, {"f16", true, true}, {"q8_0", false, false}, {"", false, false}} {
		fs := newFlags("test")
		mf := addModelFlags(fs)
		if err := fs.Parse([]string{"--model", "m.gguf", "--kv-type", tc.arg}); err != nil {
			t.Fatal(err)
		}
		opts, err := mf.loadOptions(0)
		if (err == nil) != tc.ok || (err != nil && !bytes.Contains([]byte(err.Error()), []byte("--kv-type"))) {
			t.Fatalf("--kv-type %q: error %v", tc.arg, err)
		}
		if err == nil && opts.KVF16 != tc.f16 {
			t.Fatalf("--kv-type %q: KVF16 = %v", tc.arg, opts.KVF16)
		}
	}
	fs := newFlags("test")
	mf := addModelFlags(fs)
	if err := fs.Parse([]string{"--model", "m.gguf"}); err != nil {
		t.Fatal(err)
	}
	if opts, err := mf.loadOptions(0); err != nil || opts.KVF16 {
		t.Fatalf("logits/generate default: KVF16 = %v, %v (the golden files use F32)", opts.KVF16, err)
	}
}

func captureStdout(t *testing.T, f func() error) []byte {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	saved := os.Stdout
	os.Stdout = w
	done := make(chan []byte)
	go func() { b, _ := io.ReadAll(r); done <- b }()
	ferr := f()
	os.Stdout = saved
	w.Close()
	out := <-done
	if ferr != nil {
		t.Fatalf("%v\n%s", ferr, out)
	}
	return out
}

// TestBandwidthProbe: passes add up in their tally, the sustained figure
// is total bytes over total time, and no pass beats the fastest.
func TestBandwidthProbe(t *testing.T) {
	b := newBandwidthProbe(2)
	defer b.close()
	var idle, during bwTally
	if idle.gbps() != 0 {
		t.Fatalf("empty tally: %v GB/s", idle.gbps())
	}
	b.run(&idle, 0)
	if idle.passes != minProbePasses || idle.bytes != float64(minProbePasses*b.size()) || idle.time <= 0 {
		t.Fatalf("run: %d passes, %v bytes in %v", idle.passes, idle.bytes, idle.time)
	}
	b.pass(&during)
	if during.passes != 1 || during.bytes != float64(b.size()) || idle.passes != minProbePasses {
		t.Fatalf("one pass: %+v (idle %+v)", during, idle)
	}
	for _, tl := range []*bwTally{&idle, &during} {
		if s := tl.gbps(); s <= 0 || s > b.peak*(1+1e-9) {
			t.Fatalf("sustained %v GB/s, fastest pass %v", s, b.peak)
		}
	}
	if want := float64(b.size()) / 1e9 / during.time.Seconds(); math.Abs(during.gbps()-want) > 1e-9*want {
		t.Fatalf("one pass: %v GB/s, want %v", during.gbps(), want)
	}
}
