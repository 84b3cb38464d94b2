package models

import "golang.org/x/sys/unix"

// TotalRAM returns the machine's physical memory in bytes (0, false if unknown).
func TotalRAM() (int64, bool) {
	n, err := unix.SysctlUint64("hw.memsize")
	if err != nil {
		return 0, false
	}
	return int64(n), true
}
