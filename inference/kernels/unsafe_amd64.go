//go:build !purego

package kernels

import "unsafe"

// f32ptr views the start of raw little-endian F32 bytes as *float32 (amd64
// is little-endian and allows unaligned vector loads).
func f32ptr(b []byte) *float32 { return (*float32)(unsafe.Pointer(&b[0])) }
