package tflite

import (
	"fmt"
	"unsafe"
)

// Tensor is a tensor of a running interpreter: its description and its
// memory. Inputs are written and outputs read through it.
type Tensor struct {
	index int
	def   *TensorDef
	data  []byte
	n     int // number of elements
}

// NewTensor describes memory that another engine owns (the TensorFlow Lite
// C library's tensor buffers) as tensor index of the main graph, so that
// code written against *Tensor works with that engine too. data must hold
// exactly the tensor's bytes, be 16-byte aligned and stay valid while the
// Tensor is in use.
func NewTensor(index int, def *TensorDef, data []byte) (*Tensor, error) {
	count, err := elementCount(def.Shape)
	if err != nil {
		return nil, fmt.Errorf("tensor %q: %w", def.Name, err)
	}
	size := def.Type.Size()
	if size == 0 {
		return nil, fmt.Errorf("tensor %q: type %s is not supported", def.Name, def.Type)
	}
	if int64(len(data)) != count*int64(size) {
		return nil, fmt.Errorf("tensor %q (%s %v) needs %d bytes, got %d", def.Name, def.Type, def.Shape, count*int64(size), len(data))
	}
	if len(data) > 0 && uintptr(unsafe.Pointer(&data[0]))%16 != 0 {
		return nil, fmt.Errorf("tensor %q: memory is not 16-byte aligned", def.Name)
	}
	return &Tensor{index: index, def: def, data: data, n: int(count)}, nil
}

// Index is the tensor's index in the graph.
func (t *Tensor) Index() int { return t.index }

// Name is the tensor's name in the file.
func (t *Tensor) Name() string { return t.def.Name }

// Type is the element type.
func (t *Tensor) Type() TensorType { return t.def.Type }

// Shape returns a copy of the tensor's dimensions.
func (t *Tensor) Shape() []int { return append([]int(nil), t.def.Shape...) }

// Quant returns the quantization parameters, or nil.
func (t *Tensor) Quant() *Quantization { return t.def.Quant }

// Len is the number of elements.
func (t *Tensor) Len() int { return t.n }

// Bytes returns the tensor's memory (little-endian elements). Writing to the
// slice of an input sets the input; constant tensors must not be written.
func (t *Tensor) Bytes() []byte { return t.data }

// CopyFrom sets the tensor's contents from raw little-endian bytes.
func (t *Tensor) CopyFrom(b []byte) error {
	if len(b) != len(t.data) {
		return fmt.Errorf("tensor %q holds %d bytes (%s %v), got %d", t.def.Name, len(t.data), t.def.Type, t.def.Shape, len(b))
	}
	copy(t.data, b)
	return nil
}

// Float32s returns the elements of a float32 tensor, or nil for other types.
func (t *Tensor) Float32s() []float32 { return view[float32](t, Float32) }

// Uint8s returns the elements of a uint8 tensor, or nil for other types.
func (t *Tensor) Uint8s() []uint8 { return view[uint8](t, Uint8) }

// Int8s returns the elements of an int8 tensor, or nil for other types.
func (t *Tensor) Int8s() []int8 { return view[int8](t, Int8) }

// Int16s returns the elements of an int16 tensor, or nil for other types.
func (t *Tensor) Int16s() []int16 { return view[int16](t, Int16) }

// Int32s returns the elements of an int32 tensor, or nil for other types.
func (t *Tensor) Int32s() []int32 { return view[int32](t, Int32) }

// Int64s returns the elements of an int64 tensor, or nil for other types.
func (t *Tensor) Int64s() []int64 { return view[int64](t, Int64) }

// Bools returns the elements of a bool tensor, or nil for other types.
func (t *Tensor) Bools() []bool { return view[bool](t, Bool) }

func view[E any](t *Tensor, want TensorType) []E {
	if t.def.Type != want {
		return nil
	}
	return asSlice[E](t.data)
}

// asSlice reinterprets aligned bytes as elements of E. Every buffer the
// engine holds is 16-byte aligned (see aligned and the arena).
func asSlice[E any](b []byte) []E {
	var z E
	size := int(unsafe.Sizeof(z))
	if len(b) < size {
		return []E{}
	}
	return unsafe.Slice((*E)(unsafe.Pointer(&b[0])), len(b)/size)
}

// Dequantized returns the tensor's values as float32: real values of a
// quantized tensor, the values of a float tensor, or converted integers.
func (t *Tensor) Dequantized() []float32 {
	out := make([]float32, t.n)
	t.DequantizeInto(out)
	return out
}

// DequantizeInto writes the tensor's real values into dst (len >= Len()).
func (t *Tensor) DequantizeInto(dst []float32) {
	scale, zp := float32(1), int64(0)
	if q := t.def.Quant; q != nil && len(q.Scale) == 1 {
		scale, zp = q.Scale[0], q.ZeroPoint[0]
	}
	switch t.def.Type {
	case Float32:
		copy(dst, t.Float32s())
	case Uint8:
		for i, v := range t.Uint8s() {
			dst[i] = scale * float32(int64(v)-zp)
		}
	case Int8:
		for i, v := range t.Int8s() {
			dst[i] = scale * float32(int64(v)-zp)
		}
	case Int16:
		for i, v := range t.Int16s() {
			dst[i] = scale * float32(int64(v)-zp)
		}
	case Int32:
		for i, v := range t.Int32s() {
			dst[i] = scale * float32(int64(v)-zp)
		}
	case Int64:
		for i, v := range t.Int64s() {
			dst[i] = float32(v)
		}
	}
}
