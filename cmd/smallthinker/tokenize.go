package main

import (
	"encoding/json"
	"fmt"
	"os"

	"smallthinker/inference/tokenizer"
	"smallthinker/weights/gguf"
)

func init() {
	register(&command{name: "tokenize", summary: "print the token ids of a text as a JSON array", run: runTokenize})
}

// runTokenize implements `smallthinker tokenize --model M [--no-special] [--] TEXT`.
// Only the GGUF header is read, never the weights.
func runTokenize(args []string) error {
	fs := newFlags("tokenize")
	model := fs.String("model", "", "GGUF model file whose tokenizer to use (required)")
	noSpecial := fs.Bool("no-special", false, "tokenize control-token text such as <|im_start|> as plain text")
	fs.Usage = func() {
		fmt.Fprintln(fs.Output(), "usage: smallthinker tokenize --model MODEL.gguf [--no-special] [--] TEXT")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *model == "" || fs.NArg() != 1 {
		fs.Usage()
		return errUsage
	}
	f, err := gguf.Open(*model)
	if err != nil {
		return err
	}
	defer f.Close()
	tok, err := tokenizer.FromGGUF(f)
	if err != nil {
		return err
	}
	ids := tok.Encode(fs.Arg(0), !*noSpecial)
	if ids == nil {
		ids = []int{}
	}
	out, err := json.Marshal(ids)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(os.Stdout, "%s\n", out)
	return err
}
