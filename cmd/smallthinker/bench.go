package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"time"

	"smallthinker/inference"
	"smallthinker/inference/parallel"
)

func init() {
	register(&command{name: "bench", summary: "measure prefill and decode speed, memory and bandwidth", run: runBench})
}

// benchResult is the JSON contract of `bench --json` (last line of stdout).
type benchResult struct {
	Model               string  `json:"model"`
	Threads             int     `json:"threads"`
	Kernels             string  `json:"kernels"`
	KVType              string  `json:"kv_type"`
	LoadMs              float64 `json:"load_ms"`
	PromptTokens        int     `json:"prompt_tokens"`
	GenTokens           int     `json:"gen_tokens"`
	PrefillTokS         float64 `json:"prefill_tok_s"`
	DecodeTokS          float64 `json:"decode_tok_s"`
	TTFTMs              float64 `json:"ttft_ms"`
	PeakRSSBytes        int64   `json:"peak_rss_bytes"`
	WeightBytesPerToken int64   `json:"weight_bytes_per_token"` // read by decode (rows ReGLU skips excluded)
	DenseBytesPerToken  int64   `json:"dense_bytes_per_token"`  // every row of every used matrix
	AchievedGBps        float64 `json:"achieved_gbps"`
	MemBWGBps           float64 `json:"mem_bw_gbps"`      // sustained: the probe's bytes over its time, before load and after decode
	MemBWPeakGBps       float64 `json:"mem_bw_peak_gbps"` // the probe's fastest single pass
	BudgetBytes         int64   `json:"budget_bytes,omitempty"`
	CacheHitRate        float64 `json:"cache_hit_rate"`
	IOWaitMsPerToken    float64 `json:"io_wait_ms_per_token"`
	BytesRead           int64   `json:"bytes_read"`
	SSDMBs              float64 `json:"ssd_mb_s"`
}

func runBench(args []string) error {
	fs := newFlags("bench")
	// F16 KV by default: what the reference's llama-bench figures used.
	mf := addModelFlagsKV(fs, "f16")
	prompt := fs.Int("prompt", 512, "prompt tokens to prefill")
	gen := fs.Int("gen", 128, "tokens to decode")
	jsonOut := fs.Bool("json", false, "print a JSON object as the last line")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of prefill+decode to this file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *prompt < 1 || *gen < 1 {
		return errors.New("--prompt and --gen must be at least 1")
	}
	lopts, err := mf.loadOptions(0)
	if err != nil {
		return err
	}
	if lopts.ContextLength <= 0 {
		lopts.ContextLength = *prompt + *gen + 1 // the budget reserves KV for what the bench uses
	}
	budgetBytes := lopts.Budget
	var bw bandwidthProbe
	bw.run(*mf.threads, probeTime)
	debug.FreeOSMemory()
	resetPeakRSS() // the probe's buffer is not the engine's memory
	loadStart := time.Now()
	m, err := inference.Load(*mf.model, lopts)
	if err != nil {
		return err
	}
	defer m.Close()
	// Loading includes repacking the experts into the kernels' layout (the
	// reference engine repacks at load too); the app does it while the user
	// types.
	m.WaitPacked()
	loadTime := time.Since(loadStart)

	// A fixed prompt: ordinary token ids cycling through the vocabulary's first rows.
	ids := make([]int, *prompt)
	for i := range ids {
		ids[i] = 100 + (i*7919)%min(m.Config.Vocab-100, 20000)
	}
	r := m.NewRunner(*prompt + *gen + 1)
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			return err
		}
		pprof.StartCPUProfile(f)
		defer f.Close()
	}
	stopProfile := func() {
		if *cpuprofile != "" {
			pprof.StopCPUProfile()
		}
	}
	defer stopProfile() // an early return; a second stop is a no-op
	logits := make([]float32, m.Config.Vocab)
	start := time.Now()
	if err := r.EvalContext(context.Background(), ids, false, func(_ int, l []float32) { copy(logits, l) }); err != nil {
		return err
	}
	prefill := time.Since(start)
	statsBefore := m.ExpertStats()
	bytesBefore := r.WeightBytesRead()
	dstart := time.Now()
	var ttft time.Duration
	for i := 0; i < *gen; i++ {
		next := inference.Argmax(logits)
		if i == 0 {
			ttft = time.Since(start)
		}
		if err := r.Eval([]int{next}, false, func(_ int, l []float32) { copy(logits, l) }); err != nil {
			return err
		}
	}
	decode := time.Since(dstart)
	es := m.ExpertStats().Sub(statsBefore)
	read := r.WeightBytesRead() - bytesBefore
	rss := peakRSS() // before the second probe's buffer
	stopProfile()
	// The VM's memory bandwidth swings from pass to pass (bursts far above
	// the usual rate for a fraction of a second): probing again right after
	// decode measures the machine around the run, not just before it.
	bw.run(*mf.threads, probeTime)

	res := benchResult{
		Model: *mf.model, Threads: m.Threads(), Kernels: kernelsImpl(), KVType: *mf.kvType,
		LoadMs:       float64(loadTime.Microseconds()) / 1000,
		PromptTokens: *prompt, GenTokens: *gen,
		PrefillTokS:         float64(*prompt) / prefill.Seconds(),
		DecodeTokS:          float64(*gen) / decode.Seconds(),
		TTFTMs:              float64(ttft.Microseconds()) / 1000,
		PeakRSSBytes:        rss,
		WeightBytesPerToken: read / int64(max(*gen, 1)),
		DenseBytesPerToken:  m.WeightBytesPerToken(),
		MemBWGBps:           bw.sustained(),
		MemBWPeakGBps:       bw.peak,
		BudgetBytes:         budgetBytes,
		CacheHitRate:        inference.HitRate(es),
		IOWaitMsPerToken:    float64(es.WaitTime.Microseconds()) / 1000 / float64(*gen),
		BytesRead:           es.BytesRead,
	}
	res.AchievedGBps = float64(res.WeightBytesPerToken) * res.DecodeTokS / 1e9
	res.SSDMBs = es.ReadMBps()
	fmt.Printf("model            %s (%s kernels, %d threads, %s KV cache)\n", res.Model, res.Kernels, res.Threads, res.KVType)
	fmt.Printf("load             %.1f s (mapping, checks, repacking)\n", loadTime.Seconds())
	fmt.Printf("prefill          %d tokens at %.1f tok/s\n", res.PromptTokens, res.PrefillTokS)
	fmt.Printf("decode           %d tokens at %.1f tok/s (time to first token %.0f ms)\n", res.GenTokens, res.DecodeTokS, res.TTFTMs)
	fmt.Printf("weights/token    %.1f MiB read (%.1f MiB dense; ReGLU skips the rest), %.1f GB/s achieved of %.1f GB/s measured memory bandwidth (%.0f%%; fastest probe pass %.1f GB/s, %.0f%%)\n",
		float64(res.WeightBytesPerToken)/(1<<20), float64(res.DenseBytesPerToken)/(1<<20), res.AchievedGBps, res.MemBWGBps, 100*res.AchievedGBps/res.MemBWGBps,
		res.MemBWPeakGBps, 100*res.AchievedGBps/res.MemBWPeakGBps)
	fmt.Printf("peak RSS         %.1f MiB\n", float64(res.PeakRSSBytes)/(1<<20))
	if budgetBytes > 0 {
		fmt.Printf("budget           %.1f MiB: expert cache hit rate %.1f%%, %.1f MiB read, I/O wait %.2f ms/token, SSD %.0f MB/s\n",
			float64(budgetBytes)/(1<<20), 100*res.CacheHitRate, float64(res.BytesRead)/(1<<20), res.IOWaitMsPerToken, res.SSDMBs)
	}
	if *jsonOut {
		b, _ := json.Marshal(res)
		fmt.Println(string(b))
	}
	return nil
}

// probeTime is how long each of the bench's two bandwidth probes reads.
const probeTime = 500 * time.Millisecond

// bandwidthProbe measures memory read bandwidth by summing a buffer much
// larger than the caches from several goroutines, pass after pass. Decode
// is an average over seconds, so the figure it is held against is one too:
// every pass's bytes over every pass's time (on this VM single passes swing
// between ~22 and ~50 GB/s). The fastest pass is kept as well.
type bandwidthProbe struct {
	bytes float64
	time  time.Duration
	peak  float64 // GB/s
}

// run probes for at least d (and at least 4 passes).
func (b *bandwidthProbe) run(threads int, d time.Duration) {
	if threads <= 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	const size = 512 << 20
	buf := make([]uint64, size/8)
	for i := range buf {
		buf[i] = uint64(i)
	}
	p := parallel.NewPool(threads)
	defer p.Close()
	t := &sumTask{buf: buf, sums: make([]uint64, threads*8)}
	grain := len(buf) / threads / 4
	p.For(len(buf), grain, t) // warm
	begin := time.Now()
	for n := 0; n < 4 || time.Since(begin) < d; n++ {
		start := time.Now()
		p.For(len(buf), grain, t)
		took := time.Since(start)
		b.bytes += size
		b.time += took
		b.peak = max(b.peak, size/took.Seconds()/1e9)
	}
}

// sustained is the bandwidth over every pass so far, in GB/s.
func (b *bandwidthProbe) sustained() float64 {
	if b.time <= 0 {
		return 0
	}
	return b.bytes / b.time.Seconds() / 1e9
}

type sumTask struct {
	buf  []uint64
	sums []uint64
}

func (t *sumTask) Run(worker, lo, hi int) {
	var a, b, c, d uint64
	s := t.buf[lo:hi]
	for i := 0; i+4 <= len(s); i += 4 {
		a += s[i]
		b += s[i+1]
		c += s[i+2]
		d += s[i+3]
	}
	t.sums[worker*8] += a + b + c + d
}
