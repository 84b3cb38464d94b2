//go:build !unix

package gguf

import (
	"errors"
	"os"
)

func mmapFile(fh *os.File, size int64) ([]byte, error) { return nil, errors.New("mmap unsupported") }

func unmap(b []byte) error { return nil }

func dropPrivate(b []byte) error { return nil }
