package models

import (
	"os"
	"path/filepath"

	"smallthinker/weights/gguf"
	"smallthinker/weights/modelgen"
)

// DemoFile is the built-in demo model's file name in the models directory.
const DemoFile = "smallthinker-demo-tiny.gguf"

// DemoNotice is what the UI shows next to the demo model.
const DemoNotice = "Demo model: tiny and random, it produces meaningless text. Download a real SmallThinker model to chat for real."

// demoOptions fixes the demo's content: the same bytes on every machine.
var demoOptions = modelgen.Options{Preset: "tiny", Type: gguf.Q4_0, Seed: 20250801}

// EnsureDemo returns the path of the demo model in dir, generating it
// (deterministically, in well under a second) if it is missing or damaged,
// so a fresh install opens straight into a working chat.
func EnsureDemo(dir string) (string, error) {
	p := filepath.Join(dir, DemoFile)
	if info, err := Inspect(p); err == nil && info.Demo {
		return p, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	if err := modelgen.WriteFile(p, demoOptions); err != nil {
		return "", err
	}
	return p, nil
}
