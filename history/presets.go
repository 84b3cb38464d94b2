package history

import (
	"errors"
	"fmt"
	"strings"

	"github.com/dgraph-io/badger/v4"
)

// SavePreset stores (or replaces) a named preset for a model.
func (s *Store) SavePreset(p Preset) error {
	if p.Name == "" || strings.ContainsRune(p.Name, 0) || strings.ContainsRune(p.Model, 0) {
		return errors.New("save preset: the name must be non-empty and model and name must not contain NUL")
	}
	if err := checkSampling(p.Sampling); err != nil {
		return fmt.Errorf("save preset: %w", err)
	}
	p.Updated = s.now().UTC()
	return s.update(func(txn *badger.Txn) error {
		return txn.Set(presetKey(p.Model, p.Name), encodePreset(&p))
	})
}

// Preset returns one preset.
func (s *Store) Preset(model, name string) (Preset, error) {
	var p Preset
	err := s.view(func(txn *badger.Txn) error {
		item, err := txn.Get(presetKey(model, name))
		if errors.Is(err, badger.ErrKeyNotFound) {
			return fmt.Errorf("preset %q for %q: %w", name, model, ErrNotFound)
		}
		if err != nil {
			return err
		}
		return item.Value(func(b []byte) (err error) {
			p, err = decodePreset(b)
			return err
		})
	})
	return p, err
}

// Presets lists a model's presets by name.
func (s *Store) Presets(model string) ([]Preset, error) {
	var out []Preset
	err := s.view(func(txn *badger.Txn) error {
		it := txn.NewIterator(badger.IteratorOptions{Prefix: presetModelPrefix(model), PrefetchValues: true})
		defer it.Close()
		for it.Rewind(); it.Valid(); it.Next() {
			err := it.Item().Value(func(b []byte) error {
				p, err := decodePreset(b)
				if err != nil {
					return fmt.Errorf("preset %q: %w", it.Item().Key(), err)
				}
				out = append(out, p)
				return nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	return out, err
}

// DeletePreset removes a preset; removing a missing one is not an error.
func (s *Store) DeletePreset(model, name string) error {
	return s.update(func(txn *badger.Txn) error { return txn.Delete(presetKey(model, name)) })
}
