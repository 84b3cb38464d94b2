//go:build purego || !amd64

package kernels

func attnScores(q, k []float32, stride int, scale float32, out []float32) bool { return false }

func attnAccum(acc []float32, d, lanes, lane0 int, s, v []float32, stride int) bool { return false }

func attnReduce(out, acc []float32, lanes int) bool { return false }
