package inference

import "smallthinker/inference/parallel"

// task is a unit of parallel work over items [lo, hi) (parallel.Task).
type task = parallel.Task

// executor runs a task over n items across the model's threads.
type executor interface {
	For(n, grain int, t task)
	Threads() int
	Close()
}

func newExecutor(threads int) executor { return parallel.NewPool(threads) }
