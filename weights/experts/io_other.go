//go:build !linux

package experts

import (
	"errors"
	"os"
)

func openDirect(path string) (*os.File, error) {
	return nil, errors.New("O_DIRECT is only used on Linux")
}

type directReader struct{ f *os.File }

func (r directReader) ReadAt(p []byte, off int64) (int, error) { return r.f.ReadAt(p, off) }

func directSupported() bool { return false }

func dropCache(f *os.File, off, n int64) {}

func adviseRandom(f *os.File) {}

type fileID struct {
	size    int64
	mtimeNs int64
	same    os.FileInfo
}

func statFile(f *os.File) (fileID, error) {
	st, err := f.Stat()
	if err != nil {
		return fileID{}, err
	}
	return fileID{size: st.Size(), mtimeNs: st.ModTime().UnixNano(), same: st}, nil
}

func statPath(path string) (fileID, error) {
	st, err := os.Stat(path)
	if err != nil {
		return fileID{}, err
	}
	return fileID{size: st.Size(), mtimeNs: st.ModTime().UnixNano(), same: st}, nil
}

func (a fileID) sameFile(b fileID) bool {
	return a.same != nil && b.same != nil && os.SameFile(a.same, b.same)
}
