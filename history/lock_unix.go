//go:build !windows && !plan9 && !js && !wasip1 && !aix

package history

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// errHeld means another process holds the directory lock.
var errHeld = errors.New("directory lock held")

// withDirLock runs fn holding the same lock Badger takes (flock on the
// directory), so files are checked only when no other instance is writing
// them. The lock is released before Badger takes it for itself.
func withDirLock(dir string, fn func() error) error {
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		if errors.Is(err, unix.EWOULDBLOCK) {
			return errHeld
		}
		return err
	}
	defer unix.Flock(int(f.Fd()), unix.LOCK_UN)
	return fn()
}
