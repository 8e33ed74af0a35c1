// counter-drift: a forge mutator in Go, built as a core WebAssembly module (wasip1,
// -buildmode=c-shared) that speaks the fallback ABI (plugin-sdk/ABI.md).
//
// It is stateful through the document, as the contract asks: each update reads a
// numeric field of the target's current document and moves it by a small step drawn
// from forge's seeded random source, keeping its BSON type (an int32 stays an int32):
//
//	{"$set": {<field>: <current value + delta>}}, delta in [-3, 3]
//
// A document without the field, a draw of 0 and a step past the type's range are
// skipped. The field is --plugin-arg counter-drift.field=PATH (default "quantity").
package main

import (
	"math"
	"unsafe"
)

// ---- forge's host functions (module "forge") ----

//go:wasmimport forge random_range
func randomRange(lo, hi int64) int64

//go:wasmimport forge log
func hostLog(level int32, ptr unsafe.Pointer, len int32)

const logInfo = 1

func logLine(level int32, msg string) {
	b := []byte(msg)
	if len(b) > 0 {
		hostLog(level, unsafe.Pointer(&b[0]), int32(len(b)))
	}
}

// ---- memory: buffers the host fills or reads, kept alive until forge_free ----

// Go's collector does not move objects, so a buffer's address stays valid while the
// map holds it.
var buffers = map[uint32][]byte{}

//go:wasmexport forge_alloc
func forgeAlloc(size uint32) uint32 {
	b := make([]byte, size+1) // +1: a zero-length buffer still has an address
	ptr := uint32(uintptr(unsafe.Pointer(&b[0])))
	buffers[ptr] = b
	return ptr
}

//go:wasmexport forge_free
func forgeFree(ptr, size uint32) {
	delete(buffers, ptr)
}

// request is the buffer the host filled at ptr (one forge_alloc gave it).
func request(ptr, size uint32) []byte {
	b := buffers[ptr]
	if uint32(len(b)) < size {
		return nil
	}
	return b[:size]
}

// answer copies a BSON document into a buffer the host reads and frees: ptr<<32 | len.
func answer(doc []byte) int64 {
	ptr := forgeAlloc(uint32(len(doc)))
	copy(buffers[ptr], doc)
	return int64(uint64(ptr)<<32 | uint64(len(doc)))
}

func failure(kind, msg string) int64 {
	return answer(newDoc().doc("err").str("kind", kind).str("msg", msg).end().bytes())
}

// ---- the contract ----

//go:wasmexport forge_abi_version
func forgeAbiVersion() int32 {
	return 200 // contract 0.2.0: major*10000 + minor*100 + patch
}

//go:wasmexport forge_info
func forgeInfo() int64 {
	return answer(newDoc().
		str("name", "counter-drift").
		str("kind", "mutator").
		str("version", "0.1.0").
		str("contract", "0.2.0").
		bytes())
}

var field = "quantity"

//go:wasmexport forge_init
func forgeInit(ptr, size uint32) int64 {
	req := request(ptr, size)
	if f, ok, err := lookupPath(req, "config.field"); err != nil {
		return failure("internal", "counter-drift: "+err.Error())
	} else if ok {
		field = f.str()
		if field == "" {
			return failure("invalid-config", "counter-drift.field must name a field")
		}
	}
	logLine(logInfo, "counter-drift moves '"+field+"' by -3..3 per update")
	return answer(newDoc().null("ok").bytes())
}

//go:wasmexport forge_mutate
func forgeMutate(ptr, size uint32) int64 {
	req := request(ptr, size)
	doc, ok, err := lookup(req, "doc")
	if err != nil {
		return failure("internal", "counter-drift: "+err.Error())
	}
	if !ok || doc.kind != typeDocument {
		return skip() // the document no longer exists
	}
	current, ok, err := lookupPath(doc.value, field)
	if err != nil {
		return failure("internal", "counter-drift: "+err.Error())
	}
	if !ok {
		return skip()
	}
	delta := randomRange(-3, 3)
	if delta == 0 {
		return skip()
	}
	w := newDoc().doc("ok").doc("update").doc("$set")
	switch current.kind {
	case typeInt32:
		v := int64(int32(le64(current.value, 4))) + delta
		if v < math.MinInt32 || v > math.MaxInt32 {
			return skip()
		}
		w.int32(field, int32(v))
	case typeInt64:
		v := int64(le64(current.value, 8))
		if (delta > 0 && v > math.MaxInt64-delta) || (delta < 0 && v < math.MinInt64-delta) {
			return skip()
		}
		w.int64(field, v+delta)
	case typeDouble:
		w.double(field, math.Float64frombits(le64(current.value, 8))+float64(delta))
	default:
		return failure("unsupported-document", "counter-drift: '"+field+"' is not an int32, int64 or double")
	}
	return answer(w.end().end().end().bytes())
}

func skip() int64 {
	return answer(newDoc().doc("ok").boolean("skip", true).end().bytes())
}

// le64 reads n little-endian bytes.
func le64(b []byte, n int) uint64 {
	var v uint64
	for i := n - 1; i >= 0; i-- {
		v = v<<8 | uint64(b[i])
	}
	return v
}

// A c-shared (reactor) module: the host calls _initialize, then the exports; main never
// runs.
func main() {}
