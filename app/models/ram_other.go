//go:build !linux && !darwin && !windows

package models

// TotalRAM is unknown on this platform.
func TotalRAM() (int64, bool) { return 0, false }
