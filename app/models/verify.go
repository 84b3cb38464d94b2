package models

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"smallthinker/weights/arch"
	"smallthinker/weights/gguf"
	"smallthinker/weights/modelgen"
)

// Problem kinds Verify reports; test with errors.Is.
var (
	ErrNotGGUF          = errors.New("not a GGUF file")
	ErrDamaged          = errors.New("damaged GGUF file")
	ErrWrongArch        = errors.New("not a SmallThinker model")
	ErrIncompleteModel  = errors.New("model tensors missing or inconsistent")
	ErrChecksumMismatch = errors.New("checksum mismatch")
)

// VerifyError says what is wrong with a model file in one line.
type VerifyError struct {
	Path   string
	Kind   error // one of the Err* values above
	Detail string
}

func (e *VerifyError) Error() string {
	return fmt.Sprintf("%s: %s: %s", filepath.Base(e.Path), e.Kind, e.Detail)
}
func (e *VerifyError) Unwrap() error { return e.Kind }

// Info describes a model file, read from its GGUF header only.
type Info struct {
	Path     string
	Name     string // general.name, else the file name
	Size     int64
	Quant    string // e.g. Q4_0, Q4_K_M (from general.file_type, else the expert tensors' type)
	Family   string // SmallThinker-4B-A0.6B, SmallThinker-21B-A3B, or a shape summary
	Demo     bool   // random weights (the demo or a generated test model)
	Imported bool   // lives outside the models directory
	Config   *arch.Config
	Err      error // non-nil: the file is unusable (a *VerifyError)
}

// Verify checks, without reading the weights, that path is a complete
// SmallThinker GGUF: GGUF magic, a well-formed header, every tensor inside
// the file, architecture smallthinker, all tensors present with the right
// shapes. The error is a *VerifyError naming exactly what is wrong.
func Verify(path string) error {
	_, err := Inspect(path)
	return err
}

// Inspect verifies path like Verify and describes it.
func Inspect(path string) (*Info, error) {
	bad := func(kind error, format string, a ...any) (*Info, error) {
		return nil, &VerifyError{Path: path, Kind: kind, Detail: fmt.Sprintf(format, a...)}
	}
	fh, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	st, err := fh.Stat()
	if err != nil {
		fh.Close()
		return nil, err
	}
	if st.IsDir() {
		fh.Close()
		return bad(ErrNotGGUF, "is a directory")
	}
	var magic [4]byte
	_, err = io.ReadFull(fh, magic[:])
	fh.Close()
	if err != nil {
		return bad(ErrNotGGUF, "the file is only %d bytes long", st.Size())
	}
	if string(magic[:]) != "GGUF" {
		return bad(ErrNotGGUF, "it starts with %q, not \"GGUF\"%s", printable(magic[:]), guessFormat(magic[:]))
	}
	f, err := gguf.Open(path)
	if err != nil {
		msg := err.Error()
		var fe *gguf.FormatError
		if errors.As(err, &fe) {
			msg = fmt.Sprintf("%s (at byte %d)", fe.Msg, fe.Offset)
		}
		if strings.Contains(msg, "truncated") || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
			return bad(ErrDamaged, "incomplete file (%d bytes; a download was cut short?): %s", st.Size(), msg)
		}
		if strings.Contains(msg, "cannot fit") {
			return bad(ErrDamaged, "incomplete or corrupt file (%d bytes): %s", st.Size(), msg)
		}
		return bad(ErrDamaged, "%s", msg)
	}
	defer f.Close()
	c, err := arch.ReadConfig(f)
	if err != nil {
		if errors.Is(err, arch.ErrArchitecture) || errors.Is(err, gguf.ErrMissing) && !f.Has("general.architecture") {
			a, _ := f.String("general.architecture")
			if a == "" {
				return bad(ErrWrongArch, "general.architecture is missing")
			}
			return bad(ErrWrongArch, "architecture is %q; this app runs only \"smallthinker\" models", a)
		}
		return bad(ErrIncompleteModel, "%v", err)
	}
	if err := c.Validate(f); err != nil {
		return bad(ErrIncompleteModel, "%v", err)
	}
	info := &Info{Path: path, Size: st.Size(), Config: c, Quant: quantName(f), Family: family(c)}
	info.Name, _ = f.String("general.name")
	if info.Name == "" {
		info.Name = strings.TrimSuffix(filepath.Base(path), filepath.Ext(path))
	}
	desc, _ := f.String("general.description")
	info.Demo = desc == modelgen.RandomDescription
	return info, nil
}

func printable(b []byte) string {
	var s strings.Builder
	for _, c := range b {
		if c >= 0x20 && c < 0x7f {
			s.WriteByte(c)
		} else {
			fmt.Fprintf(&s, "\\x%02x", c)
		}
	}
	return s.String()
}

// guessFormat names common wrong files users pick by mistake.
func guessFormat(m []byte) string {
	switch {
	case m[0] == '{':
		return " (looks like JSON: safetensors index or config, not a GGUF model)"
	case m[0] == '<':
		return " (looks like HTML: an error or login page was saved instead of the model)"
	case string(m[:2]) == "PK":
		return " (a zip archive: extract the .gguf first)"
	case m[0] == 0x1f && m[1] == 0x8b:
		return " (gzip-compressed: decompress it first)"
	case string(m) == "vers":
		return " (a Git LFS pointer, not the model data)"
	}
	return ""
}

// fileTypes maps general.file_type (llama.cpp LlamaFileType) to its name.
var fileTypes = map[uint64]string{
	0: "F32", 1: "F16", 2: "Q4_0", 3: "Q4_1", 7: "Q8_0", 8: "Q5_0", 9: "Q5_1", 10: "Q2_K",
	11: "Q3_K_S", 12: "Q3_K_M", 13: "Q3_K_L", 14: "Q4_K_S", 15: "Q4_K_M", 16: "Q5_K_S",
	17: "Q5_K_M", 18: "Q6_K", 32: "BF16",
}

func quantName(f *gguf.File) string {
	if ft, err := f.Uint("general.file_type"); err == nil {
		if n, ok := fileTypes[ft]; ok {
			return n
		}
	}
	if t, ok := f.Tensor("blk.0.ffn_up_exps.weight"); ok {
		return t.Type.String()
	}
	return "unknown"
}

func family(c *arch.Config) string {
	switch {
	case c.Embed == 1536 && c.Layers == 32 && c.Experts == 32:
		return "SmallThinker-4B-A0.6B"
	case c.Embed == 2560 && c.Layers == 52 && c.Experts == 64:
		return "SmallThinker-21B-A3B"
	}
	return fmt.Sprintf("SmallThinker (custom: %d layers, hidden %d, %d experts)", c.Layers, c.Embed, c.Experts)
}
