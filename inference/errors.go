package inference

import "errors"

// ErrContextFull means the conversation no longer fits the context length.
var ErrContextFull = errors.New("the context is full")
