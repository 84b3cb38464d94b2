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
	MemBWGBps           float64 `json:"mem_bw_gbps"`      // sustained: the bytes over the time of the probe's passes between decode tokens (with --budget: right after decode)
	MemBWIdleGBps       float64 `json:"mem_bw_idle_gbps"` // the same for the probe's passes before load
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
	probeEvery := fs.Int("probe-every", 4, "decode tokens between two passes of the memory-bandwidth probe")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *prompt < 1 || *gen < 1 {
		return errors.New("--prompt and --gen must be at least 1")
	}
	if *probeEvery < 1 {
		return errors.New("--probe-every must be at least 1")
	}
	lopts, err := mf.loadOptions(0)
	if err != nil {
		return err
	}
	if lopts.ContextLength <= 0 {
		lopts.ContextLength = *prompt + *gen + 1 // the budget reserves KV for what the bench uses
	}
	budgetBytes := lopts.Budget
	bw := newBandwidthProbe(*mf.threads)
	defer bw.close()
	var idle, during bwTally
	bw.run(&idle, probeTime)
	debug.FreeOSMemory()
	// From here the probe's buffer stays resident (fully touched): the peak
	// RSS below leaves it out.
	resetPeakRSS()
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
	// The VM's memory bandwidth swings by half within a second (bursts far
	// above the usual rate), so decode is held against passes of the probe
	// taken between its tokens: the same stretch of time. Their own time is
	// not decode's; the token after one may find the caches emptied.
	every := max(1, min(*probeEvery, *gen/4))
	// With --budget the experts stream from the SSD, and the expert reads
	// running in the background between tokens would slow passes taken
	// there (waiting for them first would lend decode free I/O time): the
	// probe then reads for probeTime after decode instead.
	between := budgetBytes == 0
	var decode, ttft time.Duration
	for i := 0; i < *gen; i++ {
		t0 := time.Now()
		next := inference.Argmax(logits)
		if i == 0 {
			ttft = time.Since(start)
		}
		if err := r.Eval([]int{next}, false, func(_ int, l []float32) { copy(logits, l) }); err != nil {
			return err
		}
		decode += time.Since(t0)
		if between && (i+1)%every == 0 {
			bw.pass(&during) // in a --cpuprofile as sumTask.Run
		}
	}
	stopProfile()
	if !between {
		bw.run(&during, probeTime)
	}
	for during.passes < minProbePasses {
		bw.pass(&during)
	}
	es := m.ExpertStats().Sub(statsBefore)
	read := r.WeightBytesRead() - bytesBefore
	rss := max(0, peakRSS()-bw.size())

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
		MemBWGBps:           during.gbps(),
		MemBWIdleGBps:       idle.gbps(),
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
	fmt.Printf("weights/token    %.1f MiB read (%.1f MiB dense; ReGLU skips the rest), %.1f GB/s achieved\n",
		float64(res.WeightBytesPerToken)/(1<<20), float64(res.DenseBytesPerToken)/(1<<20), res.AchievedGBps)
	when := "between decode tokens"
	if !between {
		when = "right after decode"
	}
	fmt.Printf("memory bandwidth %.1f GB/s measured %s (decode moves %.0f%% of it); %.1f GB/s before load; fastest probe pass %.1f GB/s (%.0f%%)\n",
		res.MemBWGBps, when, 100*res.AchievedGBps/res.MemBWGBps, res.MemBWIdleGBps, res.MemBWPeakGBps, 100*res.AchievedGBps/res.MemBWPeakGBps)
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

// probeTime is how long the bandwidth probe reads in one go: before the
// model loads, and after decode in a --budget run.
const probeTime = 500 * time.Millisecond

// probeBytes is the probe's buffer: far larger than any cache, small next
// to the model (the peak RSS leaves it out).
const probeBytes = 256 << 20

// minProbePasses is the fewest passes a bandwidth figure averages.
const minProbePasses = 4

// bandwidthProbe measures memory read bandwidth by summing a buffer much
// larger than the caches from several goroutines, one pass at a time, so
// that passes can go between decode tokens. It keeps the fastest pass.
type bandwidthProbe struct {
	buf   []uint64
	pool  *parallel.Pool
	task  *sumTask
	grain int
	peak  float64 // GB/s
}

// bwTally adds up passes: their bytes over their time is a sustained rate
// (single passes on this VM read anywhere between ~22 and ~60 GB/s).
type bwTally struct {
	bytes  float64
	time   time.Duration
	passes int
}

// gbps is the tally's sustained bandwidth in GB/s, 0 before any pass.
func (t *bwTally) gbps() float64 {
	if t.time <= 0 {
		return 0
	}
	return t.bytes / t.time.Seconds() / 1e9
}

// newBandwidthProbe allocates and touches the buffer and runs one untimed pass.
func newBandwidthProbe(threads int) *bandwidthProbe {
	if threads <= 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	b := &bandwidthProbe{buf: make([]uint64, probeBytes/8), pool: parallel.NewPool(threads)}
	for i := range b.buf {
		b.buf[i] = uint64(i)
	}
	b.task = &sumTask{buf: b.buf, sums: make([]uint64, threads*8)}
	b.grain = len(b.buf) / threads / 4
	b.pool.For(len(b.buf), b.grain, b.task)
	return b
}

// size is the buffer's bytes (resident from newBandwidthProbe on).
func (b *bandwidthProbe) size() int64 { return int64(len(b.buf) * 8) }

// pass reads the whole buffer once and adds the pass to t.
func (b *bandwidthProbe) pass(t *bwTally) {
	start := time.Now()
	b.pool.For(len(b.buf), b.grain, b.task)
	took := time.Since(start)
	t.bytes += float64(b.size())
	t.time += took
	t.passes++
	b.peak = max(b.peak, float64(b.size())/took.Seconds()/1e9)
}

// run adds passes to t for at least d, and at least minProbePasses of them.
func (b *bandwidthProbe) run(t *bwTally, d time.Duration) {
	begin := time.Now()
	for n := 0; n < minProbePasses || time.Since(begin) < d; n++ {
		b.pass(t)
	}
}

func (b *bandwidthProbe) close() { b.pool.Close() }

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
