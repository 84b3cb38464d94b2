package ui

import (
	"image/color"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/layout"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// messageRow draws one message. The chat list recycles rows, so update must
// fully describe the row from the message alone.
type messageRow struct {
	widget.BaseWidget
	view *chatView

	index int
	msg   Message

	bubble      *canvas.Rectangle // user messages sit on a tinted card
	role        *widget.Label
	thinkToggle *widget.Button
	thinkText   *widget.Label
	body        *fyne.Container // one object per segment
	prose       []*widget.RichText
	codes       []*codeBlock
	errText     *widget.Label
	status      *widget.Label
	copyBtn     *widget.Button
	editBtn     *widget.Button
	regenBtn    *widget.Button
	root        *fyne.Container
}

func newMessageRow(v *chatView) *messageRow {
	r := &messageRow{view: v}
	r.bubble = canvas.NewRectangle(color.Transparent)
	r.bubble.CornerRadius = theme.InputRadiusSize() * 2
	r.role = widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
	r.thinkToggle = widget.NewButtonWithIcon("Thinking", theme.MenuExpandIcon(), func() {
		r.view.toggleThinking(r.msg.ID)
	})
	r.thinkToggle.Importance = widget.LowImportance
	r.thinkToggle.Alignment = widget.ButtonAlignLeading
	r.thinkText = widget.NewLabel("")
	r.thinkText.Wrapping = fyne.TextWrapWord
	r.thinkText.Importance = widget.LowImportance
	r.thinkText.TextStyle.Italic = true
	r.body = container.NewVBox()
	r.errText = widget.NewLabel("")
	r.errText.Wrapping = fyne.TextWrapWord
	r.errText.Importance = widget.DangerImportance
	r.status = widget.NewLabel("")
	r.status.SizeName = theme.SizeNameCaptionText
	r.status.Truncation = fyne.TextTruncateEllipsis
	r.copyBtn = widget.NewButtonWithIcon("Copy", theme.ContentCopyIcon(), func() {
		r.view.copyText(visibleText(r.msg))
	})
	r.editBtn = widget.NewButtonWithIcon("Edit", theme.DocumentCreateIcon(), func() {
		r.view.edit(r.index, r.msg.Content)
	})
	r.regenBtn = widget.NewButtonWithIcon("Regenerate", theme.ViewRefreshIcon(), func() {
		r.view.regenerate()
	})
	for _, b := range []*widget.Button{r.copyBtn, r.editBtn, r.regenBtn} {
		b.Importance = widget.LowImportance
	}
	footer := container.NewBorder(nil, nil, nil,
		container.NewHBox(r.copyBtn, r.editBtn, r.regenBtn), r.status)
	r.root = container.NewVBox(r.role, r.thinkToggle, r.thinkText, r.body, r.errText, footer)
	r.ExtendBaseWidget(r)
	return r
}

func (r *messageRow) CreateRenderer() fyne.WidgetRenderer {
	pad := theme.Padding()
	inner := container.New(layout.NewCustomPaddedLayout(pad, pad, 3*pad, 3*pad), r.root)
	return widget.NewSimpleRenderer(container.New(layout.NewCustomPaddedLayout(pad, pad, 2*pad, 2*pad),
		container.NewStack(r.bubble, inner)))
}

// update shows message i; isLast and generating decide which actions apply.
func (r *messageRow) update(i int, m Message, isLast, generating, thinkingOpen bool) {
	r.index, r.msg = i, m
	p := parseMessage(m.Content)
	thinking := p.Thinking
	if m.Thinking != "" {
		if thinking != "" {
			thinking = m.Thinking + "\n\n" + thinking
		} else {
			thinking = m.Thinking
		}
	}

	switch m.Role {
	case RoleUser:
		r.role.SetText("You")
		r.bubble.FillColor = theme.Color(theme.ColorNameInputBackground)
	case RoleSystem:
		r.role.SetText("System")
		r.bubble.FillColor = color.Transparent
	default:
		r.role.SetText("SmallThinker")
		r.bubble.FillColor = color.Transparent
	}
	r.bubble.Refresh()

	if thinking == "" {
		r.thinkToggle.Hide()
		r.thinkText.Hide()
	} else {
		label := "Thinking"
		if p.ThinkingOpen && m.Streaming {
			label = "Thinking…"
		}
		r.thinkToggle.SetText(label)
		if thinkingOpen {
			r.thinkToggle.SetIcon(theme.MenuDropDownIcon())
			r.thinkText.SetText(thinking)
			r.thinkText.Show()
		} else {
			r.thinkToggle.SetIcon(theme.MenuExpandIcon())
			r.thinkText.Hide()
		}
		r.thinkToggle.Show()
	}

	r.setSegments(p.Segments, m)

	if m.Error != "" {
		r.errText.SetText(m.Error)
		r.errText.Show()
	} else {
		r.errText.Hide()
	}
	status := m.Status
	if m.Stopped {
		if status != "" {
			status = "Stopped · " + status
		} else {
			status = "Stopped"
		}
	}
	r.status.SetText(status)

	if m.Streaming {
		r.copyBtn.Hide()
	} else {
		r.copyBtn.Show()
	}
	if m.Role == RoleUser && !generating {
		r.editBtn.Show()
	} else {
		r.editBtn.Hide()
	}
	if m.Role == RoleAssistant && isLast && !generating {
		r.regenBtn.Show()
	} else {
		r.regenBtn.Hide()
	}
	r.root.Refresh()
}

// setSegments fills the body, reusing this row's RichTexts and code blocks.
func (r *messageRow) setSegments(segs []segment, m Message) {
	objs := make([]fyne.CanvasObject, 0, len(segs))
	np, nc := 0, 0
	for _, s := range segs {
		if s.Code {
			if nc == len(r.codes) {
				r.codes = append(r.codes, newCodeBlock(r.view))
			}
			r.codes[nc].set(s.Lang, s.Text)
			objs = append(objs, r.codes[nc].root)
			nc++
			continue
		}
		if np == len(r.prose) {
			rt := widget.NewRichText()
			rt.Wrapping = fyne.TextWrapWord
			r.prose = append(r.prose, rt)
		}
		rt := r.prose[np]
		if m.Role == RoleUser {
			// What the user typed is shown as typed, not as Markdown.
			rt.Segments = []widget.RichTextSegment{&widget.TextSegment{Text: s.Text, Style: widget.RichTextStyleParagraph}}
			rt.Refresh()
		} else {
			rt.ParseMarkdown(s.Text)
		}
		objs = append(objs, rt)
		np++
	}
	if len(objs) == 0 && m.Streaming {
		if np == len(r.prose) {
			rt := widget.NewRichText()
			rt.Wrapping = fyne.TextWrapWord
			r.prose = append(r.prose, rt)
		}
		rt := r.prose[np]
		rt.Segments = []widget.RichTextSegment{&widget.TextSegment{Text: "…", Style: widget.RichTextStyleParagraph}}
		rt.Refresh()
		objs = append(objs, rt)
	}
	r.body.Objects = objs
	r.body.Refresh()
}

// codeBlock is a fenced code block: monospace text on a card with Copy.
type codeBlock struct {
	lang *widget.Label
	code *widget.Label
	copy *widget.Button
	bg   *canvas.Rectangle
	root *fyne.Container
	text string
}

func newCodeBlock(v *chatView) *codeBlock {
	c := &codeBlock{}
	c.lang = widget.NewLabel("")
	c.lang.SizeName = theme.SizeNameCaptionText
	c.lang.Importance = widget.LowImportance
	c.code = widget.NewLabelWithStyle("", fyne.TextAlignLeading, fyne.TextStyle{Monospace: true})
	c.code.Wrapping = fyne.TextWrapBreak
	c.copy = widget.NewButtonWithIcon("Copy code", theme.ContentCopyIcon(), func() { v.copyText(c.text) })
	c.copy.Importance = widget.LowImportance
	bg := canvas.NewRectangle(color.Transparent)
	bg.CornerRadius = theme.InputRadiusSize()
	bg.StrokeWidth = 1
	c.bg = bg
	header := container.NewBorder(nil, nil, c.lang, c.copy)
	c.root = container.NewStack(bg, container.NewPadded(container.NewBorder(header, nil, nil, nil, c.code)))
	return c
}

func (c *codeBlock) set(lang, text string) {
	c.text = text
	if lang == "" {
		lang = "code"
	}
	c.lang.SetText(lang)
	c.code.SetText(text)
	c.bg.FillColor = theme.Color(theme.ColorNameInputBackground)
	c.bg.StrokeColor = theme.Color(theme.ColorNameSeparator)
	c.bg.Refresh()
}

// visibleText is what Copy puts on the clipboard: the answer without its
// thinking section.
func visibleText(m Message) string {
	body, _, _ := splitThinking(m.Content)
	return body
}
