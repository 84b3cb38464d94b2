package ui

import (
	"fmt"
	"image/color"
	"strconv"
	"strings"

	"fyne.io/fyne/v2"
	"fyne.io/fyne/v2/canvas"
	"fyne.io/fyne/v2/container"
	"fyne.io/fyne/v2/dialog"
	"fyne.io/fyne/v2/storage"
	"fyne.io/fyne/v2/theme"
	"fyne.io/fyne/v2/widget"
)

// modelPanel is the right-hand column: the model picker and the memory
// budget with what it buys.
type modelPanel struct {
	main *Main

	choices  []ModelChoice
	selected string
	pick     *widget.Select
	details  *widget.Label
	importB  *widget.Button
	getB     *widget.Button // "Get the real model" while the demo is loaded
	getID    string         // the choice getB selects
	loading  *widget.ProgressBarInfinite
	loadText *widget.Label

	budget   Budget
	slider   *widget.Slider
	entry    *widget.Entry // GB
	bar      *budgetBar
	rows     map[string]*widget.Label
	note     *widget.Label
	updating bool // set while code (not the user) moves the slider

	root fyne.CanvasObject
}

const (
	kib = 1 << 10
	mib = 1 << 20
)

// sliderStep is a power-of-two KiB step giving the slider about 200 stops.
func sliderStep(rangeKiB int64) float64 {
	step := int64(1)
	for step*2 <= rangeKiB/200 {
		step *= 2
	}
	return float64(step)
}

func (p *modelPanel) clamp(v int64) int64 {
	return max(p.budget.Min, min(p.budget.Max, v))
}

func newModelPanel(m *Main) *modelPanel {
	p := &modelPanel{main: m, rows: map[string]*widget.Label{}}
	p.pick = widget.NewSelect(nil, func(label string) {
		if p.updating {
			return
		}
		for _, c := range p.choices {
			if choiceLabel(c) == label && c.ID != p.selected {
				p.selected = c.ID
				m.actions.SelectModel(c.ID)
			}
		}
	})
	p.pick.PlaceHolder = "Choose a model"
	p.details = widget.NewLabel("")
	p.details.Wrapping = fyne.TextWrapWord
	p.importB = widget.NewButtonWithIcon("Import GGUF…", theme.FolderOpenIcon(), p.importFile)
	// With the demo model loaded, offer the real model in one click.
	p.getB = widget.NewButtonWithIcon("", theme.DownloadIcon(), func() {
		if p.getID != "" {
			p.selected = p.getID
			m.actions.SelectModel(p.getID)
		}
	})
	p.getB.Importance = widget.HighImportance
	p.getB.Hide()
	p.loading = widget.NewProgressBarInfinite()
	p.loading.Hide()
	p.loadText = widget.NewLabel("")
	p.loadText.Wrapping = fyne.TextWrapWord
	p.loadText.Hide()

	p.slider = widget.NewSlider(0, 1) // in KiB, so the tiny demo model gets a usable range too
	p.slider.OnChanged = func(v float64) {
		if !p.updating {
			p.entry.SetText(formatGB(int64(v) * kib))
		}
	}
	p.slider.OnChangeEnded = func(v float64) {
		if !p.updating {
			m.actions.SetBudget(p.clamp(int64(v) * kib))
		}
	}
	p.entry = widget.NewEntry()
	p.entry.OnSubmitted = func(s string) { p.submitEntry(s) }
	p.entry.Validator = func(s string) error {
		_, err := parseGB(s)
		return err
	}
	p.bar = newBudgetBar()

	form := container.New(&twoColumns{})
	for _, k := range []string{"Resident weights", "Expert cache", "KV cache", "Scratch", "Total", "Free RAM"} {
		key := widget.NewLabel(k)
		val := widget.NewLabelWithStyle("–", fyne.TextAlignTrailing, fyne.TextStyle{Monospace: true})
		p.rows[k] = val
		form.Add(key)
		form.Add(val)
	}
	p.note = widget.NewLabel("")
	p.note.Wrapping = fyne.TextWrapWord
	p.note.SizeName = theme.SizeNameCaptionText

	heading := func(s string) *widget.Label {
		l := widget.NewLabelWithStyle(s, fyne.TextAlignLeading, fyne.TextStyle{Bold: true})
		return l
	}
	gbLabel := widget.NewLabel("GB")
	p.root = container.NewVBox(
		heading("Model"), p.pick, p.details, p.getB, p.loading, p.loadText, p.importB,
		widget.NewSeparator(),
		heading("Memory budget"),
		container.NewBorder(nil, nil, nil, container.NewHBox(container.NewGridWrap(fyne.NewSize(76, p.entry.MinSize().Height), p.entry), gbLabel), p.slider),
		p.bar, form, p.note,
	)
	p.setBudget(Budget{})
	return p
}

func choiceLabel(c ModelChoice) string {
	var parts []string
	parts = append(parts, c.Name)
	if c.Quant != "" {
		parts = append(parts, c.Quant)
	}
	if c.Size > 0 {
		parts = append(parts, FormatSize(c.Size))
	}
	s := strings.Join(parts, " · ")
	if !c.Installed {
		s += " (not installed)"
	}
	return s
}

func (p *modelPanel) setModels(choices []ModelChoice, selected string) {
	p.choices = append([]ModelChoice(nil), choices...)
	p.selected = selected
	labels := make([]string, len(choices))
	sel := ""
	for i, c := range choices {
		labels[i] = choiceLabel(c)
		if c.ID == selected {
			sel = labels[i]
			p.showDetails(c)
		}
	}
	p.updating = true
	p.pick.SetOptions(labels)
	p.pick.SetSelected(sel)
	p.updating = false
	if sel == "" {
		p.details.SetText("No model loaded.")
	}
}

func (p *modelPanel) showDetails(c ModelChoice) {
	p.getID = ""
	if strings.HasPrefix(c.Note, "demo") {
		for _, o := range p.choices {
			if !o.Installed {
				p.getID = o.ID
				p.getB.SetText("Get the real model: " + o.Name)
				break
			}
		}
	}
	if p.getID != "" {
		p.getB.Show()
	} else {
		p.getB.Hide()
	}
	var parts []string
	if c.Installed {
		parts = append(parts, "Installed")
	} else {
		parts = append(parts, "Not installed")
	}
	if c.Size > 0 {
		parts = append(parts, FormatSize(c.Size))
	}
	if c.Quant != "" {
		parts = append(parts, c.Quant)
	}
	if c.Note != "" {
		parts = append(parts, c.Note)
	}
	p.details.SetText(strings.Join(parts, " · "))
}

func (p *modelPanel) setLoading(text string) {
	if text == "" {
		p.loading.Stop()
		p.loading.Hide()
		p.loadText.Hide()
		p.pick.Enable()
		return
	}
	p.loadText.SetText(text)
	p.loadText.Show()
	p.loading.Show()
	p.loading.Start()
	p.pick.Disable()
}

func (p *modelPanel) setBudget(b Budget) {
	p.budget = b
	p.updating = true
	defer func() { p.updating = false }()
	if !b.Enabled || b.Max <= 0 {
		p.slider.Disable()
		p.entry.Disable()
		p.entry.SetText("")
		for _, l := range p.rows {
			l.SetText("–")
		}
		p.bar.set(Budget{})
		p.note.SetText("Load a model to set how much RAM it may use.")
		return
	}
	p.slider.Enable()
	p.entry.Enable()
	p.slider.Min = float64(b.Min / kib)
	p.slider.Max = float64((b.Max + kib - 1) / kib)
	p.slider.Step = sliderStep(b.Max/kib - b.Min/kib)
	p.slider.Value = float64(b.Value / kib)
	p.slider.Refresh()
	p.entry.SetText(formatGB(b.Value))
	share := 100.0
	if b.ExpertTotal > 0 {
		share = 100 * float64(b.ExpertCache) / float64(b.ExpertTotal)
	}
	total := b.Resident + b.ExpertCache + b.KVCache + b.Scratch
	p.rows["Resident weights"].SetText(FormatSize(b.Resident))
	p.rows["Expert cache"].SetText(fmt.Sprintf("%s (%.0f%%)", FormatSize(b.ExpertCache), share))
	p.rows["KV cache"].SetText(fmt.Sprintf("%s (%d tok)", FormatSize(b.KVCache), b.ContextLength))
	p.rows["Scratch"].SetText(FormatSize(b.Scratch))
	p.rows["Total"].SetText(FormatSize(total))
	if b.FreeRAM > 0 {
		p.rows["Free RAM"].SetText(FormatSize(b.FreeRAM))
	} else {
		p.rows["Free RAM"].SetText("unknown")
	}
	p.bar.set(b)
	switch {
	case b.FreeRAM > 0 && b.Value > b.FreeRAM:
		p.note.SetText("More than the free RAM: the system may swap. Lower the budget.")
		p.note.Importance = widget.WarningImportance
	case share >= 99.5:
		p.note.SetText("All experts fit in RAM: no SSD reads while generating.")
		p.note.Importance = widget.SuccessImportance
	default:
		p.note.SetText(fmt.Sprintf("%.0f%% of the experts stay in RAM; the rest are read from the SSD when the model needs them.", share))
		p.note.Importance = widget.MediumImportance
	}
	p.note.Refresh()
}

func (p *modelPanel) submitEntry(s string) {
	v, err := parseGB(s)
	if err != nil || !p.budget.Enabled {
		return
	}
	p.main.actions.SetBudget(p.clamp(v))
}

func (p *modelPanel) importFile() {
	d := dialog.NewFileOpen(func(r fyne.URIReadCloser, err error) {
		if err != nil || r == nil {
			return
		}
		path := r.URI().Path()
		r.Close()
		p.main.actions.ImportModel(path)
	}, p.main.win)
	d.SetFilter(storage.NewExtensionFileFilter([]string{".gguf"}))
	d.Show()
}

// formatGB shows bytes as GB: two decimals ("2.41"), more for tiny models.
func formatGB(b int64) string {
	gb := float64(b) / (1 << 30)
	if gb > 0 && gb < 0.1 {
		return strconv.FormatFloat(gb, 'f', 4, 64)
	}
	return strconv.FormatFloat(gb, 'f', 2, 64)
}

// FormatSize shows bytes in KB, MB or GB.
func FormatSize(b int64) string {
	if b < 1<<20 {
		return fmt.Sprintf("%.0f KB", float64(b)/1024)
	}
	if b < 1<<30 {
		return fmt.Sprintf("%.0f MB", float64(b)/mib)
	}
	return fmt.Sprintf("%.2f GB", float64(b)/(1<<30))
}

func parseGB(s string) (int64, error) {
	v, err := strconv.ParseFloat(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(s), "GB")), 64)
	if err != nil || v <= 0 || v > 1<<14 {
		return 0, fmt.Errorf("enter the budget in GB, e.g. 3.5")
	}
	return int64(v * (1 << 30)), nil
}

// budgetBar draws the budget split: resident weights, expert cache, KV cache
// and scratch, in proportion to the slider's maximum.
type budgetBar struct {
	widget.BaseWidget
	b     Budget
	track *canvas.Rectangle
	parts []*canvas.Rectangle
}

func newBudgetBar() *budgetBar {
	bb := &budgetBar{track: canvas.NewRectangle(color.Transparent)}
	bb.track.CornerRadius = 3
	for range 4 {
		bb.parts = append(bb.parts, canvas.NewRectangle(color.Transparent))
	}
	bb.ExtendBaseWidget(bb)
	return bb
}

func (bb *budgetBar) set(b Budget) {
	bb.b = b
	bb.Refresh()
}

func (bb *budgetBar) CreateRenderer() fyne.WidgetRenderer {
	objs := []fyne.CanvasObject{bb.track}
	for _, p := range bb.parts {
		objs = append(objs, p)
	}
	return &budgetBarRenderer{bb: bb, objs: objs}
}

type budgetBarRenderer struct {
	bb   *budgetBar
	objs []fyne.CanvasObject
}

func (r *budgetBarRenderer) Destroy()                     {}
func (r *budgetBarRenderer) Objects() []fyne.CanvasObject { return r.objs }
func (r *budgetBarRenderer) MinSize() fyne.Size           { return fyne.NewSize(40, 10) }

func (r *budgetBarRenderer) Layout(s fyne.Size) {
	r.bb.track.Resize(s)
	b := r.bb.b
	vals := []int64{b.Resident, b.ExpertCache, b.KVCache, b.Scratch}
	x := float32(0)
	for i, p := range r.bb.parts {
		w := float32(0)
		if b.Max > 0 {
			w = s.Width * float32(vals[i]) / float32(b.Max)
		}
		if x+w > s.Width {
			w = s.Width - x
		}
		p.Move(fyne.NewPos(x, 0))
		p.Resize(fyne.NewSize(w, s.Height))
		x += w
	}
}

func (r *budgetBarRenderer) Refresh() {
	r.bb.track.FillColor = theme.Color(theme.ColorNameInputBackground)
	names := []fyne.ThemeColorName{theme.ColorNamePrimary, theme.ColorNameSuccess, theme.ColorNameWarning, theme.ColorNameDisabled}
	for i, p := range r.bb.parts {
		p.FillColor = theme.Color(names[i])
	}
	r.Layout(r.bb.Size())
	for _, o := range r.objs {
		o.Refresh()
	}
}

// twoColumns lays out key/value pairs: keys at their width, values fill the rest.
type twoColumns struct{}

func (twoColumns) MinSize(objs []fyne.CanvasObject) fyne.Size {
	var kw, vw, h float32
	for i := 0; i+1 < len(objs); i += 2 {
		k, v := objs[i].MinSize(), objs[i+1].MinSize()
		kw, vw = max(kw, k.Width), max(vw, v.Width)
		h += max(k.Height, v.Height)
	}
	return fyne.NewSize(kw+vw, h)
}

func (twoColumns) Layout(objs []fyne.CanvasObject, s fyne.Size) {
	var kw float32
	for i := 0; i+1 < len(objs); i += 2 {
		kw = max(kw, objs[i].MinSize().Width)
	}
	y := float32(0)
	for i := 0; i+1 < len(objs); i += 2 {
		h := max(objs[i].MinSize().Height, objs[i+1].MinSize().Height)
		objs[i].Move(fyne.NewPos(0, y))
		objs[i].Resize(fyne.NewSize(kw, h))
		objs[i+1].Move(fyne.NewPos(kw, y))
		objs[i+1].Resize(fyne.NewSize(s.Width-kw, h))
		y += h
	}
}
