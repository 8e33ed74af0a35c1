package main

// A minimal BSON reader and writer: the element types this plugin reads and writes,
// nothing more (no third-party modules: the build fetches nothing).

import (
	"encoding/binary"
	"errors"
	"math"
	"strings"
)

// BSON element types.
const (
	typeDouble   = 0x01
	typeString   = 0x02
	typeDocument = 0x03
	typeArray    = 0x04
	typeBinary   = 0x05
	typeObjectID = 0x07
	typeBool     = 0x08
	typeDateTime = 0x09
	typeNull     = 0x0A
	typeRegex    = 0x0B
	typeInt32    = 0x10
	typeStamp    = 0x11
	typeInt64    = 0x12
	typeDecimal  = 0x13
)

var errMalformed = errors.New("malformed BSON")

// element is one element of a document: its type and its value's bytes.
type element struct {
	kind  byte
	value []byte
}

// valueLen is the length of a value of type kind at the start of b.
func valueLen(kind byte, b []byte) (int, error) {
	i32 := func(at int) (int, error) {
		if len(b) < at+4 {
			return 0, errMalformed
		}
		return int(int32(binary.LittleEndian.Uint32(b[at:]))), nil
	}
	switch kind {
	case typeDouble, typeDateTime, typeStamp, typeInt64:
		return 8, nil
	case typeString, 0x0D, 0x0E:
		n, err := i32(0)
		return 4 + n, err
	case typeDocument, typeArray, 0x0F:
		return i32(0)
	case typeBinary:
		n, err := i32(0)
		return 5 + n, err
	case typeObjectID:
		return 12, nil
	case typeBool:
		return 1, nil
	case 0x06, typeNull, 0x7F, 0xFF:
		return 0, nil
	case typeRegex:
		nuls, at := 0, 0
		for ; nuls < 2; at++ {
			if at >= len(b) {
				return 0, errMalformed
			}
			if b[at] == 0 {
				nuls++
			}
		}
		return at, nil
	case typeInt32:
		return 4, nil
	case typeDecimal:
		return 16, nil
	case 0x0C:
		n, err := i32(0)
		return 4 + n + 12, err
	}
	return 0, errMalformed
}

// lookup finds the element named name in the document doc.
func lookup(doc []byte, name string) (element, bool, error) {
	if len(doc) < 5 {
		return element{}, false, errMalformed
	}
	end := int(int32(binary.LittleEndian.Uint32(doc)))
	if end > len(doc) || end < 5 {
		return element{}, false, errMalformed
	}
	for i := 4; i < end-1; {
		kind := doc[i]
		i++
		start := i
		for i < end && doc[i] != 0 {
			i++
		}
		if i >= end {
			return element{}, false, errMalformed
		}
		key := string(doc[start:i])
		i++
		n, err := valueLen(kind, doc[i:end])
		if err != nil || n < 0 || i+n > end {
			return element{}, false, errMalformed
		}
		if key == name {
			return element{kind, doc[i : i+n]}, true, nil
		}
		i += n
	}
	return element{}, false, nil
}

// lookupPath follows a dotted path through embedded documents.
func lookupPath(doc []byte, path string) (element, bool, error) {
	parts := strings.Split(path, ".")
	for k, part := range parts {
		e, ok, err := lookup(doc, part)
		if err != nil || !ok || k == len(parts)-1 {
			return e, ok, err
		}
		if e.kind != typeDocument {
			return element{}, false, nil
		}
		doc = e.value
	}
	return element{}, false, nil
}

func (e element) str() string {
	if e.kind != typeString || len(e.value) < 5 {
		return ""
	}
	return string(e.value[4 : len(e.value)-1])
}

// writer builds one document; nested documents open and close on it.
type writer struct {
	b     []byte
	opens []int
}

func newDoc() *writer {
	w := &writer{}
	w.open()
	return w
}

func (w *writer) open() {
	w.opens = append(w.opens, len(w.b))
	w.b = append(w.b, 0, 0, 0, 0)
}

func (w *writer) key(kind byte, name string) {
	w.b = append(w.b, kind)
	w.b = append(w.b, name...)
	w.b = append(w.b, 0)
}

// doc starts an embedded document; end closes it.
func (w *writer) doc(name string) *writer {
	w.key(typeDocument, name)
	w.open()
	return w
}

func (w *writer) end() *writer {
	at := w.opens[len(w.opens)-1]
	w.opens = w.opens[:len(w.opens)-1]
	w.b = append(w.b, 0)
	binary.LittleEndian.PutUint32(w.b[at:], uint32(len(w.b)-at))
	return w
}

func (w *writer) str(name, s string) *writer {
	w.key(typeString, name)
	w.b = binary.LittleEndian.AppendUint32(w.b, uint32(len(s)+1))
	w.b = append(w.b, s...)
	w.b = append(w.b, 0)
	return w
}

func (w *writer) boolean(name string, v bool) *writer {
	w.key(typeBool, name)
	if v {
		w.b = append(w.b, 1)
	} else {
		w.b = append(w.b, 0)
	}
	return w
}

func (w *writer) null(name string) *writer {
	w.key(typeNull, name)
	return w
}

func (w *writer) int32(name string, v int32) *writer {
	w.key(typeInt32, name)
	w.b = binary.LittleEndian.AppendUint32(w.b, uint32(v))
	return w
}

func (w *writer) int64(name string, v int64) *writer {
	w.key(typeInt64, name)
	w.b = binary.LittleEndian.AppendUint64(w.b, uint64(v))
	return w
}

func (w *writer) double(name string, v float64) *writer {
	w.key(typeDouble, name)
	w.b = binary.LittleEndian.AppendUint64(w.b, math.Float64bits(v))
	return w
}

// bytes closes the top document and returns it.
func (w *writer) bytes() []byte {
	w.end()
	return w.b
}
