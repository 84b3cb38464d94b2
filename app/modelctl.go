package app

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"smallthinker/app/models"
	"smallthinker/ui"
)

// modelChoice is a picker entry: an installed file, or a catalog model that
// can be downloaded.
type modelChoice struct {
	ui.ModelChoice
	path  string        // installed file; "" if not installed
	entry *models.Entry // catalog entry, if any
	demo  bool
}

const catalogPrefix = "catalog:"

// listModels merges the catalog with the files in the models directory.
// It reads files: call it off the UI goroutine.
func listModels(dir string) ([]modelChoice, error) {
	installed, err := models.Installed(dir)
	if err != nil {
		return nil, err
	}
	if len(installed) == 0 || allUnusable(installed) {
		if _, err := models.EnsureDemo(dir); err != nil {
			return nil, fmt.Errorf("creating the demo model: %w", err)
		}
		if installed, err = models.Installed(dir); err != nil {
			return nil, err
		}
	}
	var out []modelChoice
	byFile := map[string]bool{}
	for _, e := range models.Catalog() {
		e := e
		if !e.Official && !catalogInstalled(installed, e) {
			continue // community builds appear once downloaded; the picker stays short
		}
		ch := modelChoice{ModelChoice: ui.ModelChoice{ID: catalogPrefix + e.ID, Name: shortName(e), Size: e.Size, Quant: e.Quant}, entry: &e}
		for _, in := range installed {
			if in.Err == nil && !in.Imported && filepath.Base(in.Path) == e.File {
				ch.ID, ch.path, ch.Installed, ch.Size = in.Path, in.Path, true, in.Size
				byFile[in.Path] = true
			}
		}
		out = append(out, ch)
	}
	for _, in := range installed {
		if byFile[in.Path] || in.Err != nil {
			continue
		}
		note := ""
		switch {
		case in.Demo:
			note = "demo: random weights"
		case in.Imported:
			note = "imported"
		}
		name := in.Name
		if in.Demo && filepath.Base(in.Path) == models.DemoFile {
			name = "Demo model (built in)"
		}
		out = append(out, modelChoice{
			ModelChoice: ui.ModelChoice{ID: in.Path, Name: name, Installed: true, Size: in.Size, Quant: in.Quant, Note: note},
			path:        in.Path, demo: in.Demo,
		})
	}
	return out, nil
}

func catalogInstalled(installed []models.Info, e models.Entry) bool {
	for _, in := range installed {
		if in.Err == nil && filepath.Base(in.Path) == e.File {
			return true
		}
	}
	return false
}

func allUnusable(in []models.Info) bool {
	for _, i := range in {
		if i.Err == nil {
			return false
		}
	}
	return true
}

// shortName drops the catalog's long suffixes: "SmallThinker 4B-A0.6B Instruct".
func shortName(e models.Entry) string {
	n := e.Name
	if i := strings.Index(n, " · "); i > 0 {
		n = n[:i]
	}
	return n
}

func (c *Controller) uiChoices() []ui.ModelChoice {
	out := make([]ui.ModelChoice, len(c.models))
	for i, m := range c.models {
		out[i] = m.ModelChoice
	}
	return out
}

func (c *Controller) findChoice(id string) (modelChoice, bool) {
	for _, m := range c.models {
		if m.ID == id {
			return m, true
		}
	}
	return modelChoice{}, false
}

func (c *Controller) modelName() string {
	if ch, ok := c.findChoice(c.modelPath); ok {
		return ch.Name
	}
	return filepath.Base(c.modelPath)
}

// refreshModels rescans the models directory; autoload loads the last used
// (or best installed) model when none is loaded, or the model with ID load.
func (c *Controller) refreshModels(autoload bool, load ...string) {
	c.goAsync(func() {
		list, err := listModels(c.paths.Models)
		c.post(func() {
			if err != nil {
				c.view.ShowError(fmt.Errorf("listing models in %s: %w", c.paths.Models, err))
				return
			}
			c.models = list
			c.view.SetModels(c.uiChoices(), c.modelPath)
			if len(load) > 0 {
				c.SelectModel(load[0])
				return
			}
			if autoload && c.modelPath == "" {
				if id := c.defaultModel(); id != "" {
					c.SelectModel(id)
				}
			}
		})
	})
}

// defaultModel: the last one used if still installed, else the first real
// installed model, else the demo.
func (c *Controller) defaultModel() string {
	if ch, ok := c.findChoice(c.cfg.LastModel); ok && ch.Installed {
		return ch.ID
	}
	var demo string
	for _, m := range c.models {
		if m.Installed && !m.demo {
			return m.ID
		}
		if m.Installed && demo == "" {
			demo = m.ID
		}
	}
	return demo
}

// SelectModel loads an installed model (unloading the current one) or
// offers to download a catalog model.
func (c *Controller) SelectModel(id string) {
	ch, ok := c.findChoice(id)
	if !ok {
		return
	}
	if !ch.Installed {
		c.download(ch)
		return
	}
	running := c.cancelGeneration()
	c.loadGen++
	gen := c.loadGen
	old := c.model
	c.model, c.session = nil, nil
	c.modelPath = ch.path
	c.view.SetModels(c.uiChoices(), c.modelPath)
	c.view.SetBudget(ui.Budget{})
	c.view.SetLoading("Loading " + ch.Name + "…")
	opts := LoadOptions{
		Threads:       c.cfg.Settings.Threads,
		BudgetBytes:   c.cfg.Budgets[ch.path],
		ContextLength: c.cfg.Settings.ContextLength,
	}
	c.goAsync(func() {
		if running != nil {
			<-running // the engine stops within one token; then the old model can go
		}
		if old != nil {
			old.Close()
		}
		m, err := c.engine.Load(ch.path, opts)
		c.post(func() {
			if gen != c.loadGen || c.closing { // another model was chosen meanwhile
				if m != nil {
					m.Close()
				}
				return
			}
			c.view.SetLoading("")
			if err != nil {
				c.modelPath = ""
				c.view.SetModels(c.uiChoices(), "")
				c.view.ShowError(fmt.Errorf("loading %s: %w", ch.Name, err))
				return
			}
			c.model = m
			c.cfg.LastModel = ch.path
			c.saveConfig()
			if b := c.currentBudget(); b != opts.BudgetBytes {
				c.SetBudget(b) // e.g. first load: fit the free RAM
			} else {
				c.showBudget(b)
			}
			if ch.demo {
				c.view.SetStatus(models.DemoNotice, false)
			}
		})
	})
}

// currentBudget is the remembered budget for the loaded model, clamped to
// what the model can use.
func (c *Controller) currentBudget() int64 {
	info := c.model.Info()
	b, ok := c.cfg.Budgets[c.modelPath]
	if !ok || b <= 0 {
		b = info.MaxBudget
		if free := FreeRAM(); free > 0 && b > free*9/10 {
			b = free * 9 / 10 // leave the rest of the machine room to breathe
		}
	}
	return max(info.MinBudget, min(info.MaxBudget, b))
}

func (c *Controller) showBudget(b int64) {
	if c.model == nil {
		c.view.SetBudget(ui.Budget{})
		return
	}
	info := c.model.Info()
	bd := c.model.Breakdown(b)
	c.view.SetBudget(ui.Budget{
		Min: info.MinBudget, Max: info.MaxBudget, Value: b,
		Resident: bd.Resident, ExpertCache: bd.ExpertCache, ExpertTotal: bd.ExpertTotal,
		KVCache: bd.KVCache, Scratch: bd.Scratch, ContextLength: info.ContextLength,
		FreeRAM: FreeRAM(), Enabled: true,
	})
}

// SetBudget applies a memory budget to the loaded model, live, and
// remembers it for that model.
func (c *Controller) SetBudget(bytes int64) {
	m := c.model
	if m == nil {
		return
	}
	info := m.Info()
	bytes = max(info.MinBudget, min(info.MaxBudget, bytes))
	path := c.modelPath
	c.showBudget(bytes)
	gen := c.budgetGen.Add(1)
	c.goAsync(func() { // shrinking the expert cache may take a moment
		c.budgetMu.Lock()
		defer c.budgetMu.Unlock()
		if gen != c.budgetGen.Load() {
			return // a newer budget was chosen meanwhile: only the last one applies
		}
		err := m.SetBudget(bytes)
		c.post(func() {
			if err != nil {
				c.view.ShowError(fmt.Errorf("setting the memory budget: %w", err))
				return
			}
			c.cfg.Budgets[path] = bytes
			c.saveConfig()
		})
	})
}

// ImportModel adds a GGUF from elsewhere (used in place, not copied).
func (c *Controller) ImportModel(path string) {
	c.view.SetLoading("Checking " + filepath.Base(path) + "…")
	c.goAsync(func() {
		info, err := models.Import(path, c.paths.Models, false)
		c.post(func() {
			c.view.SetLoading("")
			if err != nil {
				c.view.ShowError(fmt.Errorf("importing %s: %w", filepath.Base(path), err))
				return
			}
			c.refreshModels(false, info.Path)
		})
	})
}

// download fetches a catalog model, showing progress; it resumes if an
// earlier download was interrupted.
func (c *Controller) download(ch modelChoice) {
	if ch.entry == nil {
		return
	}
	e := *ch.entry
	c.view.SetLoading("Downloading " + ch.Name + "…")
	c.goAsync(func() {
		if err := os.MkdirAll(c.paths.Models, 0o755); err != nil {
			c.fail(err)
			return
		}
		path, err := models.Download(context.Background(), e, c.paths.Models, func(p models.Progress) {
			text := fmt.Sprintf("Downloading %s: %s", ch.Name, p.Phase)
			if f := p.Fraction(); f >= 0 {
				text = fmt.Sprintf("Downloading %s: %.0f%% of %s", ch.Name, 100*f, ui.FormatSize(p.Total))
			}
			c.post(func() { c.view.SetLoading(text) })
		})
		c.post(func() {
			c.view.SetLoading("")
			if err != nil {
				var de *models.DownloadError
				if errors.As(err, &de) {
					c.view.ShowError(fmt.Errorf("downloading %s: %w", ch.Name, de))
				} else {
					c.view.ShowError(fmt.Errorf("downloading %s: %w", ch.Name, err))
				}
				c.view.SetModels(c.uiChoices(), c.modelPath)
				return
			}
			c.refreshModels(false, path)
		})
	})
}

// ApplySettings stores new settings; threads apply live, a new context
// length reloads the model (its KV cache is sized at load).
func (c *Controller) ApplySettings(s ui.Settings) {
	s = sanitize(s)
	old := c.cfg.Settings
	c.cfg.Settings = s
	c.saveConfig()
	c.view.SetSettings(s)
	if c.model != nil && s.Threads != old.Threads {
		c.model.SetThreads(s.Threads)
	}
	if s.ContextLength != old.ContextLength && c.modelPath != "" {
		c.SelectModel(c.modelPath)
	}
}
