//go:build race

package inference

// raceEnabled: the race detector allocates and makes sync.Pool drop items,
// so allocation counts mean nothing under it.
const raceEnabled = true
