package models

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// importsFile lists models imported in place (they stay where the user keeps them).
const importsFile = "imported.json"

type importList struct {
	Paths []string `json:"paths"`
}

// Installed lists the models in dir plus those imported in place, each
// described from its GGUF header. Unusable files are listed too, with Err
// saying why, so the user can see and remove them. Real models come first,
// demo/random ones last.
func Installed(dir string) ([]Info, error) {
	entries, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	var out []Info
	for _, de := range entries {
		if de.IsDir() || !strings.EqualFold(filepath.Ext(de.Name()), ".gguf") {
			continue
		}
		out = append(out, describe(filepath.Join(dir, de.Name()), false))
	}
	for _, p := range readImports(dir).Paths {
		out = append(out, describe(p, true))
	}
	sort.SliceStable(out, func(a, b int) bool {
		if out[a].Demo != out[b].Demo {
			return !out[a].Demo
		}
		return strings.ToLower(out[a].Name) < strings.ToLower(out[b].Name)
	})
	return out, nil
}

func describe(path string, imported bool) Info {
	info, err := Inspect(path)
	if err != nil {
		i := Info{Path: path, Name: filepath.Base(path), Imported: imported, Err: err}
		if errors.Is(err, fs.ErrNotExist) {
			i.Err = fmt.Errorf("%s: the file no longer exists (moved, deleted or its drive is not connected)", path)
		}
		if st, serr := os.Stat(path); serr == nil {
			i.Size = st.Size()
		}
		return i
	}
	info.Imported = imported
	return *info
}

// Import validates path (without loading weights) and adds it to dir: copied
// into dir when copy is true, otherwise recorded and used where it is.
func Import(path, dir string, copy bool) (*Info, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, err
	}
	info, err := Inspect(abs)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("models directory: %w", err)
	}
	absDir, err := filepath.Abs(dir)
	if err != nil {
		return nil, err
	}
	if filepath.Dir(abs) == absDir {
		return info, nil // already in the models directory
	}
	if !copy {
		l := readImports(dir)
		for _, p := range l.Paths {
			if p == abs {
				info.Imported = true
				return info, nil
			}
		}
		l.Paths = append(l.Paths, abs)
		if err := writeImports(dir, l); err != nil {
			return nil, err
		}
		info.Imported = true
		return info, nil
	}
	dst := filepath.Join(dir, filepath.Base(abs))
	if _, err := os.Stat(dst); err == nil {
		return nil, &DownloadError{Kind: ErrExists, Detail: fmt.Sprintf("%s is already in the models folder", filepath.Base(abs))}
	}
	if free, ok := freeSpace(dir); ok && free < info.Size {
		return nil, &DownloadError{Kind: ErrDiskFull, Detail: fmt.Sprintf("copying %s needs %s but only %s is free in %s", filepath.Base(abs), HumanBytes(info.Size), HumanBytes(free), dir)}
	}
	if err := copyFile(abs, dst); err != nil {
		return nil, err
	}
	return Inspect(dst)
}

// copyFile copies via dst+".part" and renames, so dst is whole or absent.
func copyFile(src, dst string) (err error) {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	tmp := dst + ".part"
	out, err := os.Create(tmp)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			out.Close()
			os.Remove(tmp)
		}
	}()
	if _, err = io.Copy(out, in); err != nil {
		return fmt.Errorf("copying %s: %w", filepath.Base(src), err)
	}
	if err = out.Sync(); err != nil {
		return err
	}
	if err = out.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, dst)
}

// Remove takes a model out of the list: a file inside dir is deleted, an
// in-place import is only forgotten (the user's file is left alone).
func Remove(dir, path string) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return err
	}
	l := readImports(dir)
	for i, p := range l.Paths {
		if p == abs {
			l.Paths = append(l.Paths[:i], l.Paths[i+1:]...)
			return writeImports(dir, l)
		}
	}
	absDir, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	if filepath.Dir(abs) != absDir {
		return fmt.Errorf("%s is not in the models folder %s", path, dir)
	}
	return os.Remove(abs)
}

// ScanResult is one .gguf found by ScanFolder.
type ScanResult struct {
	Path string
	Info *Info
	Err  error
}

// ScanFolder finds every .gguf under folder (hidden directories skipped) and
// verifies each, so the user can pick which to import.
func ScanFolder(folder string) ([]ScanResult, error) {
	var out []ScanResult
	err := filepath.WalkDir(folder, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == folder {
				return err
			}
			return nil // unreadable subfolder: skip it
		}
		if d.IsDir() {
			if p != folder && strings.HasPrefix(d.Name(), ".") {
				return filepath.SkipDir
			}
			return nil
		}
		if strings.EqualFold(filepath.Ext(p), ".gguf") {
			info, ierr := Inspect(p)
			out = append(out, ScanResult{Path: p, Info: info, Err: ierr})
		}
		return nil
	})
	return out, err
}

func readImports(dir string) importList {
	var l importList
	b, err := os.ReadFile(filepath.Join(dir, importsFile))
	if err == nil {
		json.Unmarshal(b, &l) // a damaged list reads as empty; files are never touched
	}
	return l
}

func writeImports(dir string, l importList) error {
	b, err := json.MarshalIndent(l, "", "  ")
	if err != nil {
		return err
	}
	p := filepath.Join(dir, importsFile)
	if err := os.WriteFile(p+".tmp", b, 0o644); err != nil {
		return err
	}
	return os.Rename(p+".tmp", p)
}
