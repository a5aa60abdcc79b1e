package tflite

import (
	"encoding/binary"
	"math"
)

// fbBuilder writes a flatbuffer back to front, as the format intends: an
// object's children are written before it, so every reference points to
// data whose position is already known. Positions are counted from the end
// of the buffer ("offsets") until finish fixes the total size.
type fbBuilder struct {
	buf      []byte // the data is buf[len(buf)-size:]
	size     int
	minAlign int

	fields   []int // offset of each field of the open table, 0 when absent
	objStart int   // size when the open table began

	// vectors maps the bytes of each vector written to its offset, so an
	// identical vector (the all-zero zero points of every per-channel
	// layer) is written once and shared.
	vectors map[vectorKey]int
}

type vectorKey struct {
	elemSize, align int
	data            string
}

func newFBBuilder(capacity int) *fbBuilder {
	return &fbBuilder{buf: make([]byte, max(capacity, 1024)), minAlign: 1}
}

// reserve makes room for n more bytes in front of the data.
func (b *fbBuilder) reserve(n int) {
	if len(b.buf)-b.size >= n {
		return
	}
	nb := make([]byte, 2*len(b.buf)+n)
	copy(nb[len(nb)-b.size:], b.buf[len(b.buf)-b.size:])
	b.buf = nb
}

// front returns the n bytes just written in front of the data.
func (b *fbBuilder) front(n int) []byte {
	b.reserve(n)
	b.size += n
	p := len(b.buf) - b.size
	return b.buf[p : p+n]
}

// prep pads so that after writing extra more bytes the data is aligned to
// align (a power of two) from the end, which finish turns into alignment
// from the start.
func (b *fbBuilder) prep(align, extra int) {
	b.minAlign = max(b.minAlign, align)
	clear(b.front((-(b.size + extra)) & (align - 1)))
}

func (b *fbBuilder) putU8(v uint8)   { b.front(1)[0] = v }
func (b *fbBuilder) putU16(v uint16) { binary.LittleEndian.PutUint16(b.front(2), v) }
func (b *fbBuilder) putU32(v uint32) { binary.LittleEndian.PutUint32(b.front(4), v) }
func (b *fbBuilder) putU64(v uint64) { binary.LittleEndian.PutUint64(b.front(8), v) }

// putRef writes a uoffset to the object that ended at offset target.
func (b *fbBuilder) putRef(target int) {
	b.prep(4, 0)
	b.putU32(uint32(b.size + 4 - target))
}

// vector writes n elements of elemSize bytes, aligned to align, filled by
// fill (which gets the element bytes in order), and returns its offset.
func (b *fbBuilder) vector(n, elemSize, align int, fill func(dst []byte)) int {
	data := make([]byte, n*elemSize)
	fill(data)
	key := vectorKey{elemSize, align, string(data)}
	if off, ok := b.vectors[key]; ok {
		return off
	}
	b.prep(4, n*elemSize)
	b.prep(align, n*elemSize)
	copy(b.front(n*elemSize), data)
	b.putU32(uint32(n))
	if b.vectors == nil {
		b.vectors = map[vectorKey]int{}
	}
	b.vectors[key] = b.size
	return b.size
}

func (b *fbBuilder) bytesVector(v []byte, align int) int {
	return b.vector(len(v), 1, align, func(dst []byte) { copy(dst, v) })
}

func (b *fbBuilder) int32s(v []int) int {
	return b.vector(len(v), 4, 4, func(dst []byte) {
		for i, x := range v {
			binary.LittleEndian.PutUint32(dst[4*i:], uint32(int32(x)))
		}
	})
}

func (b *fbBuilder) int64s(v []int64) int {
	return b.vector(len(v), 8, 8, func(dst []byte) {
		for i, x := range v {
			binary.LittleEndian.PutUint64(dst[8*i:], uint64(x))
		}
	})
}

func (b *fbBuilder) float32s(v []float32) int {
	return b.vector(len(v), 4, 4, func(dst []byte) {
		for i, x := range v {
			binary.LittleEndian.PutUint32(dst[4*i:], math.Float32bits(x))
		}
	})
}

// refs writes a vector of references to objects already written.
func (b *fbBuilder) refs(targets []int) int {
	b.prep(4, 4*len(targets))
	for i := len(targets) - 1; i >= 0; i-- {
		b.putRef(targets[i])
	}
	b.putU32(uint32(len(targets)))
	return b.size
}

// str writes a string: its bytes, a terminating zero, the length in front.
func (b *fbBuilder) str(s string) int {
	b.prep(4, len(s)+1)
	dst := b.front(len(s) + 1)
	copy(dst, s)
	dst[len(s)] = 0
	b.putU32(uint32(len(s)))
	return b.size
}

// startTable opens a table; fields are added with the add* methods.
func (b *fbBuilder) startTable() {
	b.fields = b.fields[:0]
	b.objStart = b.size
}

func (b *fbBuilder) slot(id int) {
	for len(b.fields) <= id {
		b.fields = append(b.fields, 0)
	}
	b.fields[id] = b.size
}

func (b *fbBuilder) addU8(id int, v uint8) {
	b.prep(1, 0)
	b.putU8(v)
	b.slot(id)
}

func (b *fbBuilder) addBool(id int, v bool) {
	var u uint8
	if v {
		u = 1
	}
	b.addU8(id, u)
}

func (b *fbBuilder) addI32(id int, v int32) {
	b.prep(4, 0)
	b.putU32(uint32(v))
	b.slot(id)
}

func (b *fbBuilder) addF32(id int, v float32) {
	b.prep(4, 0)
	b.putU32(math.Float32bits(v))
	b.slot(id)
}

// addRef adds a reference field; offset 0 (nothing written) leaves it absent.
func (b *fbBuilder) addRef(id, target int) {
	if target == 0 {
		return
	}
	b.putRef(target)
	b.slot(id)
}

// endTable writes the table's vtable in front of it and returns the
// table's offset.
func (b *fbBuilder) endTable() int {
	b.prep(4, 0)
	b.putU32(0) // soffset to the vtable, patched below
	obj := b.size
	n := len(b.fields)
	for n > 0 && b.fields[n-1] == 0 {
		n--
	}
	for i := n - 1; i >= 0; i-- {
		var off uint16
		if b.fields[i] != 0 {
			off = uint16(obj - b.fields[i])
		}
		b.putU16(off)
	}
	b.putU16(uint16(obj - b.objStart))
	b.putU16(uint16(4 + 2*n))
	binary.LittleEndian.PutUint32(b.buf[len(b.buf)-obj:], uint32(b.size-obj))
	b.fields = b.fields[:0]
	return obj
}

// finish writes the root reference and the file identifier and returns the
// finished buffer, padded so that every alignment holds from its start.
func (b *fbBuilder) finish(root int, ident string) []byte {
	b.prep(b.minAlign, 8)
	copy(b.front(4), ident)
	b.putRef(root)
	return b.buf[len(b.buf)-b.size:]
}
