package ui

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/driver/desktop"
	"fyne.io/fyne/v2/widget"
)

// Composer is the message entry. With SendEnter, Enter sends and Shift+Enter
// inserts a newline; with SendCtrlEnter, Enter inserts a newline. Ctrl/Cmd+
// Enter always sends and Esc stops a generation.
type Composer struct {
	widget.Entry
	SendKey string
	OnSend  func(text string)
	OnStop  func()

	shift bool
}

func newComposer() *Composer {
	c := &Composer{SendKey: SendEnter}
	c.MultiLine = true
	c.Wrapping = fyne.TextWrapWord
	c.SetPlaceHolder("Message SmallThinker…")
	c.ExtendBaseWidget(c)
	return c
}

// KeyDown tracks Shift, which the plain Entry only uses for selection.
func (c *Composer) KeyDown(k *fyne.KeyEvent) {
	if k.Name == desktop.KeyShiftLeft || k.Name == desktop.KeyShiftRight {
		c.shift = true
	}
	c.Entry.KeyDown(k)
}

// KeyUp tracks Shift.
func (c *Composer) KeyUp(k *fyne.KeyEvent) {
	if k.Name == desktop.KeyShiftLeft || k.Name == desktop.KeyShiftRight {
		c.shift = false
	}
	c.Entry.KeyUp(k)
}

// TypedKey sends on Enter (per SendKey) and stops on Esc.
func (c *Composer) TypedKey(k *fyne.KeyEvent) {
	switch k.Name {
	case fyne.KeyReturn, fyne.KeyEnter:
		if c.SendKey != SendCtrlEnter && !c.shift {
			c.send()
			return
		}
	case fyne.KeyEscape:
		if c.OnStop != nil {
			c.OnStop()
		}
		return
	}
	c.Entry.TypedKey(k) // Enter here inserts a newline: OnSubmitted is never set
}

// TypedShortcut sends on Ctrl/Cmd+Enter.
func (c *Composer) TypedShortcut(s fyne.Shortcut) {
	if isSendShortcut(s) {
		c.send()
		return
	}
	c.Entry.TypedShortcut(s)
}

func isSendShortcut(s fyne.Shortcut) bool {
	cs, ok := s.(*desktop.CustomShortcut)
	return ok && (cs.KeyName == fyne.KeyReturn || cs.KeyName == fyne.KeyEnter) &&
		(cs.Modifier == fyne.KeyModifierControl || cs.Modifier == fyne.KeyModifierSuper)
}

func (c *Composer) send() {
	if c.OnSend != nil {
		c.OnSend(c.Text)
	}
}
