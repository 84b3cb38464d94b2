package inference

import "errors"

// ErrContextFull means the conversation no longer fits the context length.
var ErrContextFull = errors.New("the context is full")

// errClosed is returned by a forward pass on a closed model.
var errClosed = errors.New("the model was closed")
