package app

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/test"

	"smallthinker/history"
	"smallthinker/inference"
	"smallthinker/ui"
)

func testSettings(maxTokens int) ui.Settings {
	s := DefaultSettings()
	s.Temperature = 0 // greedy: the same reply every run
	s.MaxTokens = maxTokens
	s.ContextLength = 1024
	s.Threads = 2
	return s
}

func (h *harness) waitModel() {
	h.waitFor("the model to load", func() bool { return h.c.model != nil })
}

func (h *harness) send(text string) {
	h.t.Helper()
	p := h.parts()
	h.win.Canvas().Focus(p.Composer)
	test.Type(p.Composer, text)
	p.Composer.TypedKey(&fyne.KeyEvent{Name: fyne.KeyReturn})
}

func (h *harness) waitIdle() {
	h.waitFor("the reply to finish", h.idle)
}

func (h *harness) storedMessages() []history.Message {
	h.t.Helper()
	msgs, err := h.store.Messages(h.c.conv)
	if err != nil {
		h.t.Fatal(err)
	}
	return msgs
}

// TestChatEndToEnd drives the real window with the real engine (the built-in
// demo model, generated into a temp dir) and the real history store.
func TestChatEndToEnd(t *testing.T) {
	dir := t.TempDir()
	h := newHarness(t, dir, testSettings(100000))
	h.waitModel()

	// Type, press Enter: the message is stored, a reply streams in.
	h.send("Hello there")
	if got := h.parts().Composer.Text; got != "" {
		t.Fatalf("composer not cleared after send: %q", got)
	}
	h.waitFor("streamed text", func() bool {
		m := h.messages()
		return len(m) == 2 && m[1].Streaming && len(m[1].Content) > 0
	})
	if !h.parts().Stop.Visible() || h.parts().Send.Visible() {
		t.Fatal("Stop should replace Send while generating")
	}
	if st := h.parts().Status.Text; !strings.Contains(st, "context") {
		t.Errorf("live status %q lacks the context meter", st)
	}

	// Stop mid-reply (Esc in the composer): the partial reply is kept, marked stopped.
	h.parts().Composer.TypedKey(&fyne.KeyEvent{Name: fyne.KeyEscape})
	h.waitIdle()
	shown := h.messages()
	if len(shown) != 2 || !shown[1].Stopped || shown[1].Content == "" {
		t.Fatalf("after Stop: %+v", shown)
	}
	stored := h.storedMessages()
	if len(stored) != 2 || stored[0].Text != "Hello there" || stored[1].StopReason != string(inference.StopCancelled) ||
		stored[1].Text != shown[1].Content || stored[1].Incomplete {
		t.Fatalf("history after Stop: %+v", stored)
	}

	// Shorter replies from here on.
	h.c.ApplySettings(testSettings(24))
	h.waitModel()

	// Regenerate replaces the last reply.
	h.tap("Regenerate")
	h.waitFor("regeneration to start", func() bool { return h.c.gen != nil })
	h.waitIdle()
	shown = h.messages()
	if len(shown) != 2 || shown[1].Stopped || shown[1].Content == "" {
		t.Fatalf("after Regenerate: %+v", shown)
	}
	if s := h.storedMessages(); len(s) != 2 || s[1].StopReason == string(inference.StopCancelled) {
		t.Fatalf("history after Regenerate: %+v", s)
	}

	// Edit the question and resend.
	h.tap("Edit")
	h.waitFor("the edit dialog", func() bool { return h.parts().EditEntry != nil })
	h.parts().EditEntry.SetText("What is 2+2?")
	h.tap("Send")
	h.waitFor("the edited reply", func() bool {
		m := h.messages()
		return h.idle() && len(m) == 2 && m[0].Content == "What is 2+2?" && !m[1].Streaming
	})
	if s := h.storedMessages(); len(s) != 2 || s[0].Text != "What is 2+2?" {
		t.Fatalf("history after Edit: %+v", s)
	}
	first := h.c.conv

	// Ctrl+N starts a new chat; send there.
	h.win.Canvas().(fyne.Shortcutable).TypedShortcut(&desktop.CustomShortcut{KeyName: fyne.KeyN, Modifier: fyne.KeyModifierShortcutDefault})
	h.waitFor("an empty chat", func() bool { return len(h.messages()) == 0 })
	h.send("Second conversation")
	h.waitFor("the second reply", func() bool { return h.idle() && len(h.messages()) == 2 })
	second := h.c.conv
	if second == first {
		t.Fatal("New chat reused the first conversation")
	}
	h.waitFor("two chats in the sidebar", func() bool { return len(h.view.ShownConversations()) == 2 })
	if c := h.view.ShownConversations(); c[0].ID != second.String() || c[0].Title != "Second conversation" {
		t.Fatalf("sidebar (newest first): %+v", c)
	}

	// Switch back by selecting the first chat in the sidebar.
	h.parts().Conversations.Select(1)
	h.waitFor("the first chat", func() bool {
		m := h.messages()
		return h.c.conv == first && len(m) == 2 && m[0].Content == "What is 2+2?"
	})

	// Search filters the sidebar (by title and message text).
	test.Type(h.parts().Search, "Second")
	h.waitFor("search results", func() bool {
		c := h.view.ShownConversations()
		return len(c) == 1 && c[0].ID == second.String()
	})
	h.parts().Search.SetText("")
	h.waitFor("the full list", func() bool { return len(h.view.ShownConversations()) == 2 })

	// Rename through the row's menu and dialog.
	h.openRowMenu("Hello there") // titled by its first message
	h.tap("Rename…")
	h.waitFor("the rename dialog", func() bool { return h.parts().RenameEntry != nil })
	h.parts().RenameEntry.SetText("Arithmetic")
	h.tap("Rename")
	h.waitFor("the renamed chat", func() bool {
		cv, err := h.store.Conversation(first)
		return err == nil && cv.Title == "Arithmetic" && len(h.view.ShownConversations()) == 2 &&
			h.view.ShownConversations()[1].Title == "Arithmetic"
	})

	// Pin moves it to the top.
	h.openRowMenu("Arithmetic")
	h.tap("Pin")
	h.waitFor("the pinned chat on top", func() bool {
		c := h.view.ShownConversations()
		return len(c) == 2 && c[0].ID == first.String() && c[0].Pinned
	})

	// Delete asks first; confirming removes it from the store.
	h.openRowMenu("Second conversation")
	h.tap("Delete…")
	h.tap("Delete")
	h.waitFor("one chat left", func() bool { return len(h.view.ShownConversations()) == 1 })
	if _, err := h.store.Conversation(second); err == nil {
		t.Fatal("deleted conversation still in history")
	}
}

// TestBudgetSliderAndReopen: moving the slider changes the engine's budget
// live, the budget is remembered per model, and the app reopens where the
// user left off.
func TestBudgetSliderAndReopen(t *testing.T) {
	dir := t.TempDir()
	h := newHarness(t, dir, testSettings(8))
	h.waitModel()
	engine := engineModel(h.c.model)
	slider := h.parts().Budget
	if slider.Disabled() || slider.Min <= 0 || slider.Max <= slider.Min {
		t.Fatalf("slider not set up for the loaded model: min %v max %v disabled %v", slider.Min, slider.Max, slider.Disabled())
	}
	info := engine.Info()
	if int64(slider.Max) < info.MaxBudget>>10 || int64(slider.Min) > info.MinBudget>>10+1 {
		t.Fatalf("slider range %v..%v MB, model needs %d..%d bytes", slider.Min, slider.Max, info.MinBudget, info.MaxBudget)
	}
	before := engine.Budget()
	slider.SetValue((slider.Min + slider.Max) / 2)
	target := slider.Value // as the slider's step left it
	want := max(info.MinBudget, int64(target)<<10)
	h.waitFor("the engine's budget to change", func() bool { return engine.Budget() == want })
	if engine.Budget() == before {
		t.Fatal("budget unchanged")
	}
	if got := engine.Breakdown(want); got.ExpertCache >= got.ExpertTotal {
		t.Fatalf("a mid budget should not hold every expert: %+v", got)
	}
	h.waitFor("the budget to be remembered", func() bool { return h.c.cfg.Budgets[h.c.modelPath] == want })

	// The numeric field applies too.
	h.parts().BudgetEntry.SetText("1000") // GB: clamped to everything in RAM
	h.parts().BudgetEntry.OnSubmitted(h.parts().BudgetEntry.Text)
	h.waitFor("the full budget", func() bool { return engine.Budget() == info.MaxBudget })
	slider.SetValue(target)
	h.waitFor("the mid budget again", func() bool { return engine.Budget() == want })

	h.send("Remember me")
	h.waitFor("the reply", func() bool { return h.idle() && len(h.messages()) == 2 })
	conv := h.c.conv
	h.close()

	// Reopen: same conversation shown, same model, same budget.
	h2 := newHarness(t, dir, ui.Settings{})
	h2.waitModel()
	h2.waitFor("the last conversation", func() bool {
		m := h2.messages()
		return h2.c.conv == conv && len(m) == 2 && m[0].Content == "Remember me"
	})
	if got := engineModel(h2.c.model).Budget(); got != want {
		t.Fatalf("budget after reopening = %d, want %d", got, want)
	}
	if got := h2.c.cfg.Settings.MaxTokens; got != 8 {
		t.Fatalf("settings not remembered: max tokens %d", got)
	}
}

// Switching chats mid-reply stops the reply, keeps it in its own chat and
// never blocks the UI goroutine on the engine.
func TestSwitchChatMidReply(t *testing.T) {
	h := newHarness(t, t.TempDir(), testSettings(8))
	h.waitModel()
	h.send("First chat")
	h.waitFor("the first reply", func() bool { return h.idle() && len(h.messages()) == 2 })
	first := h.c.conv

	h.c.ApplySettings(testSettings(100000))
	h.waitModel()
	h.tap("New chat")
	h.send("Long answer please")
	h.waitFor("streaming", func() bool {
		m := h.messages()
		return len(m) == 2 && m[1].Streaming && m[1].Content != ""
	})
	second := h.c.conv
	start := time.Now()
	h.c.SelectConversation(first.String())
	// The other chat's reply runs until cancelled (100,000 tokens): a switch that
	// waited for it would take far longer than this bound.
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("switching chats blocked the UI goroutine for %v", d)
	}
	h.waitFor("the first chat, idle", func() bool {
		m := h.messages()
		return h.idle() && h.c.conv == first && len(m) == 2 && m[0].Content == "First chat"
	})
	msgs, err := h.store.Messages(second)
	if err != nil || len(msgs) != 2 || msgs[1].StopReason != string(inference.StopCancelled) || msgs[1].Text == "" {
		t.Fatalf("the interrupted reply should be kept, stopped, in its chat: %v %+v", err, msgs)
	}
	if m := h.messages(); m[1].Content == msgs[1].Text {
		t.Fatal("the other chat's reply leaked into this one")
	}
}

// Importing a GGUF from elsewhere lists it, loads it (unloading the demo
// model) and chats with it: here the shared tiny test model.
func TestImportTinyModelAndChat(t *testing.T) {
	src, err := filepath.Abs(filepath.Join("..", "..", "shared", "testdata", "models", "tiny-swa-sigmoid-q4_0.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(src); err != nil {
		t.Skipf("shared test model absent (%v)", err)
	}
	h := newHarness(t, t.TempDir(), testSettings(16))
	h.waitModel()
	demo := h.c.model
	h.c.ImportModel(src)
	h.waitFor("the imported model to load", func() bool { return h.c.model != nil && h.c.model != demo })
	if got := h.c.model.Info().Path; got != src {
		t.Fatalf("loaded %s, want the imported %s", got, src)
	}
	found := false
	for _, o := range h.parts().ModelPicker.Options {
		if strings.Contains(o, "Q4_0") && !strings.Contains(o, "Demo") && !strings.Contains(o, "not installed") {
			found = true
		}
	}
	if !found {
		t.Fatalf("imported model not in the picker: %q", h.parts().ModelPicker.Options)
	}
	h.send("Hi")
	h.waitFor("a reply from the tiny model", func() bool {
		m := h.messages()
		return h.idle() && len(m) == 2 && !m[1].Streaming
	})
	if s := h.storedMessages(); len(s) != 2 || s[1].Model == "" {
		t.Fatalf("stored: %+v", s)
	}

	// Switching back to the demo model through the picker unloads the tiny one.
	for _, o := range h.parts().ModelPicker.Options {
		if strings.Contains(o, "Demo") {
			h.parts().ModelPicker.SetSelected(o)
		}
	}
	h.waitFor("the demo model again", func() bool { return h.c.model != nil && h.c.model.Info().Path != src })
}
