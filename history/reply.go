package history

import (
	"errors"
	"sync"
	"time"
)

// Reply records an assistant reply while it streams. The text is kept in
// memory and written at most every ~2 s (a checkpoint, overwriting the same
// message), then for good by Finish. Until Finish the stored message is
// marked Incomplete, so after a crash the reply is there up to its last
// checkpoint and says it was cut off. Methods are safe for concurrent use.
type Reply struct {
	s *Store

	mu       sync.Mutex
	msg      Message
	saved    time.Time // last write
	dirty    bool      // msg differs from what is on disk
	finished bool
}

// ErrReplyFinished is returned by Update and Finish after Finish.
var ErrReplyFinished = errors.New("the reply was already finished")

// BeginReply stores an empty, incomplete assistant message at the end of a
// conversation and returns the writer for its text.
func (s *Store) BeginReply(convID ID, model string) (*Reply, error) {
	m, err := s.AppendMessage(convID, Message{Role: RoleAssistant, Model: model, Incomplete: true})
	if err != nil {
		return nil, err
	}
	return &Reply{s: s, msg: m, saved: s.now()}, nil
}

// Message is the reply as it stands in memory.
func (r *Reply) Message() Message {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.msg
}

// Update replaces the reply's text, thinking and stats with the text so far
// (not a delta). It writes a checkpoint when the last write is ~2 s old; the
// error is that checkpoint's, and the text stays in memory for the next one.
func (r *Reply) Update(text, thinking string, stats Stats) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.finished {
		return ErrReplyFinished
	}
	r.msg.Text, r.msg.Thinking, r.msg.Stats = text, thinking, stats
	r.dirty = true
	if r.s.now().Sub(r.saved) < r.s.checkpointEvery {
		return nil
	}
	return r.saveLocked(false)
}

// Checkpoint writes the reply now if it changed since the last write.
func (r *Reply) Checkpoint() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.finished || !r.dirty {
		return nil
	}
	return r.saveLocked(false)
}

func (r *Reply) saveLocked(touch bool) error {
	m := r.msg
	r.saved = r.s.now()
	if err := r.s.putMessage(&m, touch); err != nil {
		return err
	}
	r.dirty = false
	return nil
}

// Finish writes the final reply, no longer incomplete, and returns it.
// stopReason says why generation ended ("end", "max_tokens", "cancelled", ...).
// If the write fails the reply can be finished again.
func (r *Reply) Finish(text, thinking string, stats Stats, stopReason string) (Message, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.finished {
		return r.msg, ErrReplyFinished
	}
	r.msg.Text, r.msg.Thinking, r.msg.Stats = text, thinking, stats
	r.msg.StopReason = stopReason
	r.msg.Incomplete = false
	if err := r.saveLocked(true); err != nil {
		r.msg.Incomplete = true
		r.dirty = true
		return r.msg, err
	}
	r.finished = true
	return r.msg, nil
}
