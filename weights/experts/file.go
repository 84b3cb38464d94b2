package experts

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sync/atomic"
	"syscall"
)

// source is the model file opened for expert reads: an O_DIRECT descriptor
// when the file system allows it, and a buffered one for the fallback.
type source struct {
	path     string
	direct   *os.File // nil when O_DIRECT is unavailable or disabled
	buffered *os.File
	rDirect  io.ReaderAt
	rBuf     io.ReaderAt
	useDir   atomic.Bool
	id       fileID // identity and size/mtime at open
}

func openSource(path string, opts Options) (*source, error) {
	buf, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("experts: %w", err)
	}
	adviseRandom(buf)
	s := &source{path: path, buffered: buf}
	if s.id, err = statFile(buf); err != nil {
		buf.Close()
		return nil, fmt.Errorf("experts: %s: %w", path, err)
	}
	wrap := func(r io.ReaderAt) io.ReaderAt {
		if opts.WrapReader != nil {
			return opts.WrapReader(r)
		}
		return r
	}
	s.rBuf = wrap(buf)
	if !opts.DisableDirect && directSupported() {
		if d, err := openDirect(path); err == nil {
			s.direct = d
			s.rDirect = wrap(directReader{d})
			s.useDir.Store(true)
		}
	}
	return s, nil
}

func (s *source) close() error {
	var err error
	if s.direct != nil {
		err = s.direct.Close()
	}
	if e := s.buffered.Close(); err == nil {
		err = e
	}
	return err
}

// readAt fills buf (page-aligned address, offset and length) from off. It
// returns the bytes read; a short count with io.EOF means the file ended.
// O_DIRECT reads that the file system refuses with EINVAL switch the source
// to buffered reads for good.
func (s *source) readAt(buf []byte, off int64) (int, error) {
	if s.useDir.Load() {
		n, err := s.rDirect.ReadAt(buf, off)
		if !(n == 0 && errors.Is(err, syscall.EINVAL)) {
			return n, err
		}
		s.useDir.Store(false)
	}
	n, err := s.rBuf.ReadAt(buf, off)
	dropCache(s.buffered, off, int64(len(buf)))
	return n, err
}

// Direct reports whether reads currently bypass the page cache with O_DIRECT.
func (s *source) isDirect() bool { return s.useDir.Load() }

// changed explains how the file differs from what we opened, or returns nil.
// A file replaced by rename is not a change: our descriptors still read the
// original contents, which stay consistent with the rest of the loaded model.
func (s *source) changed() error {
	now, err := statFile(s.buffered)
	if err != nil {
		return fmt.Errorf("model file %s: %w", s.path, err)
	}
	switch {
	case now.size < s.id.size:
		return fmt.Errorf("model file %s was truncated from %d to %d bytes while loaded", s.path, s.id.size, now.size)
	case now.size != s.id.size || now.mtimeNs != s.id.mtimeNs:
		return fmt.Errorf("model file %s was modified while loaded (reload the model)", s.path)
	}
	return nil
}
