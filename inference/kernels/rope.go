package kernels

import "fmt"

// RopeNeox rotates each head (d wide) of x in place by the angles whose
// cosines and sines are cos[i] and sin[i], i < d/2 (GGML_ROPE_TYPE_NEOX:
// element i pairs with i+d/2), in the reference's rounding: x0·cos − x1·sin
// and x0·sin + x1·cos as GCC contracts them, the first product of each
// fused with the rounded second one.
func RopeNeox(x []float32, d int, cos, sin []float32) {
	half := d / 2
	if d <= 0 || d%2 != 0 || len(x)%d != 0 || len(cos) < half || len(sin) < half {
		panic(fmt.Sprintf("kernels: RopeNeox: %d values in heads of %d with %d cosines and %d sines", len(x), d, len(cos), len(sin)))
	}
	if len(x) == 0 || ropeNeox(x, d, cos, sin) {
		return
	}
	ropeNeoxGo(x, d, cos, sin)
}

func ropeNeoxGo(x []float32, d int, cos, sin []float32) {
	half := d / 2
	for h := 0; h+d <= len(x); h += d {
		for i := 0; i < half; i++ {
			x0, x1 := x[h+i], x[h+i+half]
			x[h+i] = fma32(x0, cos[i], -float32(x1*sin[i]))
			x[h+i+half] = fma32(x0, sin[i], float32(x1*cos[i]))
		}
	}
}
