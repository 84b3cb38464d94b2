package quant

import (
	"fmt"
	"slices"
	"strings"

	"smallthinker/weights/gguf"
)

// TypeByName maps a user-facing type name ("q4_k", "Q8_0", "bf16") to the
// tensor type, accepting only types QuantizeRow can write, so a command like
// `gen-model --type` can reject the rest with a useful message.
func TypeByName(name string) (gguf.TensorType, error) {
	t, err := gguf.ParseTensorType(strings.TrimSpace(name))
	if err == nil && CanQuantize(t) && t != gguf.Q8_1 && t != gguf.Q8_K {
		return t, nil
	}
	return 0, fmt.Errorf("unknown or unsupported weight type %q (supported: %s)", name, strings.Join(WritableTypeNames(), ", "))
}

// WritableTypeNames lists, lower-case and sorted by type id, the weight types
// QuantizeRow can write (the activation-only Q8_1 and Q8_K excluded).
func WritableTypeNames() []string {
	var ts []gguf.TensorType
	for t := range quantizers {
		if t != gguf.Q8_1 && t != gguf.Q8_K {
			ts = append(ts, t)
		}
	}
	slices.Sort(ts)
	names := make([]string, len(ts))
	for i, t := range ts {
		names[i] = strings.ToLower(t.String())
	}
	return names
}
