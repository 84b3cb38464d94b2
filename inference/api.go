// Package inference is the SmallThinker engine: hyperparameters, the forward
// pass, kernels, KV cache, tokenizer, chat template, sampler and the
// streaming generation API the app and the CLI use.
package inference

import "time"

// Role of a chat message.
const (
	RoleSystem    = "system"
	RoleUser      = "user"
	RoleAssistant = "assistant"
)

// Message is one chat turn.
type Message struct {
	Role    string
	Content string
}

// SamplerConfig chooses how the next token is picked. Temperature 0 (or
// Greedy) is argmax with the lowest id winning ties.
type SamplerConfig struct {
	Greedy            bool
	Temperature       float32 // default 0.6
	TopK              int     // default 20; 0 = off
	TopP              float32 // default 0.95; 1 = off
	RepetitionPenalty float32 // 1 = off
	RepetitionWindow  int     // how many recent tokens the penalty looks at (default 64)
	Seed              uint64
}

// DefaultSampler is what the model authors recommend (spec §5.5).
func DefaultSampler() SamplerConfig {
	return SamplerConfig{Temperature: 0.6, TopK: 20, TopP: 0.95, RepetitionPenalty: 1, RepetitionWindow: 64}
}

// GenerateOptions control one generation.
type GenerateOptions struct {
	MaxTokens int // 0 = until an end token or the context is full
	Sampler   SamplerConfig
	// OnContextFull chooses what happens when the context fills: stop with
	// ErrContextFull (default), or drop the oldest turns and re-prefill.
	OnContextFull ContextPolicy
}

// ContextPolicy is what to do when a conversation no longer fits the context.
type ContextPolicy int

const (
	ContextStop       ContextPolicy = iota // stop and report ErrContextFull
	ContextDropOldest                      // drop the oldest turns (keeping the system prompt) and re-prefill
)

// Stats describe a generation so far; they accompany every streamed piece.
type Stats struct {
	PromptTokens    int           // tokens prefilled for this reply (new tokens only)
	CachedTokens    int           // tokens reused from the KV cache
	GeneratedTokens int           //
	PrefillTokS     float64       // prompt tokens per second
	DecodeTokS      float64       // generated tokens per second (after the first)
	TimeToFirst     time.Duration // from the call to the first generated token
	ContextUsed     int           // positions in the KV cache
	ContextSize     int           // the session's context length
	CacheHitRate    float64       // expert cache hits / lookups (1 when all experts are resident)
	SSDBytesRead    int64         // expert bytes read from disk during this generation
	SSDMBs          float64       // expert read throughput
	IOWaitPerToken  time.Duration // time the compute waited for expert reads, per token
}

// StopReason says why a generation ended.
type StopReason string

const (
	StopEnd         StopReason = "end"          // the model emitted an end-of-turn token
	StopMaxTokens   StopReason = "max_tokens"   // the token limit was reached
	StopCancelled   StopReason = "cancelled"    // the context.Context was cancelled (Stop button)
	StopContextFull StopReason = "context_full" // the context filled up (ContextStop policy)
	StopError       StopReason = "error"
)

// Piece is one streamed chunk of generated text: complete UTF-8 only.
type Piece struct {
	Text  string
	Token int
	Stats Stats
}
