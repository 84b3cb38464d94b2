package main

import (
	"fmt"
	"os"
	"strings"

	"smallthinker/weights/gguf"
)

func init() {
	register(&command{name: "inspect", summary: "print a GGUF file's metadata and tensors", run: runInspect})
}

func runInspect(args []string) error {
	fs := newFlags("inspect")
	full := fs.Bool("full", false, "print whole arrays instead of the first few elements")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() != 1 {
		return fmt.Errorf("usage: smallthinker inspect [--full] MODEL.gguf")
	}
	f, err := gguf.Open(fs.Arg(0))
	if err != nil {
		return err
	}
	defer f.Close()
	w := os.Stdout
	fmt.Fprintf(w, "* File is GGUF v%d, %d key/value pairs and %d tensors, alignment %d, data at byte %d\n",
		f.Version, len(f.KVs), len(f.Tensors), f.Alignment, f.DataOffset)
	fmt.Fprintf(w, "* Dumping %d key/value pair(s)\n", len(f.KVs))
	for i, kv := range f.KVs {
		fmt.Fprintf(w, "%7d: %-10s | %8s | %s = %s\n", i+1, typeLabel(kv.Value), countLabel(kv.Value), kv.Key, formatValue(kv.Value.V, *full))
	}
	fmt.Fprintf(w, "* Dumping %d tensor(s)\n", len(f.Tensors))
	total := uint64(0)
	for i := range f.Tensors {
		t := &f.Tensors[i]
		dims := make([]string, 4)
		for d := range dims {
			dims[d] = fmt.Sprint(t.Dim(d))
		}
		fmt.Fprintf(w, "%7d: %10d | %s | %-6s | %12d bytes | %s\n", i+1, t.Elements(), strings.Join(dims, ", "), t.Type, t.Bytes(), t.Name)
		total += t.Bytes()
	}
	fmt.Fprintf(w, "* %d tensor bytes (%.2f GiB), file %d bytes\n", total, float64(total)/(1<<30), f.Size)
	return nil
}

func typeLabel(v gguf.Value) string {
	if a, ok := v.V.(gguf.Array); ok {
		return "[" + a.Elem.String() + "]"
	}
	return v.Type.String()
}

func countLabel(v gguf.Value) string {
	if a, ok := v.V.(gguf.Array); ok {
		return fmt.Sprint(len(a.Values))
	}
	return "1"
}

func formatValue(v any, full bool) string {
	switch x := v.(type) {
	case string:
		if !full && len(x) > 60 {
			x = x[:60] + "..."
		}
		return fmt.Sprintf("%q", x)
	case gguf.Array:
		n := len(x.Values)
		if !full && n > 5 {
			n = 5
		}
		parts := make([]string, 0, n+1)
		for _, e := range x.Values[:n] {
			parts = append(parts, formatValue(e, full))
		}
		if n < len(x.Values) {
			parts = append(parts, "...")
		}
		return "[" + strings.Join(parts, ", ") + "]"
	}
	return fmt.Sprint(v)
}
