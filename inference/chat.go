package inference

import "strings"

// RenderChatML formats messages in ChatML, the SmallThinker (Qwen2-family)
// chat format, optionally ending with the assistant generation prompt:
//
//	<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n
func RenderChatML(msgs []Message, addGenerationPrompt bool) string {
	var b strings.Builder
	for _, m := range msgs {
		b.WriteString("<|im_start|>")
		b.WriteString(m.Role)
		b.WriteByte('\n')
		b.WriteString(m.Content)
		b.WriteString("<|im_end|>\n")
	}
	if addGenerationPrompt {
		b.WriteString("<|im_start|>assistant\n")
	}
	return b.String()
}
