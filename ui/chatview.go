package ui

import (
	"hash/fnv"
	"math"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// chatView is the conversation: a virtualised list (only visible rows exist)
// whose rows have per-message heights, measured off-screen at the list's
// width and cached until the message or the width changes.
type chatView struct {
	widget.BaseWidget
	main *Main

	list       *widget.List
	empty      *fyne.Container
	msgs       []Message
	generating bool

	thinkOpen map[string]bool // per message: the user's choice for its Thinking section
	heights   []rowHeight     // per index
	width     float32
	measurer  *messageRow
	root      *fyne.Container
}

type rowHeight struct {
	sig uint64
	h   float32
}

func newChatView(m *Main) *chatView {
	v := &chatView{main: m, thinkOpen: map[string]bool{}}
	v.measurer = newMessageRow(v)
	v.list = widget.NewList(
		func() int { return len(v.msgs) },
		func() fyne.CanvasObject { return newMessageRow(v) },
		func(id widget.ListItemID, o fyne.CanvasObject) {
			if id < len(v.msgs) {
				v.fill(o.(*messageRow), id)
			}
		})
	v.list.HideSeparators = true
	title := widget.NewLabelWithStyle("Start a conversation", fyne.TextAlignCenter, fyne.TextStyle{Bold: true})
	title.SizeName = theme.SizeNameSubHeadingText
	hint := widget.NewLabelWithStyle("Type below and press Enter. Everything runs on this computer.",
		fyne.TextAlignCenter, fyne.TextStyle{})
	hint.Importance = widget.LowImportance
	v.empty = container.NewCenter(container.NewVBox(title, hint))
	v.root = container.NewStack(v.list, v.empty)
	v.ExtendBaseWidget(v)
	return v
}

func (v *chatView) CreateRenderer() fyne.WidgetRenderer { return widget.NewSimpleRenderer(v.root) }

// Resize re-measures every row when the width changes (text re-wraps).
func (v *chatView) Resize(s fyne.Size) {
	v.BaseWidget.Resize(s)
	if s.Width != v.width {
		v.width = s.Width
		v.measureAll()
	}
}

func (v *chatView) isThinkingOpen(i int) bool {
	m := v.msgs[i]
	if open, ok := v.thinkOpen[m.ID]; ok {
		return open
	}
	return m.Streaming && parseMessage(m.Content).ThinkingOpen
}

func (v *chatView) fill(r *messageRow, i int) {
	r.update(i, v.msgs[i], i == len(v.msgs)-1, v.generating, v.isThinkingOpen(i))
}

// setMessages replaces the conversation shown.
func (v *chatView) setMessages(msgs []Message) {
	v.msgs = append([]Message(nil), msgs...)
	v.heights = make([]rowHeight, len(msgs))
	v.measureAll()
	v.updateEmpty()
	v.list.Refresh()
	v.list.ScrollToBottom()
}

// updateMessage changes (or, with i == len, appends) one message. Only the
// changed row is re-measured and redrawn.
func (v *chatView) updateMessage(i int, m Message) {
	switch {
	case i == len(v.msgs):
		v.msgs = append(v.msgs, m)
		v.heights = append(v.heights, rowHeight{})
		if i > 0 { // the previous last row loses its Regenerate button
			v.measure(i - 1)
		}
		v.measure(i)
		v.updateEmpty()
		v.list.Refresh()
	case i >= 0 && i < len(v.msgs):
		v.msgs[i] = m
		v.measure(i)
		v.list.RefreshItem(i)
	default:
		return
	}
	v.list.ScrollToBottom()
}

func (v *chatView) setGenerating(on bool) {
	if v.generating == on {
		return
	}
	v.generating = on
	v.measureAll()
	v.list.Refresh()
}

func (v *chatView) updateEmpty() {
	if len(v.msgs) == 0 {
		v.empty.Show()
	} else {
		v.empty.Hide()
	}
}

func (v *chatView) measureAll() {
	for i := range v.msgs {
		v.measure(i)
	}
}

// measure lays the message out off-screen at the list's width and gives the
// list its height, unless nothing that affects the height changed.
func (v *chatView) measure(i int) {
	if v.width <= 0 || i >= len(v.heights) {
		return
	}
	isLast, open := i == len(v.msgs)-1, v.isThinkingOpen(i)
	sig := v.signature(v.msgs[i], isLast, open)
	if v.heights[i].sig == sig && v.heights[i].h > 0 {
		return
	}
	r := v.measurer
	r.update(i, v.msgs[i], isLast, v.generating, open)
	r.Resize(fyne.NewSize(v.width, r.MinSize().Height))
	h := r.MinSize().Height // wrapped text knows its height once it has a width
	v.heights[i] = rowHeight{sig: sig, h: h}
	v.list.SetItemHeight(i, h)
}

func (v *chatView) signature(m Message, isLast, open bool) uint64 {
	h := fnv.New64a()
	for _, s := range []string{m.Role, m.Content, m.Thinking, m.Status, m.Error} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	var flags byte
	for bit, on := range []bool{m.Stopped, m.Streaming, isLast, open, v.generating} {
		if on {
			flags |= 1 << bit
		}
	}
	h.Write([]byte{flags})
	w := math.Float32bits(v.width)
	h.Write([]byte{byte(w), byte(w >> 8), byte(w >> 16), byte(w >> 24)})
	return h.Sum64()
}

func (v *chatView) toggleThinking(id string) {
	for i, m := range v.msgs {
		if m.ID == id {
			v.thinkOpen[id] = !v.isThinkingOpen(i)
			v.measure(i)
			v.list.RefreshItem(i)
			return
		}
	}
}

func (v *chatView) copyText(s string) {
	v.main.app.Clipboard().SetContent(s)
}

func (v *chatView) regenerate() { v.main.actions.Regenerate() }

// edit opens the message in an editor; Send replaces it and everything after.
func (v *chatView) edit(i int, text string) {
	e := widget.NewMultiLineEntry()
	e.Wrapping = fyne.TextWrapWord
	e.SetText(text)
	d := dialog.NewCustomConfirm("Edit message", "Send", "Cancel", e, func(ok bool) {
		if ok && e.Text != "" {
			v.main.actions.EditAndResend(i, e.Text)
		}
	}, v.main.win)
	d.Resize(fyne.NewSize(560, 320))
	d.Show()
	v.main.win.Canvas().Focus(e)
	v.main.editDialog = e
}
