//go:build purego || !amd64

package kernels

func attnReduce(out, acc []float32, lanes int) bool { return false }

func attnScoresHeads(q []float32, nh, d int, k []float32, stride int, scale float32, out []float32, outStride, n int) bool {
	return false
}

func attnAccumHeads(acc []float32, nh, d, lanes, lane0 int, s []float32, sStride int, v []float32, stride, n int) bool {
	return false
}

func attnScoresHeadsF16(q []float32, nh, d int, k []uint16, stride int, scale float32, out []float32, outStride, n int, pf []uint16) bool {
	return false
}

func attnAccumHeadsF16(acc []float32, nh, d int, s []float32, sStride int, v []uint16, stride, n, pfOff, pfEnd int) bool {
	return false
}
