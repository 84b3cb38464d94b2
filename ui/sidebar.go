package ui

import (
	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// sidebar lists conversations (pinned first, then newest) with search, New
// chat and a per-row menu for rename, pin and delete.
type sidebar struct {
	main     *Main
	convs    []Conversation
	selected string

	search  *widget.Entry
	newChat *widget.Button
	list    *widget.List
	busy    *widget.ProgressBarInfinite
	empty   *widget.Label
	root    fyne.CanvasObject

	suppressSelect bool // set while the list selection is changed from code
}

func newSidebar(m *Main) *sidebar {
	s := &sidebar{main: m}
	s.search = widget.NewEntry()
	s.search.SetPlaceHolder("Search chats")
	s.search.ActionItem = widget.NewIcon(theme.SearchIcon())
	s.search.OnChanged = func(q string) { m.actions.Search(q) }
	s.newChat = widget.NewButtonWithIcon("New chat", theme.ContentAddIcon(), func() { m.actions.NewChat() })
	s.newChat.Importance = widget.HighImportance
	s.list = widget.NewList(
		func() int { return len(s.convs) },
		func() fyne.CanvasObject { return newConvRow(s) },
		func(id widget.ListItemID, o fyne.CanvasObject) {
			if id < len(s.convs) {
				o.(*convRow).set(id, s.convs[id])
			}
		})
	s.list.OnSelected = func(id widget.ListItemID) {
		if s.suppressSelect || id >= len(s.convs) {
			return
		}
		if s.convs[id].ID != s.selected {
			s.selected = s.convs[id].ID
			m.actions.SelectConversation(s.selected)
		}
	}
	s.busy = widget.NewProgressBarInfinite()
	s.busy.Hide()
	s.empty = widget.NewLabelWithStyle("No chats yet", fyne.TextAlignCenter, fyne.TextStyle{Italic: true})
	s.empty.Importance = widget.LowImportance
	top := container.NewVBox(s.newChat, s.search, s.busy)
	s.root = container.NewBorder(top, nil, nil, nil, container.NewStack(s.list, container.NewVBox(s.empty)))
	return s
}

func (s *sidebar) setConversations(convs []Conversation, selected string, searching bool) {
	s.convs = append([]Conversation(nil), convs...)
	s.selected = selected
	switch {
	case len(convs) > 0:
		s.empty.Hide()
	case searching:
		s.empty.SetText("No matches")
		s.empty.Show()
	default:
		s.empty.SetText("No chats yet")
		s.empty.Show()
	}
	s.list.Refresh()
	s.suppressSelect = true
	s.list.UnselectAll()
	for i, c := range s.convs {
		if c.ID == selected {
			s.list.Select(i)
			break
		}
	}
	s.suppressSelect = false
}

func (s *sidebar) rename(c Conversation) {
	e := widget.NewEntry()
	e.SetText(c.Title)
	d := dialog.NewForm("Rename chat", "Rename", "Cancel",
		[]*widget.FormItem{widget.NewFormItem("Title", e)}, func(ok bool) {
			if ok {
				s.main.actions.Rename(c.ID, e.Text)
			}
		}, s.main.win)
	d.Resize(fyne.NewSize(420, 160))
	d.Show()
	s.main.win.Canvas().Focus(e)
	s.main.renameEntry = e
}

func (s *sidebar) confirmDelete(c Conversation) {
	d := dialog.NewConfirm("Delete chat?",
		"\""+c.Title+"\" and all its messages will be deleted. This cannot be undone.",
		func(ok bool) {
			if ok {
				s.main.actions.Delete(c.ID)
			}
		}, s.main.win)
	d.SetConfirmText("Delete")
	d.SetConfirmImportance(widget.DangerImportance)
	d.Show()
}

// convRow is one sidebar row: title (with a pin mark), a search snippet when
// searching, and a menu button.
type convRow struct {
	widget.BaseWidget
	s     *sidebar
	conv  Conversation
	title *widget.Label
	snip  *widget.Label
	menu  *widget.Button
	root  *fyne.Container
}

func newConvRow(s *sidebar) *convRow {
	r := &convRow{s: s}
	r.title = widget.NewLabel("")
	r.title.Truncation = fyne.TextTruncateEllipsis
	r.snip = widget.NewLabel("")
	r.snip.SizeName = theme.SizeNameCaptionText
	r.snip.Importance = widget.LowImportance
	r.snip.Truncation = fyne.TextTruncateEllipsis
	r.snip.Hide()
	r.menu = widget.NewButtonWithIcon("", theme.MoreHorizontalIcon(), r.showMenu)
	r.menu.Importance = widget.LowImportance
	r.root = container.NewBorder(nil, nil, nil, r.menu, container.NewVBox(r.title, r.snip))
	r.ExtendBaseWidget(r)
	return r
}

func (r *convRow) CreateRenderer() fyne.WidgetRenderer { return widget.NewSimpleRenderer(r.root) }

func (r *convRow) set(_ int, c Conversation) {
	r.conv = c
	r.title.SetText(c.Title)
	r.title.TextStyle.Bold = c.Pinned
	r.title.Refresh()
	switch {
	case c.Snippet != "":
		r.snip.SetText(c.Snippet)
		r.snip.Show()
	case c.Pinned:
		r.snip.SetText("Pinned")
		r.snip.Show()
	default:
		r.snip.Hide()
	}
}

func (r *convRow) menuItems() []*fyne.MenuItem {
	c := r.conv
	pin := "Pin"
	if c.Pinned {
		pin = "Unpin"
	}
	return []*fyne.MenuItem{
		fyne.NewMenuItem("Rename…", func() { r.s.rename(c) }),
		fyne.NewMenuItem(pin, func() { r.s.main.actions.SetPinned(c.ID, !c.Pinned) }),
		fyne.NewMenuItemSeparator(),
		fyne.NewMenuItem("Delete…", func() { r.s.confirmDelete(c) }),
	}
}

func (r *convRow) showMenu() {
	c := fyne.CurrentApp().Driver().CanvasForObject(r.menu)
	if c == nil {
		return
	}
	pos := fyne.CurrentApp().Driver().AbsolutePositionForObject(r.menu)
	widget.ShowPopUpMenuAtPosition(fyne.NewMenu("", r.menuItems()...), c, pos.Add(fyne.NewPos(0, r.menu.Size().Height)))
}

// TappedSecondary opens the same menu on right-click.
func (r *convRow) TappedSecondary(e *fyne.PointEvent) {
	c := fyne.CurrentApp().Driver().CanvasForObject(r)
	if c == nil {
		return
	}
	widget.ShowPopUpMenuAtPosition(fyne.NewMenu("", r.menuItems()...), c, e.AbsolutePosition)
}
