// Package models manages SmallThinker model files: the download catalog,
// resumable verified downloads, importing and verifying local GGUF files, the
// models directory and the built-in demo model. It has no UI: the app and the
// CLI call it.
package models

import (
	"encoding/json"
	"fmt"
	"net/url"
	"path"
	"sort"
	"strings"

	"smallthinker/assets"
)

// Entry is one downloadable model file.
type Entry struct {
	ID             string `json:"id"`
	Name           string `json:"name"`
	Family         string `json:"family"` // e.g. SmallThinker-4B-A0.6B-Instruct
	Quant          string `json:"quant"`  // e.g. Q4_0
	Official       bool   `json:"official"`
	Publisher      string `json:"publisher"`
	URL            string `json:"url"`
	File           string `json:"file"`       // file name in the models directory
	Size           int64  `json:"size"`       // bytes; 0 = unknown
	SizeExact      bool   `json:"size_exact"` // false: Size is the rounded size the hub shows
	SHA256         string `json:"sha256"`     // lower-case hex; "" = not published
	MinRAM         int64  `json:"min_ram"`
	RecommendedRAM int64  `json:"recommended_ram"`
	Recommended    bool   `json:"recommended"` // a candidate for Recommend
	URLVerified    bool   `json:"url_verified"`
	Description    string `json:"description,omitempty"`
}

type catalogFile struct {
	Version int     `json:"version"`
	Models  []Entry `json:"models"`
}

// ParseCatalog decodes and checks catalog JSON.
func ParseCatalog(data []byte) ([]Entry, error) {
	var c catalogFile
	if err := json.Unmarshal(data, &c); err != nil {
		return nil, fmt.Errorf("model catalog: %w", err)
	}
	if c.Version != 1 {
		return nil, fmt.Errorf("model catalog: version %d, want 1", c.Version)
	}
	seen := map[string]bool{}
	for i, e := range c.Models {
		switch {
		case e.ID == "" || seen[e.ID]:
			return nil, fmt.Errorf("model catalog: entry %d: missing or duplicate id %q", i, e.ID)
		case e.URL == "" || e.File == "" || strings.ContainsAny(e.File, `/\`) || !strings.HasSuffix(e.File, ".gguf"):
			return nil, fmt.Errorf("model catalog: %s: needs a url and a plain .gguf file name", e.ID)
		case e.SHA256 != "" && !isHex64(e.SHA256):
			return nil, fmt.Errorf("model catalog: %s: sha256 %q is not 64 hex digits", e.ID, e.SHA256)
		}
		seen[e.ID] = true
		c.Models[i].SHA256 = strings.ToLower(e.SHA256)
	}
	return c.Models, nil
}

// Catalog returns the built-in catalog, official files first.
func Catalog() []Entry {
	es, err := ParseCatalog(assets.CatalogJSON)
	if err != nil {
		panic(err) // the embedded catalog is checked by the tests
	}
	sort.SliceStable(es, func(a, b int) bool { return es[a].Official && !es[b].Official })
	return es
}

// Find returns the catalog entry with this id (case-insensitive).
func Find(id string) (Entry, bool) {
	for _, e := range Catalog() {
		if strings.EqualFold(e.ID, id) {
			return e, true
		}
	}
	return Entry{}, false
}

// EntryForURL makes an ad-hoc entry for a user-supplied URL.
func EntryForURL(raw, sha256 string) (Entry, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return Entry{}, fmt.Errorf("%q is not an http(s) URL", raw)
	}
	name := path.Base(u.Path)
	if name == "" || name == "/" || name == "." || !strings.HasSuffix(strings.ToLower(name), ".gguf") {
		return Entry{}, fmt.Errorf("URL %q does not name a .gguf file", raw)
	}
	sha256 = strings.ToLower(sha256)
	if sha256 != "" && !isHex64(sha256) {
		return Entry{}, fmt.Errorf("--sha256 %q is not 64 hex digits", sha256)
	}
	return Entry{ID: strings.TrimSuffix(name, ".gguf"), Name: name, URL: raw, File: name, SHA256: sha256}, nil
}

// Recommend picks the catalog file to suggest for a machine with totalRAM
// bytes: among recommended entries with a confirmed URL, the one with the
// largest RecommendedRAM that fits, or, if none fits, the one needing the
// least memory.
func Recommend(totalRAM int64) Entry {
	var best, smallest *Entry
	es := Catalog()
	for i := range es {
		e := &es[i]
		if !e.Recommended || !e.URLVerified {
			continue // never steer users to a file that may not exist
		}
		if smallest == nil || e.MinRAM < smallest.MinRAM {
			smallest = e
		}
		if e.RecommendedRAM <= totalRAM && (best == nil || e.RecommendedRAM > best.RecommendedRAM) {
			best = e
		}
	}
	if best == nil {
		best = smallest
	}
	return *best
}

func isHex64(s string) bool {
	if len(s) != 64 {
		return false
	}
	for _, c := range strings.ToLower(s) {
		if !strings.ContainsRune("0123456789abcdef", c) {
			return false
		}
	}
	return true
}
