// Package app wires the engine, the history store and the UI together.
package app

import (
	fyneapp "fyne.io/fyne/v2/app"
	"fyne.io/fyne/v2/widget"
)

// Main opens the main window and blocks until it closes.
func Main() {
	a := fyneapp.NewWithID("chat.smallthinker.app")
	w := a.NewWindow("SmallThinker Chat")
	w.SetContent(widget.NewLabel("SmallThinker Chat"))
	w.ShowAndRun()
}
