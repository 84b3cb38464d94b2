package app

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"

	"smallthinker/app/models"
	"smallthinker/history"
	"smallthinker/ui"
)

// HomeEnv puts everything the app writes (settings, history, models) under
// one directory: for tests, screenshots and portable installs.
const HomeEnv = "SMALLTHINKER_HOME"

// Paths are where the app keeps its data.
type Paths struct {
	Settings string // settings.json
	History  string // the Badger directory
	Models   string
}

// DefaultPaths honours SMALLTHINKER_HOME, else the platform's folders.
func DefaultPaths() (Paths, error) {
	if home := os.Getenv(HomeEnv); home != "" {
		return PathsUnder(home), nil
	}
	hist, err := history.DefaultDir()
	if err != nil {
		return Paths{}, err
	}
	return Paths{
		Settings: filepath.Join(filepath.Dir(hist), "settings.json"),
		History:  hist,
		Models:   models.DefaultDir(),
	}, nil
}

// PathsUnder puts everything in one directory.
func PathsUnder(dir string) Paths {
	return Paths{
		Settings: filepath.Join(dir, "settings.json"),
		History:  filepath.Join(dir, "history"),
		Models:   filepath.Join(dir, "models"),
	}
}

// Config is what the app remembers between runs, besides the history.
type Config struct {
	Settings         ui.Settings      `json:"settings"`
	Budgets          map[string]int64 `json:"budgets"` // per model path, bytes
	LastModel        string           `json:"last_model"`
	LastConversation string           `json:"last_conversation"`
}

// DefaultSettings are the model authors' recommended sampling (spec §5.5).
func DefaultSettings() ui.Settings {
	return ui.Settings{
		Temperature: 0.6, TopK: 20, TopP: 0.95, RepetitionPenalty: 1,
		ContextLength: 4096, Threads: 0, Theme: ui.ThemeSystem, SendKey: ui.SendEnter,
	}
}

// LoadConfig reads path; a missing file gives the defaults. A damaged file
// is kept aside (path + ".bad") so the app still starts.
func LoadConfig(path string) (Config, error) {
	c := Config{Settings: DefaultSettings(), Budgets: map[string]int64{}}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return c, err
	}
	if err := json.Unmarshal(b, &c); err != nil {
		os.Rename(path, path+".bad")
		return Config{Settings: DefaultSettings(), Budgets: map[string]int64{}},
			fmt.Errorf("settings file %s is damaged (%v); it was renamed to %s.bad and defaults are used", path, err, path)
	}
	if c.Budgets == nil {
		c.Budgets = map[string]int64{}
	}
	c.Settings = sanitize(c.Settings)
	return c, nil
}

// sanitize fills values a hand-edited or older file left out or broke.
func sanitize(s ui.Settings) ui.Settings {
	d := DefaultSettings()
	if s.Temperature < 0 || s.Temperature > 2 {
		s.Temperature = d.Temperature
	}
	if s.TopP <= 0 || s.TopP > 1 {
		s.TopP = d.TopP
	}
	if s.TopK < 0 {
		s.TopK = d.TopK
	}
	if s.RepetitionPenalty <= 0 {
		s.RepetitionPenalty = d.RepetitionPenalty
	}
	if s.ContextLength < 256 {
		s.ContextLength = d.ContextLength
	}
	if s.Threads < 0 || s.Threads > 4*runtime.NumCPU() {
		s.Threads = 0
	}
	if s.MaxTokens < 0 {
		s.MaxTokens = 0
	}
	if s.Theme != ui.ThemeLight && s.Theme != ui.ThemeDark {
		s.Theme = ui.ThemeSystem
	}
	if s.SendKey != ui.SendCtrlEnter {
		s.SendKey = ui.SendEnter
	}
	return s
}

// Save writes the config atomically (temp file + rename).
func (c Config) Save(path string) error {
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
