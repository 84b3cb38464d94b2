package arch

import (
	"path/filepath"
	"testing"

	"smallthinker/weights/gguf"
)

func TestReadConfigTestdata(t *testing.T) {
	files, _ := filepath.Glob("../../../shared/testdata/models/*.gguf")
	if len(files) == 0 {
		t.Skip("../shared/testdata is absent")
	}
	for _, p := range files {
		t.Run(filepath.Base(p), func(t *testing.T) {
			f, err := gguf.Open(p)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			c, err := ReadConfig(f)
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Validate(f); err != nil {
				t.Fatal(err)
			}
			t.Logf("%+v", *c)
		})
	}
}

func TestLayerLayout(t *testing.T) {
	c := Config{SlidingWindow: SlidingWindow}
	for il, want := range []struct {
		rope   bool
		window int
	}{{false, 0}, {true, 4096}, {true, 4096}, {true, 4096}, {false, 0}} {
		if c.UsesRoPE(il) != want.rope || c.Window(il) != want.window {
			t.Errorf("layer %d: rope %v window %d, want %v %d", il, c.UsesRoPE(il), c.Window(il), want.rope, want.window)
		}
	}
	dense := Config{}
	if !dense.UsesRoPE(0) || dense.Window(4) != 0 {
		t.Errorf("without sliding_window every layer must be RoPE full attention")
	}
}
