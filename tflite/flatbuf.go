package tflite

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// fbReader reads tables out of an untrusted flatbuffer. Every access is
// bounds-checked. The first failure is kept in err; later reads return zero
// values, so parsing code can read a whole table and check err once.
//
// budget limits the total number of vector elements and tables visited, so
// a small hostile file that points many tables at one huge vector cannot make
// parsing take quadratic time.
type fbReader struct {
	buf    []byte
	err    error
	budget int
}

// fbTable is a table's absolute position and its vtable.
type fbTable struct {
	pos     int // start of the table object
	vt      int // start of its vtable
	vtLen   int // vtable length in bytes
	objSize int // size of the table object in bytes
}

var errBudget = errors.New("flatbuffer references too much data (shared or cyclic structure)")

func newFBReader(buf []byte) *fbReader {
	return &fbReader{buf: buf, budget: 4*len(buf) + 1<<16}
}

func (r *fbReader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf(format, args...)
	}
}

func (r *fbReader) spend(n int) bool {
	if r.err != nil {
		return false
	}
	r.budget -= n
	if r.budget < 0 {
		r.err = errBudget
		return false
	}
	return true
}

// in reports whether buf[pos:pos+n] exists.
func (r *fbReader) in(pos, n int) bool {
	return pos >= 0 && n >= 0 && pos <= len(r.buf) && n <= len(r.buf)-pos
}

func (r *fbReader) readU32(pos int) uint32 {
	if !r.in(pos, 4) {
		r.fail("offset %d is outside the %d-byte buffer", pos, len(r.buf))
		return 0
	}
	return binary.LittleEndian.Uint32(r.buf[pos:])
}

// root returns the root table (the uoffset at byte 0).
func (r *fbReader) root() fbTable {
	off := r.readU32(0)
	return r.tableAt(int(off))
}

// tableAt validates the table object at pos and its vtable.
func (r *fbReader) tableAt(pos int) fbTable {
	if r.err != nil || !r.spend(1) {
		return fbTable{}
	}
	if !r.in(pos, 4) {
		r.fail("table at %d is outside the %d-byte buffer", pos, len(r.buf))
		return fbTable{}
	}
	soff := int32(binary.LittleEndian.Uint32(r.buf[pos:]))
	vt := pos - int(soff)
	if !r.in(vt, 4) {
		r.fail("vtable of table at %d is outside the buffer", pos)
		return fbTable{}
	}
	vtLen := int(binary.LittleEndian.Uint16(r.buf[vt:]))
	objSize := int(binary.LittleEndian.Uint16(r.buf[vt+2:]))
	if vtLen < 4 || vtLen%2 != 0 || !r.in(vt, vtLen) {
		r.fail("vtable of table at %d has bad length %d", pos, vtLen)
		return fbTable{}
	}
	if objSize < 4 || !r.in(pos, objSize) {
		r.fail("table at %d has bad size %d", pos, objSize)
		return fbTable{}
	}
	return fbTable{pos: pos, vt: vt, vtLen: vtLen, objSize: objSize}
}

// field returns the absolute position of field id holding size bytes, or -1
// when the field is absent.
func (r *fbReader) field(t fbTable, id, size int) int {
	if r.err != nil || t.vtLen == 0 {
		return -1
	}
	slot := 4 + 2*id
	if slot+2 > t.vtLen {
		return -1
	}
	off := int(binary.LittleEndian.Uint16(r.buf[t.vt+slot:]))
	if off == 0 {
		return -1
	}
	if off+size > t.objSize {
		r.fail("field %d of table at %d runs past the table", id, t.pos)
		return -1
	}
	return t.pos + off
}

func (r *fbReader) u8(t fbTable, id int, def uint8) uint8 {
	p := r.field(t, id, 1)
	if p < 0 {
		return def
	}
	return r.buf[p]
}

func (r *fbReader) boolean(t fbTable, id int) bool { return r.u8(t, id, 0) != 0 }

func (r *fbReader) i32(t fbTable, id int, def int32) int32 {
	p := r.field(t, id, 4)
	if p < 0 {
		return def
	}
	return int32(binary.LittleEndian.Uint32(r.buf[p:]))
}

func (r *fbReader) u32(t fbTable, id int, def uint32) uint32 {
	return uint32(r.i32(t, id, int32(def)))
}

func (r *fbReader) u64(t fbTable, id int) uint64 {
	p := r.field(t, id, 8)
	if p < 0 {
		return 0
	}
	return binary.LittleEndian.Uint64(r.buf[p:])
}

func (r *fbReader) f32(t fbTable, id int, def float32) float32 {
	p := r.field(t, id, 4)
	if p < 0 {
		return def
	}
	return math.Float32frombits(binary.LittleEndian.Uint32(r.buf[p:]))
}

// indirect follows the uoffset stored in field id; -1 when absent.
func (r *fbReader) indirect(t fbTable, id int) int {
	p := r.field(t, id, 4)
	if p < 0 {
		return -1
	}
	target := p + int(binary.LittleEndian.Uint32(r.buf[p:]))
	if !r.in(target, 0) || target <= p {
		r.fail("field %d of table at %d points outside the buffer", id, t.pos)
		return -1
	}
	return target
}

// table returns the sub-table in field id.
func (r *fbReader) table(t fbTable, id int) (fbTable, bool) {
	p := r.indirect(t, id)
	if p < 0 {
		return fbTable{}, false
	}
	st := r.tableAt(p)
	return st, r.err == nil
}

// vector returns the position of the first element and the length of the
// vector in field id, checking that n elements of elemSize bytes fit.
func (r *fbReader) vector(t fbTable, id, elemSize int) (start, n int) {
	p := r.indirect(t, id)
	if p < 0 {
		return 0, 0
	}
	ln := r.readU32(p)
	if r.err != nil {
		return 0, 0
	}
	start = p + 4
	if uint64(ln)*uint64(elemSize) > uint64(len(r.buf)-start) {
		r.fail("vector in field %d of table at %d (%d elements) runs past the buffer", id, t.pos, ln)
		return 0, 0
	}
	if !r.spend(int(ln)) {
		return 0, 0
	}
	return start, int(ln)
}

func (r *fbReader) str(t fbTable, id int) string {
	start, n := r.vector(t, id, 1)
	if n == 0 {
		return ""
	}
	return string(r.buf[start : start+n])
}

// bytes returns the [ubyte] vector in field id without copying.
func (r *fbReader) bytes(t fbTable, id int) []byte {
	start, n := r.vector(t, id, 1)
	if n == 0 {
		return nil
	}
	return r.buf[start : start+n : start+n]
}

func (r *fbReader) ints(t fbTable, id int) []int {
	start, n := r.vector(t, id, 4)
	if n == 0 {
		return nil
	}
	out := make([]int, n)
	for i := range out {
		out[i] = int(int32(binary.LittleEndian.Uint32(r.buf[start+4*i:])))
	}
	return out
}

func (r *fbReader) int64s(t fbTable, id int) []int64 {
	start, n := r.vector(t, id, 8)
	if n == 0 {
		return nil
	}
	out := make([]int64, n)
	for i := range out {
		out[i] = int64(binary.LittleEndian.Uint64(r.buf[start+8*i:]))
	}
	return out
}

func (r *fbReader) float32s(t fbTable, id int) []float32 {
	start, n := r.vector(t, id, 4)
	if n == 0 {
		return nil
	}
	out := make([]float32, n)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(r.buf[start+4*i:]))
	}
	return out
}

// tables returns the tables of a vector of tables in field id.
func (r *fbReader) tables(t fbTable, id int) []fbTable {
	start, n := r.vector(t, id, 4)
	if n == 0 {
		return nil
	}
	out := make([]fbTable, 0, n)
	for i := 0; i < n && r.err == nil; i++ {
		p := start + 4*i
		out = append(out, r.tableAt(p+int(binary.LittleEndian.Uint32(r.buf[p:]))))
	}
	if r.err != nil {
		return nil
	}
	return out
}
