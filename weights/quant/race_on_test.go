//go:build race

package quant

// raceEnabled lets the file-based tests sample rows under the (25x slower) race detector.
const raceEnabled = true
