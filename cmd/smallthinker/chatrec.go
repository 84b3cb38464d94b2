package main

import (
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"smallthinker/history"
	"smallthinker/inference"
)

// chatRecorder records a CLI chat into the history database; without --db
// every method is a no-op.
type chatRecorder struct {
	store *history.Store
	conv  history.ID
	model string
}

// replyRecorder checkpoints one streaming reply.
type replyRecorder struct {
	r    *history.Reply
	text strings.Builder
	err  error
}

func openChatRecorder(dir string, m *inference.Model, system string) (*chatRecorder, error) {
	if dir == "" {
		return &chatRecorder{}, nil
	}
	st, err := history.Open(dir)
	if err != nil {
		return nil, fmt.Errorf("opening the history in %s: %w", dir, err)
	}
	d := inference.DefaultSampler()
	c, err := st.CreateConversation(history.Conversation{
		Model:        filepath.Base(m.Path),
		SystemPrompt: system,
		Sampling:     history.Sampling{Temperature: d.Temperature, TopK: d.TopK, TopP: d.TopP, RepetitionPenalty: d.RepetitionPenalty},
	})
	if err != nil {
		st.Close()
		return nil, err
	}
	if system != "" {
		if _, err := st.AppendMessage(c.ID, history.Message{Role: history.RoleSystem, Text: system}); err != nil {
			st.Close()
			return nil, err
		}
	}
	return &chatRecorder{store: st, conv: c.ID, model: filepath.Base(m.Path)}, nil
}

// User saves a user message before it is answered.
func (c *chatRecorder) User(text string) error {
	if c.store == nil {
		return nil
	}
	_, err := c.store.AppendMessage(c.conv, history.Message{Role: history.RoleUser, Text: text})
	return err
}

// BeginReply starts recording the assistant's reply.
func (c *chatRecorder) BeginReply() *replyRecorder {
	if c.store == nil {
		return &replyRecorder{}
	}
	r, err := c.store.BeginReply(c.conv, c.model)
	return &replyRecorder{r: r, err: err}
}

func (c *chatRecorder) Close() error {
	if c.store == nil {
		return nil
	}
	return c.store.Close()
}

// Update appends a streamed piece; the history checkpoints it every ~2 s.
func (r *replyRecorder) Update(piece string, s inference.Stats) {
	if r.r == nil {
		return
	}
	r.text.WriteString(piece)
	r.r.Update(r.text.String(), "", historyStats(s, 0)) // a failed checkpoint is retried by the next one and by Finish
}

// Finish writes the whole reply for good.
func (r *replyRecorder) Finish(res inference.Result) error {
	if r.r == nil {
		return r.err
	}
	// A failed checkpoint does not stop the final write: Finish saves the whole reply.
	_, err := r.r.Finish(res.Text, "", historyStats(res.Stats, 0), string(res.Reason))
	return err
}

func historyStats(s inference.Stats, total time.Duration) history.Stats {
	return history.Stats{
		PromptTokens: s.PromptTokens, CachedTokens: s.CachedTokens, GeneratedTokens: s.GeneratedTokens,
		TimeToFirstToken: s.TimeToFirst, Duration: total, PrefillTokPerSec: s.PrefillTokS,
		TokPerSec: s.DecodeTokS, CacheHitRate: s.CacheHitRate,
	}
}
