package ui

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// Main is the main window's content: conversations on the left, the chat in
// the middle, the model and its memory budget on the right.
type Main struct {
	app     fyne.App
	win     fyne.Window
	actions Actions

	sidebar  *sidebar
	chat     *chatView
	composer *Composer
	send     *widget.Button
	stop     *widget.Button
	status   *widget.Label
	models   *modelPanel
	settings Settings

	generating bool

	// the most recent dialogs, for tests that drive them
	editDialog     *widget.Entry
	renameEntry    *widget.Entry
	settingsForm   *settingsForm
	settingsDialog dialog.Dialog

	root fyne.CanvasObject
}

// New builds the window content and installs the keyboard shortcuts on w.
func New(a fyne.App, w fyne.Window, actions Actions) *Main {
	m := &Main{app: a, win: w, actions: actions}
	m.sidebar = newSidebar(m)
	m.chat = newChatView(m)
	m.models = newModelPanel(m)

	m.composer = newComposer()
	m.composer.SetMinRowsVisible(3)
	m.composer.OnSend = m.submit
	m.composer.OnStop = func() { m.actions.Stop() }
	m.send = widget.NewButtonWithIcon("Send", theme.MailSendIcon(), func() { m.submit(m.composer.Text) })
	m.send.Importance = widget.HighImportance
	m.stop = widget.NewButtonWithIcon("Stop", theme.MediaStopIcon(), func() { m.actions.Stop() })
	m.stop.Importance = widget.DangerImportance
	m.stop.Hide()
	m.status = widget.NewLabel("")
	m.status.SizeName = theme.SizeNameCaptionText
	m.status.Truncation = fyne.TextTruncateEllipsis
	settingsBtn := widget.NewButtonWithIcon("Settings", theme.SettingsIcon(), m.showSettings)
	settingsBtn.Importance = widget.LowImportance

	buttons := container.NewVBox(layout.NewSpacer(), container.NewStack(m.send, m.stop))
	composer := container.NewBorder(nil, nil, nil, buttons, m.composer)
	bottom := container.NewVBox(m.status, composer)
	center := container.NewBorder(nil, container.NewPadded(bottom), nil, nil, m.chat)

	right := container.NewBorder(nil, container.NewHBox(layout.NewSpacer(), settingsBtn), nil, nil,
		container.NewVScroll(container.NewPadded(m.models.root)))
	left := container.NewPadded(m.sidebar.root)

	inner := container.NewHSplit(center, right)
	inner.Offset = 0.72
	outer := container.NewHSplit(left, inner)
	outer.Offset = 0.2
	m.root = outer

	m.installShortcuts()
	m.settings = Settings{SendKey: SendEnter, Theme: ThemeSystem}
	m.applySendKey()
	return m
}

// SetActions sets (or replaces) who answers the window's actions.
func (m *Main) SetActions(a Actions) { m.actions = a }

// SetLater replaces how deferred UI work is scheduled (default: fyne.Do
// from a fresh goroutine). Tests pass a queue they drain themselves.
func (m *Main) SetLater(later func(func())) { m.chat.later = later }

// Content is the window's content.
func (m *Main) Content() fyne.CanvasObject { return m.root }

func (m *Main) installShortcuts() {
	c := m.win.Canvas()
	mod := fyne.KeyModifierShortcutDefault
	c.AddShortcut(&desktop.CustomShortcut{KeyName: fyne.KeyN, Modifier: mod}, func(fyne.Shortcut) { m.actions.NewChat() })
	c.AddShortcut(&desktop.CustomShortcut{KeyName: fyne.KeyF, Modifier: mod}, func(fyne.Shortcut) { c.Focus(m.sidebar.search) })
	send := func(fyne.Shortcut) { m.submit(m.composer.Text) }
	c.AddShortcut(&desktop.CustomShortcut{KeyName: fyne.KeyReturn, Modifier: mod}, send)
	c.AddShortcut(&desktop.CustomShortcut{KeyName: fyne.KeyEnter, Modifier: mod}, send)
	c.SetOnTypedKey(func(k *fyne.KeyEvent) { // keys no focused widget took
		if k.Name == fyne.KeyEscape {
			m.actions.Stop()
		}
	})
}

func (m *Main) submit(text string) {
	if m.generating || text == "" {
		return
	}
	trimmed := false
	for _, r := range text {
		if r != ' ' && r != '\n' && r != '\t' && r != '\r' {
			trimmed = true
			break
		}
	}
	if !trimmed {
		return
	}
	m.composer.SetText("")
	m.actions.Send(text)
}

// SetConversations fills the sidebar; selected is highlighted.
func (m *Main) SetConversations(convs []Conversation, selected string, searching bool) {
	m.sidebar.setConversations(convs, selected, searching)
}

// SetSearchBusy shows or hides the sidebar's progress bar.
func (m *Main) SetSearchBusy(busy bool) {
	if busy {
		m.sidebar.busy.Show()
		m.sidebar.busy.Start()
	} else {
		m.sidebar.busy.Stop()
		m.sidebar.busy.Hide()
	}
}

// SetMessages replaces the chat.
func (m *Main) SetMessages(msgs []Message) { m.chat.setMessages(msgs) }

// UpdateMessage replaces message i, or appends it when i is the length.
func (m *Main) UpdateMessage(i int, msg Message) { m.chat.updateMessage(i, msg) }

// SetGenerating swaps Send for Stop and hides Edit/Regenerate while a reply streams.
func (m *Main) SetGenerating(on bool) {
	m.generating = on
	if on {
		m.send.Hide()
		m.stop.Show()
	} else {
		m.stop.Hide()
		m.send.Show()
	}
	m.chat.setGenerating(on)
}

// SetStatus shows the live or last generation's stats; warn colours it.
func (m *Main) SetStatus(text string, warn bool) {
	m.status.SetText(text)
	if warn {
		m.status.Importance = widget.WarningImportance
	} else {
		m.status.Importance = widget.MediumImportance
	}
	m.status.Refresh()
}

// SetModels fills the model picker.
func (m *Main) SetModels(choices []ModelChoice, selected string) {
	m.models.setModels(choices, selected)
}

// SetLoading shows a model-load progress line ("" hides it).
func (m *Main) SetLoading(text string) { m.models.setLoading(text) }

// SetBudget shows the memory budget and its breakdown.
func (m *Main) SetBudget(b Budget) { m.models.setBudget(b) }

// SetSettings records the settings the window needs (send key, theme) and
// prefills the Settings dialog.
func (m *Main) SetSettings(s Settings) {
	themeChanged := s.Theme != m.settings.Theme
	m.settings = s
	m.applySendKey()
	if themeChanged {
		m.app.Settings().SetTheme(ThemeFor(s.Theme))
	}
}

func (m *Main) applySendKey() {
	s := m.settings
	m.composer.SendKey = s.SendKey
	if s.SendKey == SendCtrlEnter {
		m.composer.SetPlaceHolder("Message SmallThinker… (Ctrl+Enter to send)")
	} else {
		m.composer.SetPlaceHolder("Message SmallThinker… (Enter to send, Shift+Enter for a new line)")
	}
}

// ShowError reports a failure in a dialog.
func (m *Main) ShowError(err error) { dialog.ShowError(err, m.win) }

// ShowInfo shows a message in a dialog.
func (m *Main) ShowInfo(title, text string) { dialog.ShowInformation(title, text, m.win) }

// FocusComposer puts the cursor in the message entry.
func (m *Main) FocusComposer() { m.win.Canvas().Focus(m.composer) }

// Parts exposes the main widgets to tests that drive the window.
type Parts struct {
	Composer      *Composer
	Send, Stop    *widget.Button
	NewChat       *widget.Button
	Search        *widget.Entry
	Conversations *widget.List
	Messages      *widget.List
	ModelPicker   *widget.Select
	Budget        *widget.Slider
	BudgetEntry   *widget.Entry
	Status        *widget.Label
	// The entry of the last Edit or Rename dialog opened.
	EditEntry, RenameEntry *widget.Entry
}

// Parts returns the main widgets (for tests).
func (m *Main) Parts() Parts {
	return Parts{
		Composer: m.composer, Send: m.send, Stop: m.stop, NewChat: m.sidebar.newChat,
		Search: m.sidebar.search, Conversations: m.sidebar.list, Messages: m.chat.list,
		ModelPicker: m.models.pick, Budget: m.models.slider, BudgetEntry: m.models.entry,
		Status: m.status, EditEntry: m.editDialog, RenameEntry: m.renameEntry,
	}
}

// ShownMessages is the chat as currently shown (for tests).
func (m *Main) ShownMessages() []Message { return append([]Message(nil), m.chat.msgs...) }

// ShownConversations is the sidebar as currently shown (for tests).
func (m *Main) ShownConversations() []Conversation {
	return append([]Conversation(nil), m.sidebar.convs...)
}
