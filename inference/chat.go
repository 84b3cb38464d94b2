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

// EncodeChat tokenizes msgs as ChatML plus the generation prompt. The turn
// markers are inserted as token ids and the text between them is encoded with
// special-token parsing off, so a message that contains "<|im_end|>" cannot
// forge a turn. For ordinary text the result equals encoding RenderChatML's
// output with special tokens parsed.
func (m *Model) EncodeChat(msgs []Message) []int {
	start, ok1 := m.Tok.TokenID("<|im_start|>")
	end, ok2 := m.Tok.TokenID("<|im_end|>")
	if !ok1 || !ok2 {
		return m.Tok.Encode(RenderChatML(msgs, true), true)
	}
	var ids []int
	for _, msg := range msgs {
		ids = append(ids, start)
		ids = append(ids, m.Tok.Encode(msg.Role+"\n"+msg.Content, false)...)
		ids = append(ids, end)
		ids = append(ids, m.Tok.Encode("\n", false)...)
	}
	ids = append(ids, start)
	return append(ids, m.Tok.Encode(RoleAssistant+"\n", false)...)
}
