package inference

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// Session is one conversation's engine state: a KV cache that survives
// across turns, so a new user message only prefills its new tokens.
// Chat calls must not overlap (a Session runs one generation at a time).
type Session struct {
	m  *Model
	r  *Runner
	mu sync.Mutex
}

// Result is the outcome of a generation.
type Result struct {
	Text   string
	Tokens []int
	Reason StopReason
	Stats  Stats
}

// NewSession makes a session with a context of ctx positions (0 = the model's
// training context, capped at 8192 to keep the KV cache modest).
func (m *Model) NewSession(ctx int) *Session {
	if ctx <= 0 {
		ctx = min(m.Config.Context, 8192)
	}
	return &Session{m: m, r: m.NewRunner(ctx)}
}

// Context is the session's context length.
func (s *Session) Context() int { return s.r.Context() }

// Used is how many positions the KV cache holds.
func (s *Session) Used() int { return s.r.Pos() }

// Reset forgets the cached conversation.
func (s *Session) Reset() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.r.Reset()
}

// Chat renders msgs with ChatML, prefills what the KV cache does not already
// hold, and generates the assistant's reply, calling onPiece with each
// complete-UTF-8 piece as it is produced. Cancelling ctx stops within one
// token; the partial reply is returned with Reason StopCancelled.
func (s *Session) Chat(ctx context.Context, msgs []Message, opts GenerateOptions, onPiece func(Piece)) (Result, error) {
	if len(msgs) == 0 {
		return Result{}, errors.New("no messages")
	}
	reserve := opts.MaxTokens
	if reserve <= 0 || reserve > s.r.Context()/2 {
		reserve = min(256, s.r.Context()/4)
	}
	prompt := s.m.EncodeChat(msgs)
	for len(prompt)+reserve > s.r.Context() {
		if opts.OnContextFull != ContextDropOldest {
			return Result{Reason: StopContextFull}, fmt.Errorf("%w: the conversation needs %d tokens, the context holds %d", ErrContextFull, len(prompt)+reserve, s.r.Context())
		}
		trimmed, ok := dropOldestTurn(msgs)
		if !ok {
			return Result{Reason: StopContextFull}, fmt.Errorf("%w: the last message alone needs %d tokens, the context holds %d", ErrContextFull, len(prompt)+reserve, s.r.Context())
		}
		msgs = trimmed
		prompt = s.m.EncodeChat(msgs)
	}
	return s.Generate(ctx, prompt, opts, onPiece)
}

// dropOldestTurn removes the oldest non-system message (and the reply that
// follows a user message), keeping at least the last message.
func dropOldestTurn(msgs []Message) ([]Message, bool) {
	first := 0
	if msgs[0].Role == RoleSystem {
		first = 1
	}
	if len(msgs)-first <= 1 {
		return msgs, false
	}
	n := 1
	if msgs[first].Role == RoleUser && first+1 < len(msgs)-1 && msgs[first+1].Role == RoleAssistant {
		n = 2
	}
	out := append(append([]Message{}, msgs[:first]...), msgs[first+n:]...)
	return out, true
}

// Generate continues from prompt (token ids of the whole conversation so
// far): positions already in the KV cache are reused, the rest prefilled.
func (s *Session) Generate(ctx context.Context, prompt []int, opts GenerateOptions, onPiece func(Piece)) (Result, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	start := time.Now()
	ioStart := s.m.ExpertStats()
	res := Result{}
	st := &res.Stats
	st.ContextSize = s.r.Context()

	// Reuse the longest common prefix of what is cached (keep ≥ 1 token to prefill,
	// since its logits start the reply).
	cached := s.r.Tokens()
	common := 0
	for common < len(cached) && common < len(prompt)-1 && cached[common] == prompt[common] {
		common++
	}
	s.r.Rewind(common)
	common = s.r.Pos()
	st.CachedTokens = common
	newToks := prompt[common:]
	st.PromptTokens = len(newToks)
	if len(prompt) >= s.r.Context() {
		res.Reason = StopContextFull
		return res, fmt.Errorf("%w: the prompt has %d tokens, the context holds %d", ErrContextFull, len(prompt), s.r.Context())
	}

	sampler := NewSampler(opts.Sampler)
	for _, id := range prompt {
		sampler.Accept(id)
	}
	logits := make([]float32, s.m.Config.Vocab)
	err := s.r.EvalContext(ctx, newToks, false, func(_ int, l []float32) { copy(logits, l) })
	if err != nil {
		if ctx.Err() != nil {
			res.Reason = StopCancelled
			return res, nil
		}
		res.Reason = StopError
		return res, err
	}
	prefillDone := time.Now()
	if d := prefillDone.Sub(start).Seconds(); d > 0 {
		st.PrefillTokS = float64(len(newToks)) / d
	}

	dec := s.m.Tok.NewStreamDecoder()
	var text []byte
	var firstTok time.Time
	for {
		if ctx.Err() != nil {
			res.Reason = StopCancelled
			break
		}
		id := sampler.Sample(logits)
		if s.m.Tok.IsEOG(id) {
			res.Reason = StopEnd
			break
		}
		res.Tokens = append(res.Tokens, id)
		sampler.Accept(id)
		st.GeneratedTokens++
		now := time.Now()
		if st.GeneratedTokens == 1 {
			firstTok = now
			st.TimeToFirst = now.Sub(start)
		} else if d := now.Sub(firstTok).Seconds(); d > 0 {
			st.DecodeTokS = float64(st.GeneratedTokens-1) / d
		}
		piece := dec.Push(id)
		text = append(text, piece...)
		st.ContextUsed = s.r.Pos() + 1
		s.m.expertStats(st, ioStart)
		if onPiece != nil {
			onPiece(Piece{Text: piece, Token: id, Stats: *st})
		}
		if opts.MaxTokens > 0 && st.GeneratedTokens >= opts.MaxTokens {
			res.Reason = StopMaxTokens
			// Feed the last token so the cache holds the whole reply for the next turn.
			if s.r.Pos() < s.r.Context() {
				if err := s.r.Eval([]int{id}, false, nil); err != nil {
					res.Reason = StopError
					return res, err
				}
			}
			break
		}
		if s.r.Pos() >= s.r.Context() {
			res.Reason = StopContextFull
			break
		}
		if err := s.r.EvalContext(ctx, []int{id}, false, func(_ int, l []float32) { copy(logits, l) }); err != nil {
			if ctx.Err() != nil {
				res.Reason = StopCancelled
				break
			}
			res.Reason = StopError
			return res, err
		}
	}
	if tail := dec.Flush(); tail != "" {
		text = append(text, tail...)
		if onPiece != nil {
			onPiece(Piece{Text: tail, Token: -1, Stats: *st})
		}
	}
	st.ContextUsed = s.r.Pos()
	s.m.expertStats(st, ioStart)
	res.Text = string(text)
	return res, nil
}
