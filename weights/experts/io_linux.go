//go:build linux

package experts

import (
	"io"
	"os"

	"golang.org/x/sys/unix"
)

// openDirect opens path with O_DIRECT. File systems that refuse it (tmpfs,
// some FUSE and network file systems) fail here with EINVAL.
func openDirect(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|unix.O_DIRECT, 0)
}

// directReader reads with pread on an O_DIRECT descriptor. Unlike
// os.File.ReadAt it stops at the first unaligned short read: that is the end
// of the file, and continuing from an unaligned offset would fail with EINVAL.
type directReader struct{ f *os.File }

func (r directReader) ReadAt(p []byte, off int64) (int, error) {
	fd := int(r.f.Fd())
	total := 0
	for total < len(p) {
		n, err := unix.Pread(fd, p[total:], off+int64(total))
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return total, err
		}
		if n == 0 {
			return total, io.EOF
		}
		total += n
		if n%pageSize != 0 && total < len(p) {
			return total, io.EOF
		}
	}
	return total, nil
}

func directSupported() bool { return true }

// dropCache asks the kernel to forget the pages a buffered read brought in,
// so the page cache does not hold a second copy of the experts.
func dropCache(f *os.File, off, n int64) {
	_ = unix.Fadvise(int(f.Fd()), off, n, unix.FADV_DONTNEED)
}

// adviseRandom turns off readahead on the buffered descriptor: pages read
// ahead of an expert would stay in the page cache after dropCache.
func adviseRandom(f *os.File) {
	_ = unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_RANDOM)
}

// fileID identifies the file contents we opened: if any of it changes, the
// bytes we read may no longer be the model's.
type fileID struct {
	dev, ino uint64
	size     int64
	mtimeNs  int64
}

func statFile(f *os.File) (fileID, error) {
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		return fileID{}, err
	}
	return fileID{dev: uint64(st.Dev), ino: uint64(st.Ino), size: st.Size, mtimeNs: st.Mtim.Nano()}, nil
}

func statPath(path string) (fileID, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return fileID{}, err
	}
	return fileID{dev: uint64(st.Dev), ino: uint64(st.Ino), size: st.Size, mtimeNs: st.Mtim.Nano()}, nil
}

func (a fileID) sameFile(b fileID) bool { return a.dev == b.dev && a.ino == b.ino }
