package inference

// task is a unit of parallel work over items [lo, hi).
type task interface{ Run(worker, lo, hi int) }

// executor runs a task over n items across the model's threads.
type executor interface {
	For(n, grain int, t task)
	Threads() int
	Close()
}

// serialExec runs everything on the caller.
type serialExec struct{}

func (serialExec) For(n, grain int, t task) {
	if n > 0 {
		t.Run(0, 0, n)
	}
}
func (serialExec) Threads() int { return 1 }
func (serialExec) Close()       {}

func newExecutor(threads int) executor { return serialExec{} }
