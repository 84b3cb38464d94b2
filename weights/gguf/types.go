// Package gguf reads and writes GGUF v2/v3 files (the llama.cpp model container).
//
// Reading never trusts the file: every count, length, dimension and offset is
// checked against the file size before anything is allocated, so a hostile or
// truncated file yields an error naming what is wrong and where, never a panic
// or a huge allocation.
package gguf

import (
	"fmt"
	"math"
)

// Magic is "GGUF" read as a little-endian uint32.
const Magic = 0x46554747

// DefaultAlignment applies when general.alignment is absent.
const DefaultAlignment = 32

// ValueType is the type tag of a metadata value.
type ValueType uint32

const (
	TypeUint8   ValueType = 0
	TypeInt8    ValueType = 1
	TypeUint16  ValueType = 2
	TypeInt16   ValueType = 3
	TypeUint32  ValueType = 4
	TypeInt32   ValueType = 5
	TypeFloat32 ValueType = 6
	TypeBool    ValueType = 7
	TypeString  ValueType = 8
	TypeArray   ValueType = 9
	TypeUint64  ValueType = 10
	TypeInt64   ValueType = 11
	TypeFloat64 ValueType = 12
)

var valueTypeNames = [...]string{"uint8", "int8", "uint16", "int16", "uint32", "int32", "float32", "bool", "string", "array", "uint64", "int64", "float64"}

func (t ValueType) String() string {
	if int(t) < len(valueTypeNames) {
		return valueTypeNames[t]
	}
	return fmt.Sprintf("type(%d)", uint32(t))
}

// fixedSize is the encoded size of a scalar type, 0 for string/array/unknown.
func (t ValueType) fixedSize() int {
	switch t {
	case TypeUint8, TypeInt8, TypeBool:
		return 1
	case TypeUint16, TypeInt16:
		return 2
	case TypeUint32, TypeInt32, TypeFloat32:
		return 4
	case TypeUint64, TypeInt64, TypeFloat64:
		return 8
	}
	return 0
}

// Array is a metadata array. Elements hold Go values of the element type
// (uint8, int8, ..., string, Array for nested arrays).
type Array struct {
	Elem   ValueType
	Values []any
}

// Value is one metadata value: Type plus a Go value
// (uint8 int8 uint16 int16 uint32 int32 float32 bool string Array uint64 int64 float64).
type Value struct {
	Type ValueType
	V    any
}

// KV is one metadata entry; files keep their entries in order.
type KV struct {
	Key   string
	Value Value
}

// Convenience constructors for writers.
func Uint32(v uint32) Value   { return Value{TypeUint32, v} }
func Int32(v int32) Value     { return Value{TypeInt32, v} }
func Uint64(v uint64) Value   { return Value{TypeUint64, v} }
func Float32(v float32) Value { return Value{TypeFloat32, v} }
func BoolValue(v bool) Value  { return Value{TypeBool, v} }
func String(v string) Value   { return Value{TypeString, v} }
func Strings(v []string) Value {
	vals := make([]any, len(v))
	for i, s := range v {
		vals[i] = s
	}
	return Value{TypeArray, Array{TypeString, vals}}
}
func Int32s(v []int32) Value {
	vals := make([]any, len(v))
	for i, s := range v {
		vals[i] = s
	}
	return Value{TypeArray, Array{TypeInt32, vals}}
}
func Float32s(v []float32) Value {
	vals := make([]any, len(v))
	for i, s := range v {
		vals[i] = s
	}
	return Value{TypeArray, Array{TypeFloat32, vals}}
}

// asUint64 converts any non-negative integer value to uint64.
func asUint64(v any) (uint64, bool) {
	switch x := v.(type) {
	case uint8:
		return uint64(x), true
	case uint16:
		return uint64(x), true
	case uint32:
		return uint64(x), true
	case uint64:
		return x, true
	case int8:
		return uint64(x), x >= 0
	case int16:
		return uint64(x), x >= 0
	case int32:
		return uint64(x), x >= 0
	case int64:
		return uint64(x), x >= 0
	}
	return 0, false
}

func asFloat64(v any) (float64, bool) {
	switch x := v.(type) {
	case float32:
		return float64(x), true
	case float64:
		return x, true
	}
	if u, ok := asUint64(v); ok {
		return float64(u), true
	}
	switch x := v.(type) {
	case int8, int16, int32, int64:
		_ = x
		return float64(toInt64(v)), true
	}
	return math.NaN(), false
}

func toInt64(v any) int64 {
	switch x := v.(type) {
	case int8:
		return int64(x)
	case int16:
		return int64(x)
	case int32:
		return int64(x)
	case int64:
		return x
	}
	return 0
}
