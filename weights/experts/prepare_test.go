package experts

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// Prepare sees every part of every loaded expert once, before Acquire
// returns it, and its changes are what callers get; its error fails the load.
func TestPrepare(t *testing.T) {
	m := openModel(t, testModel(t, "kq-q8_0.gguf"))
	l := m.layout
	invert := func(layer int, p Part, data []byte) error {
		for i := range data {
			data[i] = ^data[i]
		}
		return nil
	}
	c := m.open(t, MinSlots(l.TopK), Options{Prepare: invert})
	for _, id := range []int{0, 1, l.Experts + 2, 3, 0} {
		il, e := id/l.Experts, id%l.Experts
		c.Prefetch(il, []int{e})
		x, err := c.Acquire(il, e)
		if err != nil {
			t.Fatal(err)
		}
		for p := Gate; p < numParts; p++ {
			want := bytes.Clone(m.want(t, il, e, p))
			_ = invert(il, p, want)
			if !bytes.Equal(x.Part(p), want) {
				t.Fatalf("layer %d expert %d %s: Prepare's changes are not what Acquire returned", il, e, p)
			}
		}
		c.Release(x)
	}

	fail := errors.New("cannot repack")
	c = m.open(t, MinSlots(l.TopK), Options{Prepare: func(layer int, p Part, data []byte) error {
		if p == Up {
			return fail
		}
		return nil
	}})
	_, err := c.Acquire(1, 2)
	var re *ReadError
	if !errors.As(err, &re) || !errors.Is(err, fail) || re.Layer != 1 || re.Expert != 2 || re.Part != Up {
		t.Fatalf("got %v, want a ReadError for layer 1 expert 2 up wrapping the Prepare error", err)
	}
	if !strings.Contains(err.Error(), "cannot repack") {
		t.Fatalf("error %q does not say why", err)
	}
}
