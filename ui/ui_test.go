package ui

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/widget"
)

// recorder is an Actions that records calls.
type recorder struct{ calls []string }

func (r *recorder) add(f string, a ...any)        { r.calls = append(r.calls, fmt.Sprintf(f, a...)) }
func (r *recorder) NewChat()                      { r.add("new") }
func (r *recorder) SelectConversation(id string)  { r.add("select %s", id) }
func (r *recorder) Search(q string)               { r.add("search %s", q) }
func (r *recorder) Rename(id, title string)       { r.add("rename %s %s", id, title) }
func (r *recorder) SetPinned(id string, p bool)   { r.add("pin %s %v", id, p) }
func (r *recorder) Delete(id string)              { r.add("delete %s", id) }
func (r *recorder) Send(text string)              { r.add("send %q", text) }
func (r *recorder) Stop()                         { r.add("stop") }
func (r *recorder) Regenerate()                   { r.add("regenerate") }
func (r *recorder) EditAndResend(i int, t string) { r.add("edit %d %q", i, t) }
func (r *recorder) SelectModel(id string)         { r.add("model %s", id) }
func (r *recorder) ImportModel(path string)       { r.add("import %s", path) }
func (r *recorder) SetBudget(b int64)             { r.add("budget %d", b) }
func (r *recorder) ApplySettings(s Settings)      { r.add("settings %+v", s) }
func (r *recorder) last() string {
	if len(r.calls) == 0 {
		return ""
	}
	return r.calls[len(r.calls)-1]
}

// laterQueue collects deferred UI work for the test goroutine to run.
type laterQueue struct{ fs []func() }

func (q *laterQueue) add(f func()) { q.fs = append(q.fs, f) }

func (q *laterQueue) run() int {
	n := 0
	for len(q.fs) > 0 {
		f := q.fs[0]
		q.fs = q.fs[1:]
		f()
		n++
	}
	return n
}

var testLater *laterQueue

func newTestMain(t *testing.T) (*Main, *recorder, fyne.Window) {
	a := test.NewTempApp(t)
	w := test.NewTempWindow(t, nil)
	r := &recorder{}
	m := New(a, w, r)
	testLater = &laterQueue{}
	m.SetLater(testLater.add)
	w.SetContent(m.Content())
	w.Resize(fyne.NewSize(1280, 800))
	return m, r, w
}

func TestComposerKeys(t *testing.T) {
	m, r, _ := newTestMain(t)
	c := m.composer
	tests := []struct {
		name    string
		sendKey string
		press   func()
		want    string // last action
		text    string // composer text afterwards
	}{
		{"enter sends", SendEnter, func() { c.TypedKey(&fyne.KeyEvent{Name: fyne.KeyReturn}) }, `send "hi"`, ""},
		{"shift+enter is a newline", SendEnter, func() {
			c.KeyDown(&fyne.KeyEvent{Name: desktop.KeyShiftLeft})
			c.TypedKey(&fyne.KeyEvent{Name: fyne.KeyReturn})
			c.KeyUp(&fyne.KeyEvent{Name: desktop.KeyShiftLeft})
		}, "", "hi\n"},
		{"ctrl+enter mode: enter is a newline", SendCtrlEnter, func() { c.TypedKey(&fyne.KeyEvent{Name: fyne.KeyReturn}) }, "", "hi\n"},
		{"ctrl+enter sends in either mode", SendCtrlEnter, func() {
			c.TypedShortcut(&desktop.CustomShortcut{KeyName: fyne.KeyReturn, Modifier: fyne.KeyModifierControl})
		}, `send "hi"`, ""},
		{"esc stops", SendEnter, func() { c.TypedKey(&fyne.KeyEvent{Name: fyne.KeyEscape}) }, "stop", "hi"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r.calls = nil
			s := m.settings
			s.SendKey = tt.sendKey
			m.SetSettings(s)
			c.SetText("")
			m.win.Canvas().Focus(c)
			test.Type(c, "hi")
			tt.press()
			if r.last() != tt.want {
				t.Errorf("action = %q, want %q", r.last(), tt.want)
			}
			if c.Text != tt.text {
				t.Errorf("composer text = %q, want %q", c.Text, tt.text)
			}
		})
	}
}

func TestBlankMessageIsNotSent(t *testing.T) {
	m, r, _ := newTestMain(t)
	m.composer.SetText("  \n ")
	m.composer.TypedKey(&fyne.KeyEvent{Name: fyne.KeyReturn})
	if len(r.calls) != 0 {
		t.Fatalf("blank message sent: %v", r.calls)
	}
	m.SetGenerating(true)
	m.composer.SetText("wait")
	m.composer.TypedKey(&fyne.KeyEvent{Name: fyne.KeyReturn})
	if len(r.calls) != 0 || m.composer.Text != "wait" {
		t.Fatalf("sent while generating: %v", r.calls)
	}
}

func TestWindowShortcuts(t *testing.T) {
	m, r, w := newTestMain(t)
	sc := w.Canvas().(fyne.Shortcutable)
	sc.TypedShortcut(&desktop.CustomShortcut{KeyName: fyne.KeyN, Modifier: fyne.KeyModifierShortcutDefault})
	if r.last() != "new" {
		t.Errorf("Ctrl+N: %q", r.last())
	}
	sc.TypedShortcut(&desktop.CustomShortcut{KeyName: fyne.KeyF, Modifier: fyne.KeyModifierShortcutDefault})
	if w.Canvas().Focused() != m.sidebar.search {
		t.Errorf("Ctrl+F did not focus search")
	}
	m.composer.SetText("x")
	sc.TypedShortcut(&desktop.CustomShortcut{KeyName: fyne.KeyReturn, Modifier: fyne.KeyModifierShortcutDefault})
	if r.last() != `send "x"` {
		t.Errorf("Ctrl+Enter: %q", r.last())
	}
}

func TestRowHeightsFollowContent(t *testing.T) {
	m, _, _ := newTestMain(t)
	long := strings.Repeat("A sentence that wraps across the chat column. ", 40)
	m.SetMessages([]Message{
		{ID: "1", Role: RoleUser, Content: "short"},
		{ID: "2", Role: RoleAssistant, Content: long},
		{ID: "3", Role: RoleAssistant, Content: "<think>" + long + "</think>Answer"},
		{ID: "4", Role: RoleAssistant, Content: "Code:\n```go\nfunc main() {}\n```\n"},
	})
	h := m.chat.heights
	if !(h[1].h > 3*h[0].h) {
		t.Fatalf("long message row %.0f not much taller than a short one %.0f", h[1].h, h[0].h)
	}
	collapsed := h[2].h
	if collapsed >= h[1].h {
		t.Fatalf("collapsed thinking (%.0f) should be shorter than the same text shown (%.0f)", collapsed, h[1].h)
	}
	testLater.run()
	m.chat.toggleThinking("3")
	if m.chat.heights[2].h <= collapsed+h[0].h {
		t.Fatalf("expanding thinking did not grow the row: %.0f -> %.0f", collapsed, m.chat.heights[2].h)
	}
	// Narrower window: text re-wraps, rows grow.
	before := m.chat.heights[1].h
	m.chat.Resize(fyne.NewSize(m.chat.Size().Width/2, m.chat.Size().Height))
	if m.chat.heights[1].h <= before {
		t.Fatalf("row did not grow when the width halved: %.0f -> %.0f", before, m.chat.heights[1].h)
	}
}

// A 1,000-message conversation opens without measuring every row up front
// (older rows are measured later, in the background), and only a screenful
// of rows is ever built.
func TestThousandMessages(t *testing.T) {
	m, _, _ := newTestMain(t)
	msgs := make([]Message, 1000)
	for i := range msgs {
		role := RoleUser
		if i%2 == 1 {
			role = RoleAssistant
		}
		msgs[i] = Message{ID: fmt.Sprint(i), Role: role, Content: fmt.Sprintf("Message %d with **bold** and `code`. %s", i, strings.Repeat("word ", i%50))}
	}
	start := time.Now()
	m.SetMessages(msgs)
	t.Logf("1000 messages shown in %v", time.Since(start))
	measured := 0
	for _, h := range m.chat.heights {
		if h.exact {
			measured++
		}
	}
	if measured == 0 || measured > 100 {
		t.Fatalf("%d of 1000 rows measured before the chat is shown: opening a long chat must not lay out every row", measured)
	}
	start = time.Now()
	passes := testLater.run()
	t.Logf("older rows measured in the background: %d passes, %v", passes, time.Since(start))
	for i, h := range m.chat.heights {
		if !h.exact {
			t.Fatalf("row %d never measured", i)
		}
	}
	rows := 0
	for _, o := range test.LaidOutObjects(m.chat.list) {
		if _, ok := o.(*messageRow); ok {
			rows++
		}
	}
	if rows == 0 || rows > 60 {
		t.Fatalf("%d message rows built for 1000 messages: the list is not virtualised", rows)
	}
	start = time.Now()
	for i := 0; i < 100; i++ {
		m.chat.list.ScrollToOffset(float32(i) * 500)
	}
	t.Logf("100 scroll steps in %v", time.Since(start))
}

func TestStreamingUpdatesOnlyTheLastRow(t *testing.T) {
	m, r, _ := newTestMain(t)
	m.SetMessages([]Message{{ID: "u", Role: RoleUser, Content: "q"}})
	m.SetGenerating(true)
	m.UpdateMessage(1, Message{ID: "a", Role: RoleAssistant, Streaming: true})
	for _, s := range []string{"Hel", "Hello", "Hello **wor", "Hello **world**"} {
		m.UpdateMessage(1, Message{ID: "a", Role: RoleAssistant, Content: s, Streaming: true})
	}
	if !m.stop.Visible() || m.send.Visible() {
		t.Fatal("Stop should show while generating")
	}
	if findButton(m.chat.list, "Regenerate") != nil || findButton(m.chat.list, "Edit") != nil {
		t.Fatal("Edit/Regenerate offered while generating")
	}
	m.UpdateMessage(1, Message{ID: "a", Role: RoleAssistant, Content: "Hello **world**", Stopped: true, Status: "5 tokens"})
	m.SetGenerating(false)
	if got := m.ShownMessages()[1]; !got.Stopped || got.Content != "Hello **world**" {
		t.Fatalf("final message %+v", got)
	}
	b := findButton(m.chat.list, "Regenerate")
	if b == nil {
		t.Fatal("no Regenerate on the last reply")
	}
	test.Tap(b)
	if r.last() != "regenerate" {
		t.Fatalf("Regenerate tapped: %q", r.last())
	}
	if !strings.Contains(labelTexts(m.chat.list), "Stopped · 5 tokens") {
		t.Fatalf("stopped reply not marked: %q", labelTexts(m.chat.list))
	}
}

func TestCopyButtons(t *testing.T) {
	m, _, _ := newTestMain(t)
	m.SetMessages([]Message{{ID: "a", Role: RoleAssistant, Content: "<think>hmm</think>See:\n```sh\nls -l\n```"}})
	test.Tap(findButton(m.chat.list, "Copy code"))
	if got := m.app.Clipboard().Content(); got != "ls -l" {
		t.Fatalf("code copy = %q", got)
	}
	test.Tap(findButton(m.chat.list, "Copy"))
	if got := m.app.Clipboard().Content(); got != "See:\n```sh\nls -l\n```" {
		t.Fatalf("message copy = %q (thinking must be left out)", got)
	}
}

func TestDeleteAsksFirst(t *testing.T) {
	m, r, w := newTestMain(t)
	m.SetConversations([]Conversation{{ID: "c1", Title: "Plans"}}, "", false)
	m.sidebar.confirmDelete(m.sidebar.convs[0])
	test.Tap(findButton(w.Canvas().Overlays().Top(), "No"))
	if len(r.calls) != 0 {
		t.Fatalf("cancelled delete still acted: %v", r.calls)
	}
	m.sidebar.confirmDelete(m.sidebar.convs[0])
	test.Tap(findButton(w.Canvas().Overlays().Top(), "Delete"))
	if r.last() != "delete c1" {
		t.Fatalf("confirmed delete: %v", r.calls)
	}
}

func TestSettingsDialog(t *testing.T) {
	m, r, w := newTestMain(t)
	m.SetSettings(Settings{Temperature: 0.6, TopK: 20, TopP: 0.95, RepetitionPenalty: 1, ContextLength: 4096, Theme: ThemeSystem, SendKey: SendEnter})
	m.showSettings()
	f := m.settingsForm
	f.system.SetText("Be brief.")
	f.temp.SetText("0.2")
	f.ctxLen.SetText("8192")
	f.theme.SetSelected("Dark")
	f.sendKey.SetSelected(sendLabels[SendCtrlEnter])
	test.Tap(findButton(w.Canvas().Overlays().Top(), "Save"))
	want := fmt.Sprintf("settings %+v", Settings{SystemPrompt: "Be brief.", Temperature: 0.2, TopK: 20, TopP: 0.95,
		RepetitionPenalty: 1, ContextLength: 8192, Theme: ThemeDark, SendKey: SendCtrlEnter})
	if r.last() != want {
		t.Fatalf("got  %s\nwant %s", r.last(), want)
	}

	// An invalid value keeps Save disabled.
	m.showSettings()
	m.settingsForm.temp.SetText("hot")
	save := findButton(w.Canvas().Overlays().Top(), "Save")
	if !save.Disabled() {
		t.Fatal("Save enabled with an invalid temperature")
	}
}

func TestBudgetPanel(t *testing.T) {
	m, r, _ := newTestMain(t)
	if !m.models.slider.Disabled() {
		t.Fatal("slider enabled with no model")
	}
	const gb = 1 << 30
	m.SetBudget(Budget{Min: gb, Max: 4 * gb, Value: 2 * gb, Resident: gb / 2, ExpertCache: gb, ExpertTotal: 3 * gb,
		KVCache: gb / 4, Scratch: gb / 4, ContextLength: 4096, FreeRAM: 8 * gb, Enabled: true})
	if len(r.calls) != 0 {
		t.Fatalf("showing a budget must not apply one: %v", r.calls)
	}
	if got := m.models.rows["Expert cache"].Text; got != "1.00 GB (33%)" {
		t.Errorf("expert row = %q", got)
	}
	if got := m.models.rows["Total"].Text; got != "2.00 GB" {
		t.Errorf("total row = %q", got)
	}
	if m.models.entry.Text != "2.00" {
		t.Errorf("entry = %q", m.models.entry.Text)
	}
	m.models.slider.SetValue(3 * 1024 * 1024) // KiB
	if r.last() != fmt.Sprintf("budget %d", 3*int64(gb)) {
		t.Fatalf("slider: %v", r.calls)
	}
	m.models.entry.SetText("2.5")
	m.models.entry.OnSubmitted("2.5")
	if r.last() != fmt.Sprintf("budget %d", int64(2.5*gb)) {
		t.Fatalf("entry: %v", r.calls)
	}
	m.models.entry.OnSubmitted("99")
	if r.last() != fmt.Sprintf("budget %d", int64(4*gb)) {
		t.Fatalf("entry above max not clamped: %v", r.calls)
	}
}

func TestModelPicker(t *testing.T) {
	m, r, _ := newTestMain(t)
	m.SetModels([]ModelChoice{
		{ID: "a", Name: "SmallThinker 4B", Installed: true, Size: 2 << 30, Quant: "Q4_0"},
		{ID: "b", Name: "SmallThinker 21B", Size: 12 << 30, Quant: "Q4_0"},
	}, "a")
	if len(r.calls) != 0 {
		t.Fatalf("showing models selected one: %v", r.calls)
	}
	if !strings.Contains(m.models.details.Text, "Installed") || !strings.Contains(m.models.details.Text, "Q4_0") {
		t.Errorf("details = %q", m.models.details.Text)
	}
	opts := m.models.pick.Options
	if len(opts) != 2 || !strings.Contains(opts[1], "not installed") || !strings.Contains(opts[0], "2.00 GB") {
		t.Fatalf("options %q", opts)
	}
	m.models.pick.SetSelected(opts[1])
	if r.last() != "model b" {
		t.Fatalf("picking: %v", r.calls)
	}
}

func findButton(o fyne.CanvasObject, text string) *widget.Button {
	if o == nil || !o.Visible() {
		return nil
	}
	if b, ok := o.(*widget.Button); ok && b.Text == text {
		return b
	}
	for _, k := range children(o) {
		if b := findButton(k, text); b != nil {
			return b
		}
	}
	return nil
}

func children(o fyne.CanvasObject) []fyne.CanvasObject {
	switch v := o.(type) {
	case *fyne.Container:
		return v.Objects
	case fyne.Widget:
		return test.WidgetRenderer(v).Objects()
	}
	return nil
}

func labelTexts(o fyne.CanvasObject) string {
	var b strings.Builder
	var walk func(fyne.CanvasObject)
	walk = func(o fyne.CanvasObject) {
		if o == nil || !o.Visible() {
			return
		}
		if t, ok := o.(*canvas.Text); ok {
			b.WriteString(t.Text + "\n")
		}
		for _, k := range children(o) {
			walk(k)
		}
	}
	walk(o)
	return b.String()
}

// With the demo model loaded the panel offers the real model in one click.
func TestDemoOffersRealModel(t *testing.T) {
	m, r, _ := newTestMain(t)
	m.SetModels([]ModelChoice{
		{ID: "demo", Name: "Demo model (built in)", Installed: true, Note: "demo: random weights"},
		{ID: "catalog:4b", Name: "SmallThinker 4B", Size: 2 << 30, Quant: "Q4_0"},
	}, "demo")
	if !m.models.getB.Visible() || !strings.Contains(m.models.getB.Text, "SmallThinker 4B") {
		t.Fatalf("no get-the-real-model button with the demo loaded (visible %v, %q)", m.models.getB.Visible(), m.models.getB.Text)
	}
	test.Tap(m.models.getB)
	if got := r.last(); got != "model catalog:4b" {
		t.Fatalf("button did %q, want the catalog model selected", got)
	}
	m.SetModels([]ModelChoice{{ID: "real", Name: "SmallThinker 4B", Installed: true}}, "real")
	if m.models.getB.Visible() {
		t.Fatal("button still shown with a real model loaded")
	}
}
