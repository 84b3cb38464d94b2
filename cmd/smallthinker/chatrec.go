package main

import "smallthinker/inference"

// chatRecorder records a CLI chat into the history database (a no-op without --db).
type chatRecorder struct{}

type replyRecorder struct{}

func openChatRecorder(dir string, m *inference.Model, system string) (*chatRecorder, error) {
	return &chatRecorder{}, nil
}

func (c *chatRecorder) User(text string) error                  { return nil }
func (c *chatRecorder) BeginReply() *replyRecorder              { return &replyRecorder{} }
func (c *chatRecorder) Close() error                            { return nil }
func (r *replyRecorder) Update(piece string, s inference.Stats) {}
func (r *replyRecorder) Finish(res inference.Result) error      { return nil }
