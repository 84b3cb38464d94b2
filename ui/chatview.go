package ui

import (
	"hash/fnv"
	"math"
	"strings"

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

	bulk      bool            // measuring every row: the list shows nothing meanwhile
	thinkOpen map[string]bool // per message: the user's choice for its Thinking section
	heights   []rowHeight     // per index
	width     float32
	measurer  *messageRow
	root      *fyne.Container

	later    func(func()) // runs f soon on the UI goroutine, after the current event
	refining bool
	lineH    float32 // height of one more line of text, at the current width
	chromeH  float32 // height of a one-line message
	charW    float32 // average character width
}

type rowHeight struct {
	sig   uint64
	h     float32
	exact bool // false: estimated from the text length, to be measured later
}

// exactTail is how many rows from the bottom are measured at once; older
// rows start with an estimate and are measured a few at a time afterwards,
// so a 1,000-message chat opens without a pause.
const (
	exactTail   = 40
	refineBatch = 6
)

func newChatView(m *Main) *chatView {
	v := &chatView{main: m, thinkOpen: map[string]bool{}, later: func(f func()) { go fyne.Do(f) }}
	v.measurer = newMessageRow(v)
	v.list = widget.NewList(
		func() int {
			if v.bulk {
				return 0 // SetItemHeight refreshes the list: keep that cheap while measuring many rows
			}
			return len(v.msgs)
		},
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

// measureAll measures the newest rows now and estimates the older ones,
// which refine then measures in small batches.
func (v *chatView) measureAll() {
	if v.width <= 0 {
		return
	}
	v.calibrate()
	v.bulk = true
	for i := range v.msgs {
		if i >= len(v.msgs)-exactTail {
			v.measure(i)
		} else {
			v.estimate(i)
		}
	}
	v.bulk = false
	v.scheduleRefine()
}

func (v *chatView) scheduleRefine() {
	if v.refining {
		return
	}
	for _, h := range v.heights {
		if !h.exact {
			v.refining = true
			v.later(v.refine)
			return
		}
	}
}

// refine measures a batch of estimated rows, newest first.
func (v *chatView) refine() {
	v.refining = false
	n := 0
	v.bulk = true
	for i := len(v.heights) - 1; i >= 0 && n < refineBatch; i-- {
		if !v.heights[i].exact {
			v.measure(i)
			n++
		}
	}
	v.bulk = false
	if n > 0 {
		v.list.Refresh()
		v.scheduleRefine()
	}
}

// calibrate measures the layout constants estimate uses at this width.
func (v *chatView) calibrate() {
	r := v.measurer
	h := func(text string) float32 {
		r.update(0, Message{Role: RoleAssistant, Content: text}, false, false, false)
		r.Resize(fyne.NewSize(v.width, r.MinSize().Height))
		return r.MinSize().Height
	}
	v.chromeH = h("x")
	v.lineH = max(1, h("x\n\nx")-v.chromeH)
	sample := "The quick brown fox jumps over the lazy dog"
	v.charW = fyne.MeasureText(sample, theme.TextSize(), fyne.TextStyle{}).Width / float32(len(sample))
}

// estimate guesses a row's height from its text length.
func (v *chatView) estimate(i int) {
	if i >= len(v.heights) {
		return
	}
	m := v.msgs[i]
	perLine := max(1, int((v.width-8*theme.Padding())/max(1, v.charW)))
	lines := 0
	for _, para := range strings.Split(m.Content, "\n") {
		lines += 1 + len(para)/perLine
	}
	h := v.chromeH + float32(lines-1)*v.lineH/2 // paragraphs are separated by blank lines in Markdown
	v.heights[i] = rowHeight{h: h}
	v.list.SetItemHeight(i, h)
}

// measure lays the message out off-screen at the list's width and gives the
// list its height, unless nothing that affects the height changed.
func (v *chatView) measure(i int) {
	if v.width <= 0 || i >= len(v.heights) {
		return
	}
	isLast, open := i == len(v.msgs)-1, v.isThinkingOpen(i)
	sig := v.signature(v.msgs[i], isLast, open)
	if v.heights[i].exact && v.heights[i].sig == sig {
		return
	}
	r := v.measurer
	r.update(i, v.msgs[i], isLast, v.generating, open)
	r.Resize(fyne.NewSize(v.width, r.MinSize().Height))
	h := r.MinSize().Height // wrapped text knows its height once it has a width
	v.heights[i] = rowHeight{sig: sig, h: h, exact: true}
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
