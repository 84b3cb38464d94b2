package ui

import (
	"fmt"
	"strconv"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/widget"
)

// settingsForm edits Settings; values are checked before they are applied.
type settingsForm struct {
	system                                 *widget.Entry
	temp, topK, topP, rep, maxTok, threads *widget.Entry
	ctxLen                                 *widget.Entry
	theme, sendKey                         *widget.Select
	items                                  []*widget.FormItem
}

var (
	themeLabels = map[string]string{ThemeSystem: "System", ThemeLight: "Light", ThemeDark: "Dark"}
	sendLabels  = map[string]string{SendEnter: "Enter sends, Shift+Enter new line", SendCtrlEnter: "Ctrl+Enter sends, Enter new line"}
)

func newSettingsForm(s Settings) *settingsForm {
	f := &settingsForm{}
	num := func(v string, check func(string) error) *widget.Entry {
		e := widget.NewEntry()
		e.SetText(v)
		e.Validator = check
		return e
	}
	f.system = widget.NewMultiLineEntry()
	f.system.Wrapping = fyne.TextWrapWord
	f.system.SetMinRowsVisible(3)
	f.system.SetText(s.SystemPrompt)
	f.temp = num(fmtFloat(s.Temperature), floatIn(0, 2))
	f.topK = num(strconv.Itoa(s.TopK), intIn(0, 1000))
	f.topP = num(fmtFloat(s.TopP), floatIn(0, 1))
	f.rep = num(fmtFloat(s.RepetitionPenalty), floatIn(0.5, 2))
	f.maxTok = num(strconv.Itoa(s.MaxTokens), intIn(0, 1<<20))
	f.threads = num(strconv.Itoa(s.Threads), intIn(0, 1024))
	f.ctxLen = num(strconv.Itoa(s.ContextLength), intIn(256, 1<<20))
	f.theme = widget.NewSelect([]string{"System", "Light", "Dark"}, nil)
	f.theme.SetSelected(themeLabels[s.Theme])
	f.sendKey = widget.NewSelect([]string{sendLabels[SendEnter], sendLabels[SendCtrlEnter]}, nil)
	f.sendKey.SetSelected(sendLabels[s.SendKey])
	item := func(name, hint string, w fyne.CanvasObject) *widget.FormItem {
		it := widget.NewFormItem(name, w)
		it.HintText = hint
		return it
	}
	f.items = []*widget.FormItem{
		item("System prompt", "Sent first in every new chat", f.system),
		item("Temperature", "0 = always the most likely token", f.temp),
		item("Top-k", "0 = off", f.topK),
		item("Top-p", "1 = off", f.topP),
		item("Repetition penalty", "1 = off", f.rep),
		item("Max tokens", "0 = until the model stops", f.maxTok),
		item("Threads", "0 = all cores", f.threads),
		item("Context length", "Tokens; a longer context needs more RAM", f.ctxLen),
		item("Theme", "", f.theme),
		item("Send with", "", f.sendKey),
	}
	return f
}

// settings reads the form; the validators have already accepted every field.
func (f *settingsForm) settings() (Settings, error) {
	var s Settings
	var err error
	s.SystemPrompt = f.system.Text
	if s.Temperature, err = strconv.ParseFloat(strings.TrimSpace(f.temp.Text), 64); err != nil {
		return s, fmt.Errorf("temperature: %w", err)
	}
	if s.TopK, err = strconv.Atoi(strings.TrimSpace(f.topK.Text)); err != nil {
		return s, fmt.Errorf("top-k: %w", err)
	}
	if s.TopP, err = strconv.ParseFloat(strings.TrimSpace(f.topP.Text), 64); err != nil {
		return s, fmt.Errorf("top-p: %w", err)
	}
	if s.RepetitionPenalty, err = strconv.ParseFloat(strings.TrimSpace(f.rep.Text), 64); err != nil {
		return s, fmt.Errorf("repetition penalty: %w", err)
	}
	if s.MaxTokens, err = strconv.Atoi(strings.TrimSpace(f.maxTok.Text)); err != nil {
		return s, fmt.Errorf("max tokens: %w", err)
	}
	if s.Threads, err = strconv.Atoi(strings.TrimSpace(f.threads.Text)); err != nil {
		return s, fmt.Errorf("threads: %w", err)
	}
	if s.ContextLength, err = strconv.Atoi(strings.TrimSpace(f.ctxLen.Text)); err != nil {
		return s, fmt.Errorf("context length: %w", err)
	}
	s.Theme = ThemeSystem
	for k, v := range themeLabels {
		if v == f.theme.Selected {
			s.Theme = k
		}
	}
	s.SendKey = SendEnter
	for k, v := range sendLabels {
		if v == f.sendKey.Selected {
			s.SendKey = k
		}
	}
	return s, nil
}

func (m *Main) showSettings() {
	f := newSettingsForm(m.settings)
	d := dialog.NewForm("Settings", "Save", "Cancel", f.items, func(ok bool) {
		if !ok {
			return
		}
		s, err := f.settings()
		if err != nil {
			dialog.ShowError(err, m.win)
			return
		}
		m.actions.ApplySettings(s)
	}, m.win)
	d.Resize(fyne.NewSize(620, 640))
	d.Show()
	m.settingsForm = f
	m.settingsDialog = d
}

func fmtFloat(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }

func floatIn(lo, hi float64) func(string) error {
	return func(s string) error {
		v, err := strconv.ParseFloat(strings.TrimSpace(s), 64)
		if err != nil || v < lo || v > hi {
			return fmt.Errorf("a number from %g to %g", lo, hi)
		}
		return nil
	}
}

func intIn(lo, hi int) func(string) error {
	return func(s string) error {
		v, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || v < lo || v > hi {
			return fmt.Errorf("a whole number from %d to %d", lo, hi)
		}
		return nil
	}
}
