//go:build purego || !amd64

package kernels

func dotF32GGML(a, b []float32) (float32, bool)  { return 0, false }
func sgemmDotF32(a, b []float32) (float32, bool) { return 0, false }

func softmaxGroups(x []float32, max float32, sum float64) (float64, bool) { return 0, false }
