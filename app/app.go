// Package app wires the engine, the history store and the UI together: the
// model lifecycle, generation sessions on their own goroutines, the event
// bridge to the UI, settings. It draws nothing itself (see package ui).
package app

import (
	"errors"
	"fmt"
	"log"
	"os"
	"os/signal"
	"syscall"

	"fyne.io/fyne/v2"
	fyneapp "fyne.io/fyne/v2/app"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/widget"

	"smallthinker/assets"
	"smallthinker/history"
	"smallthinker/ui"
)

// ID is the app ID (FyneApp.toml); it namespaces Fyne's own storage.
const ID = "chat.smallthinker.app"

// Main opens the main window and blocks until it closes.
func Main() {
	a := fyneapp.NewWithID(ID)
	a.SetIcon(fyne.NewStaticResource("icon.png", assets.IconPNG))
	w := a.NewWindow("SmallThinker Chat")
	w.Resize(fyne.NewSize(1280, 800))

	paths, err := DefaultPaths()
	if err != nil {
		fatal(w, err)
		return
	}
	cfg, cfgErr := LoadConfig(paths.Settings)
	store, err := openHistory(paths.History)
	if err != nil {
		fatal(w, err)
		return
	}
	defer store.Close()

	a.Settings().SetTheme(ui.ThemeFor(cfg.Settings.Theme)) // before any widget is drawn
	view := ui.New(a, w, nil)
	c := NewController(view, fyne.Do, store, InferenceEngine{}, paths, cfg)
	view.SetActions(c)
	w.SetContent(view.Content())
	w.SetMaster()
	w.SetCloseIntercept(func() {
		c.Close()
		w.Close()
	})
	// Ctrl+C or a logout: close the history cleanly, as the window's close does.
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	go func() {
		<-sig
		fyne.Do(func() {
			c.Close()
			a.Quit()
		})
	}()
	c.Start()
	if cfgErr != nil {
		view.ShowError(cfgErr)
	}
	view.FocusComposer()
	w.ShowAndRun()
	c.Close()
}

// openHistory opens the store; a damaged one is moved aside (kept, never
// deleted) so the app can start with a fresh history.
func openHistory(dir string) (*history.Store, error) {
	store, err := history.Open(dir)
	if errors.Is(err, history.ErrCorrupt) {
		aside, merr := history.MoveAside(dir)
		if merr != nil {
			return nil, fmt.Errorf("%w; moving it aside also failed: %v", err, merr)
		}
		log.Printf("history: %v; the damaged copy is kept in %s", err, aside)
		store, err = history.Open(dir)
	}
	if errors.Is(err, history.ErrLocked) {
		return nil, fmt.Errorf("SmallThinker Chat is already running (the chat history in %s is in use)", dir)
	}
	return store, err
}

// fatal shows an error that keeps the app from starting, then exits.
func fatal(w fyne.Window, err error) {
	log.Print(err)
	w.SetContent(widget.NewLabel(""))
	d := dialog.NewError(err, w)
	d.SetOnClosed(func() { os.Exit(1) })
	d.Show()
	w.ShowAndRun()
}
