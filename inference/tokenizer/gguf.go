package tokenizer

import (
	"errors"
	"fmt"

	"smallthinker/weights/gguf"
)

// FromGGUF builds the tokenizer stored in a GGUF file's metadata. Only the
// header is read; tensor data is untouched.
func FromGGUF(f *gguf.File) (*Tokenizer, error) {
	model, err := f.String("tokenizer.ggml.model")
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	if model != "gpt2" {
		return nil, fmt.Errorf("tokenizer: model %q is not supported (only byte-level BPE, \"gpt2\")", model)
	}
	opts := Options{BOS: NoToken, EOS: NoToken, Pad: NoToken}
	pre, err := f.String("tokenizer.ggml.pre")
	switch {
	case errors.Is(err, gguf.ErrMissing):
		// llama.cpp uses its "default" pre-tokenizer here; Qwen2 files always set it.
		return nil, errors.New(`tokenizer: GGUF has no "tokenizer.ggml.pre"; cannot choose a pre-tokenizer`)
	case err != nil:
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	opts.Pre = pre
	tokens, err := f.Strings("tokenizer.ggml.tokens")
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	var types []int32
	if f.Has("tokenizer.ggml.token_type") {
		raw, err := f.Ints("tokenizer.ggml.token_type")
		if err != nil {
			return nil, fmt.Errorf("tokenizer: %w", err)
		}
		types = make([]int32, len(raw))
		for i, v := range raw {
			types[i] = int32(max(min(v, 1<<30), -1)) // New rejects anything out of range

		}
	}
	merges, err := f.Strings("tokenizer.ggml.merges")
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	for key, dst := range map[string]*int{
		"tokenizer.ggml.bos_token_id":     &opts.BOS,
		"tokenizer.ggml.eos_token_id":     &opts.EOS,
		"tokenizer.ggml.padding_token_id": &opts.Pad,
	} {
		if id, ok, err := optionalID(f, key); err != nil {
			return nil, err
		} else if ok {
			*dst = id
		}
	}
	for _, key := range []string{"tokenizer.ggml.eot_token_id", "tokenizer.ggml.eom_token_id"} {
		if id, ok, err := optionalID(f, key); err != nil {
			return nil, err
		} else if ok {
			opts.ExtraEOG = append(opts.ExtraEOG, id)
		}
	}
	return New(tokens, types, merges, opts)
}

func optionalID(f *gguf.File, key string) (int, bool, error) {
	v, err := f.Uint32(key)
	if errors.Is(err, gguf.ErrMissing) {
		return 0, false, nil
	}
	if err != nil {
		return 0, false, fmt.Errorf("tokenizer: %w", err)
	}
	return int(v), true, nil
}
