// Package ui is SmallThinker Chat's windows and widgets. It only displays
// state and forwards what the user does to an Actions implementation (the app
// package); it never touches the engine, the disk or the history itself.
//
// Every exported method of Main must be called on the Fyne goroutine (from a
// callback, or through fyne.Do).
package ui

import "time"

// Roles of a message, the same strings the engine and the history use.
const (
	RoleUser      = "user"
	RoleAssistant = "assistant"
	RoleSystem    = "system"
)

// Message is one chat turn as the chat view shows it.
type Message struct {
	ID        string // stable key: heights are cached per ID and content
	Role      string
	Content   string // raw model text; may contain <think>…</think> and Markdown
	Thinking  string // reasoning stored apart from Content (shown like a <think> block)
	Status    string // the reply's stats line ("21.4 tok/s · first token 0.31 s · …")
	Stopped   bool   // generation was stopped before the model finished
	Streaming bool   // tokens are still arriving
	Error     string // generation failed; shown under the text
}

// Conversation is one row of the sidebar.
type Conversation struct {
	ID      string
	Title   string
	Pinned  bool
	Updated time.Time
	Snippet string // search results: the text around the match
}

// ModelChoice is one entry of the model picker.
type ModelChoice struct {
	ID        string
	Name      string
	Installed bool
	Size      int64  // bytes on disk (or the download size when not installed)
	Quant     string // e.g. Q4_0
	Note      string // e.g. "demo", "imported"
}

// Budget is what the memory panel shows: the slider's range and value and
// what the chosen budget buys.
type Budget struct {
	Min, Max, Value int64 // bytes
	Resident        int64 // dense weights always in RAM
	ExpertCache     int64 // bytes of experts the budget keeps in RAM
	ExpertTotal     int64 // bytes of all experts
	KVCache         int64 // for the chosen context length
	Scratch         int64
	ContextLength   int
	FreeRAM         int64 // the machine's available memory; 0 = unknown
	Enabled         bool  // a model is loaded
}

// Settings are the user's generation and app preferences.
type Settings struct {
	SystemPrompt      string
	Temperature       float64
	TopK              int
	TopP              float64
	RepetitionPenalty float64
	MaxTokens         int // 0 = until the model stops
	Threads           int // 0 = all cores
	ContextLength     int
	Theme             string // ThemeSystem, ThemeLight or ThemeDark
	SendKey           string // SendEnter or SendCtrlEnter
}

// Theme and send-key choices.
const (
	ThemeSystem   = "system"
	ThemeLight    = "light"
	ThemeDark     = "dark"
	SendEnter     = "enter"      // Enter sends, Shift+Enter is a newline
	SendCtrlEnter = "ctrl+enter" // Enter is a newline, Ctrl/Cmd+Enter sends
)

// Actions is what the window asks of the app. Every call comes on the Fyne
// goroutine and must return quickly: slow work belongs on the app's own
// goroutines, which report back through Main's methods.
type Actions interface {
	NewChat()
	SelectConversation(id string)
	Search(query string) // "" clears the search
	Rename(id, title string)
	SetPinned(id string, pinned bool)
	Delete(id string)

	Send(text string)
	Stop()
	Regenerate()
	EditAndResend(index int, text string) // index into the shown messages

	SelectModel(id string)
	ImportModel(path string)
	SetBudget(bytes int64)
	ApplySettings(Settings)
}
