package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"strconv"
	"strings"

	"smallthinker/inference"
)

func init() {
	register(&command{name: "logits", summary: "write the raw float32 logits of a token sequence", run: runLogits})
	register(&command{name: "generate", summary: "generate text from a prompt or token ids", run: runGenerate})
	register(&command{name: "chat", summary: "interactive terminal chat (reads lines from stdin)", run: runChat})
}

// modelFlags are the flags every model-loading command shares.
type modelFlags struct {
	model       *string
	threads     *int
	ctx         *int
	budget      *string
	expertCache *string
	lookAhead   *bool
	sparseHead  *bool
	kvType      *string
}

// addModelFlags adds them with an F32 KV cache by default (what the golden
// files were made with: logits and generate must reproduce them).
func addModelFlags(fs *flag.FlagSet) *modelFlags { return addModelFlagsKV(fs, "f32") }

// addModelFlagsKV adds them with the KV cache type kv by default.
func addModelFlagsKV(fs *flag.FlagSet, kv string) *modelFlags {
	return &modelFlags{
		kvType:      fs.String("kv-type", kv, "KV cache element type: f32, or f16 (half the memory, faster on long contexts, slightly different results)"),
		model:       fs.String("model", "", "path of a SmallThinker GGUF file (required)"),
		threads:     fs.Int("threads", 0, "compute threads (0 = all cores)"),
		ctx:         fs.Int("ctx", 0, "context length in tokens (0 = automatic)"),
		budget:      fs.String("budget", "", "memory budget, e.g. 1GiB or 512MiB: experts that do not fit stream from the SSD"),
		expertCache: fs.String("expert-cache", "", "expert cache size in bytes (e.g. 64MiB), overriding the budget's share"),
		lookAhead:   fs.Bool("look-ahead", false, "also prefetch the next layer's likely experts (experts on SSD only)"),
		sparseHead:  fs.Bool("sparse-lm-head", false, "use the file's lm_head predictor to skip unlikely logits (faster, lossy)"),
	}
}

// loadOptions turns the flags into load options; budget overrides --budget when > 0.
func (mf *modelFlags) loadOptions(budget int64) (inference.LoadOptions, error) {
	if *mf.model == "" {
		return inference.LoadOptions{}, errors.New("--model is required")
	}
	var err error
	if budget <= 0 {
		if budget, err = parseBytes(*mf.budget); err != nil {
			return inference.LoadOptions{}, fmt.Errorf("--budget: %w", err)
		}
	}
	ec, err := parseBytes(*mf.expertCache)
	if err != nil {
		return inference.LoadOptions{}, fmt.Errorf("--expert-cache: %w", err)
	}
	var f16 bool
	switch *mf.kvType {
	case "f32":
	case "f16":
		f16 = true
	default:
		return inference.LoadOptions{}, fmt.Errorf("--kv-type: %q is not f32 or f16", *mf.kvType)
	}
	return inference.LoadOptions{Threads: *mf.threads, Budget: budget, ExpertCacheBytes: ec, ContextLength: *mf.ctx, LookAhead: *mf.lookAhead, SparseLMHead: *mf.sparseHead, KVF16: f16}, nil
}

func (mf *modelFlags) load() (*inference.Model, error) {
	opts, err := mf.loadOptions(0)
	if err != nil {
		return nil, err
	}
	return inference.Load(*mf.model, opts)
}

func parseIDs(s string) ([]int, error) {
	s = strings.Trim(strings.TrimSpace(s), "[]")
	if s == "" {
		return nil, errors.New("no token ids given")
	}
	var ids []int
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }) {
		id, err := strconv.Atoi(f)
		if err != nil {
			return nil, fmt.Errorf("bad token id %q", f)
		}
		ids = append(ids, id)
	}
	return ids, nil
}

func runLogits(args []string) error {
	fs := newFlags("logits")
	mf := addModelFlags(fs)
	tokens := fs.String("tokens", "", "comma-separated token ids (required)")
	all := fs.Bool("all", false, "write the logits of every position (row-major), not just the last")
	out := fs.String("out", "", "output file of little-endian float32 logits (required)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	ids, err := parseIDs(*tokens)
	if err != nil {
		return err
	}
	if *out == "" {
		return errors.New("--out is required")
	}
	m, err := mf.load()
	if err != nil {
		return err
	}
	defer m.Close()
	ctx := *mf.ctx
	if ctx <= 0 {
		ctx = len(ids)
	}
	r := m.NewRunner(ctx)
	f, err := os.Create(*out)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	buf := make([]byte, 4*m.Config.Vocab)
	var werr error
	err = r.Eval(ids, *all, func(_ int, logits []float32) {
		for i, v := range logits {
			binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(v))
		}
		if _, e := w.Write(buf); e != nil && werr == nil {
			werr = e
		}
	})
	if err == nil {
		err = werr
	}
	if err == nil {
		err = w.Flush()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(*out)
	}
	return err
}

// samplerFlags are the sampling flags of generate and chat.
type samplerFlags struct {
	greedy  *bool
	temp    *float64
	topK    *int
	topP    *float64
	repPen  *float64
	seed    *uint64
	maxToks *int
}

func addSamplerFlags(fs *flag.FlagSet, defaultN int) *samplerFlags {
	d := inference.DefaultSampler()
	return &samplerFlags{
		greedy:  fs.Bool("greedy", false, "argmax decoding (lowest id wins ties)"),
		temp:    fs.Float64("temp", float64(d.Temperature), "sampling temperature"),
		topK:    fs.Int("top-k", d.TopK, "top-k (0 = off)"),
		topP:    fs.Float64("top-p", float64(d.TopP), "top-p (1 = off)"),
		repPen:  fs.Float64("repeat-penalty", 1, "repetition penalty (1 = off)"),
		seed:    fs.Uint64("seed", 0, "random seed"),
		maxToks: fs.Int("n", defaultN, "maximum tokens to generate"),
	}
}

func (sf *samplerFlags) options() inference.GenerateOptions {
	return inference.GenerateOptions{
		MaxTokens: *sf.maxToks,
		Sampler: inference.SamplerConfig{
			Greedy: *sf.greedy, Temperature: float32(*sf.temp), TopK: *sf.topK, TopP: float32(*sf.topP),
			RepetitionPenalty: float32(*sf.repPen), Seed: *sf.seed,
		},
	}
}

// interruptible returns a context cancelled by Ctrl-C.
func interruptible() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt)
}

func runGenerate(args []string) error {
	fs := newFlags("generate")
	mf := addModelFlags(fs)
	sf := addSamplerFlags(fs, 128)
	tokens := fs.String("tokens", "", "prompt as comma-separated token ids")
	prompt := fs.String("prompt", "", "prompt text")
	chat := fs.Bool("chat", false, "wrap --prompt as a ChatML user message with the assistant generation prompt")
	system := fs.String("system", "", "system prompt (with --chat)")
	idsOut := fs.Bool("ids", false, "print the generated token ids as a JSON array on the last line")
	stats := fs.Bool("stats", false, "print speed statistics to stderr")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if (*tokens == "") == (*prompt == "") {
		return errors.New("give exactly one of --tokens or --prompt")
	}
	m, err := mf.load()
	if err != nil {
		return err
	}
	defer m.Close()
	var ids []int
	if *tokens != "" {
		if ids, err = parseIDs(*tokens); err != nil {
			return err
		}
	} else if *chat {
		var msgs []inference.Message
		if *system != "" {
			msgs = append(msgs, inference.Message{Role: inference.RoleSystem, Content: *system})
		}
		msgs = append(msgs, inference.Message{Role: inference.RoleUser, Content: *prompt})
		ids = m.EncodeChat(msgs)
	} else {
		ids = m.Tok.Encode(*prompt, false)
	}
	ctxLen := *mf.ctx
	if ctxLen <= 0 {
		ctxLen = min(m.Config.Context, len(ids)+max(*sf.maxToks, 0)+1)
	}
	sess := m.NewSession(ctxLen)
	ctx, stop := interruptible()
	defer stop()
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	res, err := sess.Generate(ctx, ids, sf.options(), func(p inference.Piece) {
		if !*idsOut {
			out.WriteString(p.Text)
			out.Flush()
		}
	})
	if err != nil {
		return err
	}
	if *idsOut {
		b, _ := json.Marshal(append([]int{}, res.Tokens...))
		fmt.Fprintf(out, "%s\n", b)
	} else {
		out.WriteString("\n")
	}
	if *stats {
		printStats(os.Stderr, res)
	}
	return nil
}

func printStats(w io.Writer, res inference.Result) {
	s := res.Stats
	fmt.Fprintf(w, "[%d prompt tokens (%d cached) at %.1f tok/s, %d generated at %.1f tok/s, first token after %v, stop: %s]\n",
		s.PromptTokens, s.CachedTokens, s.PrefillTokS, s.GeneratedTokens, s.DecodeTokS, s.TimeToFirst.Round(1e6), res.Reason)
}

func runChat(args []string) error {
	fs := newFlags("chat")
	mf := addModelFlagsKV(fs, "f16") // as the app: half the KV memory
	sf := addSamplerFlags(fs, 1024)
	system := fs.String("system", "", "system prompt")
	db := fs.String("db", "", "history database directory: record the conversation there")
	if err := fs.Parse(args); err != nil {
		return err
	}
	m, err := mf.load()
	if err != nil {
		return err
	}
	defer m.Close()
	rec, err := openChatRecorder(*db, m, *system)
	if err != nil {
		return err
	}
	defer rec.Close()
	sess := m.NewSession(*mf.ctx)
	var msgs []inference.Message
	if *system != "" {
		msgs = append(msgs, inference.Message{Role: inference.RoleSystem, Content: *system})
	}
	isTTY := isTerminal(os.Stdin)
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<24)
	opts := sf.options()
	opts.OnContextFull = inference.ContextDropOldest
	for {
		if isTTY {
			fmt.Fprint(os.Stderr, "> ")
		}
		if !in.Scan() {
			break
		}
		line := strings.TrimSpace(in.Text())
		if line == "" {
			continue
		}
		if line == "/exit" || line == "/quit" {
			break
		}
		msgs = append(msgs, inference.Message{Role: inference.RoleUser, Content: line})
		if err := rec.User(line); err != nil {
			return err
		}
		ctx, stop := interruptible()
		reply := rec.BeginReply()
		res, err := sess.Chat(ctx, msgs, opts, func(p inference.Piece) {
			os.Stdout.WriteString(p.Text)
			reply.Update(p.Text, p.Stats)
		})
		stop()
		fmt.Println()
		if ferr := reply.Finish(res); ferr != nil && err == nil {
			err = ferr
		}
		if err != nil {
			return err
		}
		if isTTY {
			printStats(os.Stderr, res)
		}
		msgs = append(msgs, inference.Message{Role: inference.RoleAssistant, Content: res.Text})
	}
	return in.Err()
}

func isTerminal(f *os.File) bool {
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}
