package models

import (
	"os"
	"path/filepath"
	"runtime"
)

// DirEnv overrides the default models directory.
const DirEnv = "SMALLTHINKER_MODELS"

// DefaultDir is where models live unless the user picks another folder:
// $SMALLTHINKER_MODELS, else the platform's per-user data folder
// (~/.local/share/smallthinker/models, ~/Library/Application Support/SmallThinker/models,
// %LOCALAPPDATA%\SmallThinker\models). Models are large, so not the config or cache dir.
func DefaultDir() string {
	if d := os.Getenv(DirEnv); d != "" {
		return d
	}
	home, _ := os.UserHomeDir()
	switch runtime.GOOS {
	case "windows":
		if d := os.Getenv("LOCALAPPDATA"); d != "" {
			return filepath.Join(d, "SmallThinker", "models")
		}
		return filepath.Join(home, "AppData", "Local", "SmallThinker", "models")
	case "darwin":
		return filepath.Join(home, "Library", "Application Support", "SmallThinker", "models")
	}
	if d := os.Getenv("XDG_DATA_HOME"); d != "" && filepath.IsAbs(d) {
		return filepath.Join(d, "smallthinker", "models")
	}
	return filepath.Join(home, ".local", "share", "smallthinker", "models")
}
