package app

import (
	"context"
	"sync"
	"testing"
	"time"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/test"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"

	"smallthinker/history"
	"smallthinker/inference"
	"smallthinker/ui"
)

// uiQueue stands in for fyne.Do in tests: background goroutines queue
// functions and the test goroutine (the "UI goroutine" here) runs them, so
// widget state is only ever touched by one goroutine, as in the app.
type uiQueue struct {
	mu sync.Mutex
	fs []func()
}

func (q *uiQueue) post(f func()) {
	q.mu.Lock()
	q.fs = append(q.fs, f)
	q.mu.Unlock()
}

func (q *uiQueue) drain() { q.drainUntil(func() bool { return false }) }

// drainUntil runs queued functions one at a time until stop holds, so a
// test sees every intermediate state (a streaming row) the user would.
func (q *uiQueue) drainUntil(stop func() bool) bool {
	for {
		q.mu.Lock()
		if len(q.fs) == 0 {
			q.mu.Unlock()
			return stop()
		}
		f := q.fs[0]
		q.fs = q.fs[1:]
		q.mu.Unlock()
		f()
		if stop() {
			return true
		}
	}
}

// harness is the real window (headless), controller, history and engine.
type harness struct {
	t     *testing.T
	q     *uiQueue
	win   fyne.Window
	view  *ui.Main
	c     *Controller
	store *history.Store
	paths Paths
}

func newHarness(t *testing.T, dir string, settings ui.Settings) *harness {
	t.Helper()
	a := test.NewTempApp(t)
	w := test.NewTempWindow(t, nil)
	w.Resize(fyne.NewSize(1280, 800))
	paths := PathsUnder(dir)
	cfg, err := LoadConfig(paths.Settings)
	if err != nil {
		t.Fatal(err)
	}
	if settings != (ui.Settings{}) {
		cfg.Settings = settings
	}
	store, err := history.Open(paths.History)
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, q: &uiQueue{}, win: w, store: store, paths: paths}
	h.view = ui.New(a, w, nil)
	h.view.SetLater(h.q.post)
	h.c = NewController(h.view, h.q.post, store, pacedEngine{}, paths, cfg)
	h.view.SetActions(h.c)
	w.SetContent(h.view.Content())
	t.Cleanup(h.close)
	h.c.Start()
	return h
}

func (h *harness) close() {
	if h.c != nil {
		h.c.Close()
		h.q.drain()
		h.store.Close()
		h.c = nil
	}
}

// waitFor runs queued UI work until cond holds.
func (h *harness) waitFor(what string, cond func() bool) {
	h.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for {
		if h.q.drainUntil(cond) {
			return
		}
		if time.Now().After(deadline) {
			h.t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

func (h *harness) parts() ui.Parts { return h.view.Parts() }

func (h *harness) messages() []ui.Message { return h.view.ShownMessages() }

func (h *harness) idle() bool { return h.c.gen == nil && !h.parts().Stop.Visible() }

// findTappable finds the tappable widget showing text (a button, a menu
// item) anywhere in the window, dialogs and menus included.
func (h *harness) findTappable(text string) fyne.Tappable {
	roots := []fyne.CanvasObject{h.win.Canvas().Content()}
	roots = append(roots, h.win.Canvas().Overlays().List()...)
	for i := len(roots) - 1; i >= 0; i-- { // the topmost overlay first
		if t := findTappableIn(roots[i], text, nil); t != nil {
			return t
		}
	}
	return nil
}

func findTappableIn(o fyne.CanvasObject, text string, owner fyne.Tappable) fyne.Tappable {
	if o == nil || !o.Visible() {
		return nil
	}
	if t, ok := o.(fyne.Tappable); ok {
		owner = t
	}
	if b, ok := o.(*widget.Button); ok && b.Text == text {
		return b
	}
	if tx, ok := o.(*canvas.Text); ok && tx.Text == text && owner != nil {
		return owner
	}
	var kids []fyne.CanvasObject
	switch v := o.(type) {
	case *fyne.Container:
		kids = v.Objects
	case fyne.Widget:
		kids = test.WidgetRenderer(v).Objects()
	}
	for _, k := range kids {
		if t := findTappableIn(k, text, owner); t != nil {
			return t
		}
	}
	return nil
}

func (h *harness) tap(text string) {
	h.t.Helper()
	var t fyne.Tappable
	h.waitFor("a control labelled "+text, func() bool {
		t = h.findTappable(text)
		return t != nil
	})
	test.Tap(t)
}

// rowButton finds, in the smallest subtree that shows rowText, the button
// with the named icon: e.g. the "…" menu button of one sidebar row.
func rowButton(o fyne.CanvasObject, rowText, icon string) (hasText bool, btn *widget.Button, found *widget.Button) {
	if o == nil || !o.Visible() {
		return false, nil, nil
	}
	if tx, ok := o.(*canvas.Text); ok && tx.Text == rowText {
		return true, nil, nil
	}
	if b, ok := o.(*widget.Button); ok && b.Icon != nil && b.Icon.Name() == icon {
		return false, b, nil
	}
	var kids []fyne.CanvasObject
	switch v := o.(type) {
	case *fyne.Container:
		kids = v.Objects
	case fyne.Widget:
		kids = test.WidgetRenderer(v).Objects()
	}
	for _, k := range kids {
		t, b, f := rowButton(k, rowText, icon)
		if f != nil {
			return true, b, f
		}
		hasText = hasText || t
		if b != nil {
			btn = b
		}
	}
	if hasText && btn != nil {
		return true, btn, btn
	}
	return hasText, btn, nil
}

// openRowMenu taps the "…" button of the sidebar row titled title.
func (h *harness) openRowMenu(title string) {
	h.t.Helper()
	_, _, b := rowButton(h.parts().Conversations, title, theme.MoreHorizontalIcon().Name())
	if b == nil {
		h.t.Fatalf("no menu button on the sidebar row %q", title)
	}
	test.Tap(b)
}

// pacedEngine is the real engine with every streamed piece followed by a
// millisecond's pause: the built-in demo model streams some 20 000 tokens a
// second, so without it a reply can fill its whole context before a test
// presses Stop; a real model streams at 10-50.
type pacedEngine struct{ InferenceEngine }

func (e pacedEngine) Load(path string, opts LoadOptions) (Model, error) {
	m, err := e.InferenceEngine.Load(path, opts)
	if err != nil {
		return nil, err
	}
	return pacedModel{m}, nil
}

type pacedModel struct{ Model }

func (m pacedModel) NewSession(contextLength int) Session {
	return pacedSession{m.Model.NewSession(contextLength)}
}

type pacedSession struct{ Session }

func (s pacedSession) Chat(ctx context.Context, msgs []inference.Message, opts inference.GenerateOptions, onPiece func(inference.Piece)) (inference.Result, error) {
	return s.Session.Chat(ctx, msgs, opts, func(p inference.Piece) {
		onPiece(p)
		time.Sleep(time.Millisecond)
	})
}

// engineModel is the engine's model under the test pacing.
func engineModel(m Model) *inferenceModel { return m.(pacedModel).Model.(*inferenceModel) }
