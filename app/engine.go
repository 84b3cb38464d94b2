package app

import (
	"context"
	"strings"

	"smallthinker/inference"
	"smallthinker/weights/gguf"
)

// Engine loads models. The app talks to the inference package only through
// these interfaces, so the conductor's logic is independent of the engine's
// internals.
type Engine interface {
	Load(path string, opts LoadOptions) (Model, error)
}

// LoadOptions configure a model load.
type LoadOptions struct {
	Threads       int   // 0 = all cores
	BudgetBytes   int64 // RAM the model may use; 0 = all it wants
	ContextLength int   // positions per session
}

// Model is a loaded model.
type Model interface {
	Info() ModelInfo
	// SetBudget changes the memory budget of the loaded model, live.
	SetBudget(bytes int64) error
	// Breakdown says what a budget buys with the model's current context length.
	Breakdown(budget int64) MemoryBreakdown
	SetThreads(n int)
	NewSession(contextLength int) Session
	Close() error
}

// Session holds one conversation's KV cache across turns.
type Session interface {
	Chat(ctx context.Context, msgs []inference.Message, opts inference.GenerateOptions, onPiece func(inference.Piece)) (inference.Result, error)
}

// ModelInfo describes a loaded model.
type ModelInfo struct {
	Name          string
	Path          string
	FileSize      int64
	Quant         string
	ResidentBytes int64 // weights always kept in RAM (everything but the experts)
	ExpertBytes   int64 // all routed experts
	MinBudget     int64
	MaxBudget     int64 // everything in RAM
	ContextLength int
}

// MemoryBreakdown is where a budget goes.
type MemoryBreakdown struct {
	Resident    int64
	ExpertCache int64 // bytes of experts kept in RAM
	ExpertTotal int64
	KVCache     int64
	Scratch     int64
}

// InferenceEngine is the Go SmallThinker engine.
type InferenceEngine struct{}

// Load maps the GGUF at path with the given budget (experts that do not fit
// stream from the SSD through the engine's expert cache).
func (InferenceEngine) Load(path string, opts LoadOptions) (Model, error) {
	m, err := inference.Load(path, inference.LoadOptions{
		Threads: opts.Threads, Budget: opts.BudgetBytes, ContextLength: opts.ContextLength,
		KVF16: true, // the reference engine's default: half the KV memory of a long chat, faster attention
	})
	if err != nil {
		return nil, err
	}
	ctx := opts.ContextLength
	if ctx <= 0 {
		ctx = min(m.Config.Context, 8192)
	}
	return newInferenceModel(m, ctx), nil
}

// inferenceModel adapts *inference.Model to Model.
type inferenceModel struct {
	m    *inference.Model
	info ModelInfo
}

func newInferenceModel(m *inference.Model, ctx int) *inferenceModel {
	f := m.File()
	// The quantization is the type holding most bytes of the experts.
	byType := map[gguf.TensorType]uint64{}
	for i := range f.Tensors {
		t := &f.Tensors[i]
		if strings.Contains(t.Name, "_exps.") {
			byType[t.Type] += t.Bytes()
		}
	}
	quant, most := "", uint64(0)
	for t, n := range byType {
		if n > most {
			quant, most = t.String(), n
		}
	}
	name, _ := f.String("general.name")
	b := m.Breakdown(0)
	return &inferenceModel{m: m, info: ModelInfo{
		Name: name, Path: m.Path, FileSize: m.FileSize(), Quant: quant,
		ResidentBytes: b.Resident, ExpertBytes: b.ExpertTotal,
		MinBudget: b.MinBudget, MaxBudget: b.FullBudget, ContextLength: ctx,
	}}
}

func (im *inferenceModel) Info() ModelInfo { return im.info }

func (im *inferenceModel) Breakdown(budget int64) MemoryBreakdown {
	b := im.m.Breakdown(budget)
	return MemoryBreakdown{Resident: b.Resident, ExpertCache: b.ExpertCache, ExpertTotal: b.ExpertTotal, KVCache: b.KVCache, Scratch: b.Scratch}
}

func (im *inferenceModel) SetBudget(bytes int64) error { return im.m.SetBudget(bytes) }

// Budget is the engine's current budget (0 = unlimited).
func (im *inferenceModel) Budget() int64 { return im.m.Budget() }

func (im *inferenceModel) SetThreads(n int) { im.m.SetThreads(n) }

func (im *inferenceModel) NewSession(contextLength int) Session {
	return im.m.NewSession(contextLength)
}

func (im *inferenceModel) Close() error { return im.m.Close() }
