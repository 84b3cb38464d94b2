package modelgen

import (
	"testing"

	"smallthinker/inference/tokenizer"
	"smallthinker/weights/gguf"
)

// The engine's tokenizer must load the generated vocabulary, round-trip text,
// compress English with the learned merges and find the ChatML specials.
func TestEngineTokenizerRoundTrip(t *testing.T) {
	f := parse(t, generate(t, Options{Preset: "tiny", Type: gguf.Q8_0}))
	tok, err := tokenizer.FromGGUF(f)
	if err != nil {
		t.Fatal(err)
	}
	v := TinyVocab()
	if tok.EOS() != v.EOS || !tok.IsEOG(v.EOS) {
		t.Errorf("eos %d (eog %v), want %d", tok.EOS(), tok.IsEOG(v.EOS), v.EOS)
	}
	for _, text := range []string{
		"Hello! How can I help you today?",
		"Tom said he would paint the fence, and he did it well.",
		"Numbers 12345, symbols #$%^&*() and unicode: naïve café 日本語 🙂\n\n\tend  ",
	} {
		ids := tok.Encode(text, false)
		if got := tok.Decode(ids); got != text {
			t.Errorf("round trip %q -> %q", text, got)
		}
		if ref := bpeEncode(v, text); text[0] == 'T' && len(ids) > len(text)/2 {
			t.Errorf("%d tokens for %d bytes (reference BPE: %d): merges do not apply", len(ids), len(text), len(ref))
		}
	}
	prompt := "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"
	ids := tok.Encode(prompt, true)
	if ids[0] != v.BOS+1 || tok.Decode(ids) != prompt {
		t.Errorf("ChatML prompt ids %v", ids)
	}
}
