//go:build !linux

package gguf

func populateWrite(b []byte) {}
