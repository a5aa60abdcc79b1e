package tflite

import (
	"fmt"
	"unsafe"
)

// fileIdentifier is the 4-byte identifier of schema v3 files.
const fileIdentifier = "TFL3"

// parseModel decodes the flatbuffer into a Model. It checks that every
// reference stays inside the file; validate checks that the graph makes sense.
func parseModel(data []byte, lim Limits) (*Model, error) {
	if len(data) < 8 {
		return nil, fmt.Errorf("file is %d bytes, too short for a TensorFlow Lite model", len(data))
	}
	if id := string(data[4:8]); id != fileIdentifier {
		return nil, fmt.Errorf("not a TensorFlow Lite model: file identifier is %q, want %q", id, fileIdentifier)
	}
	r := newFBReader(data)
	root := r.root()
	m := &Model{raw: data}
	m.Version = r.u32(root, 0, 0)
	if r.err == nil && m.Version != 3 {
		return nil, fmt.Errorf("schema version %d is not supported (want 3)", m.Version)
	}
	m.Description = r.str(root, 3)
	if r.err != nil {
		return nil, r.err
	}

	var codes []opcodeEntry
	for i, t := range r.tables(root, 1) {
		dep := int32(int8(r.u8(t, 0, 0)))
		code := r.i32(t, 3, 0)
		if dep > code {
			code = dep
		}
		if code < 0 {
			return nil, fmt.Errorf("operator code %d: negative builtin code %d", i, code)
		}
		codes = append(codes, opcodeEntry{op: BuiltinOp(code), custom: r.str(t, 1), version: int(r.i32(t, 2, 1))})
	}
	if r.err != nil {
		return nil, fmt.Errorf("operator codes: %w", r.err)
	}

	bufs := r.tables(root, 4)
	if r.err != nil {
		return nil, fmt.Errorf("buffers: %w", r.err)
	}
	m.Buffers = make([][]byte, len(bufs))
	for i, t := range bufs {
		b := r.bytes(t, 0)
		off, size := r.u64(t, 1), r.u64(t, 2)
		if r.err != nil {
			return nil, fmt.Errorf("buffer %d: %w", i, r.err)
		}
		if off > 1 {
			if off > uint64(len(data)) || size > uint64(len(data))-off {
				return nil, fmt.Errorf("buffer %d: external data [%d, +%d) is outside the %d-byte file", i, off, size, len(data))
			}
			b = data[off : off+size : off+size]
		}
		m.Buffers[i] = aligned(b)
	}

	sgs := r.tables(root, 2)
	if r.err != nil {
		return nil, fmt.Errorf("subgraphs: %w", r.err)
	}
	if len(sgs) == 0 {
		return nil, fmt.Errorf("model has no subgraphs")
	}
	for si, st := range sgs {
		sg, err := parseSubgraph(r, st, lim, codes)
		if err != nil {
			return nil, fmt.Errorf("subgraph %d: %w", si, err)
		}
		m.Subgraphs = append(m.Subgraphs, sg)
	}

	for _, t := range r.tables(root, 6) {
		m.Metadata = append(m.Metadata, MetadataRef{Name: r.str(t, 0), Buffer: int(r.u32(t, 1, 0))})
	}
	if r.err != nil {
		return nil, fmt.Errorf("metadata: %w", r.err)
	}
	for _, t := range r.tables(root, 7) {
		s := Signature{Key: r.str(t, 2), Subgraph: int(r.u32(t, 4, 0))}
		s.Inputs = parseTensorMaps(r, r.tables(t, 0))
		s.Outputs = parseTensorMaps(r, r.tables(t, 1))
		m.Signatures = append(m.Signatures, s)
	}
	if r.err != nil {
		return nil, fmt.Errorf("signature defs: %w", r.err)
	}
	return m, nil
}

func parseTensorMaps(r *fbReader, ts []fbTable) []SignatureTensor {
	var out []SignatureTensor
	for _, t := range ts {
		out = append(out, SignatureTensor{Name: r.str(t, 0), Tensor: int(r.u32(t, 1, 0))})
	}
	return out
}

// opcodeEntry is one entry of the model's operator code table.
type opcodeEntry struct {
	op      BuiltinOp
	custom  string
	version int
}

func parseSubgraph(r *fbReader, st fbTable, lim Limits, codes []opcodeEntry) (Subgraph, error) {
	sg := Subgraph{Name: r.str(st, 4), Inputs: r.ints(st, 1), Outputs: r.ints(st, 2)}
	tensors := r.tables(st, 0)
	if r.err != nil {
		return sg, r.err
	}
	if len(tensors) > lim.MaxTensors {
		return sg, fmt.Errorf("%d tensors exceed the limit of %d", len(tensors), lim.MaxTensors)
	}
	sg.Tensors = make([]TensorDef, len(tensors))
	for i, t := range tensors {
		td := TensorDef{
			Shape:  r.ints(t, 0),
			Type:   TensorType(int8(r.u8(t, 1, 0))),
			Buffer: int(r.u32(t, 2, 0)),
			Name:   r.str(t, 3),
		}
		td.IsVariable = r.boolean(t, 5)
		td.ShapeSignature = r.ints(t, 7)
		if qt, ok := r.table(t, 4); ok {
			q := &Quantization{
				Min: r.float32s(qt, 0), Max: r.float32s(qt, 1),
				Scale: r.float32s(qt, 2), ZeroPoint: r.int64s(qt, 3),
				Dim: int(r.i32(qt, 6, 0)),
			}
			if r.u8(qt, 4, 0) != 0 {
				return sg, fmt.Errorf("tensor %d (%s): custom quantization details are not supported", i, td.Name)
			}
			if len(q.Scale) > 0 || len(q.ZeroPoint) > 0 {
				td.Quant = q
			}
		}
		if _, ok := r.table(t, 6); ok && r.err == nil {
			return sg, fmt.Errorf("tensor %d (%s): sparse tensors are not supported", i, td.Name)
		}
		if r.err != nil {
			return sg, fmt.Errorf("tensor %d: %w", i, r.err)
		}
		sg.Tensors[i] = td
	}
	ops := r.tables(st, 3)
	if r.err != nil {
		return sg, r.err
	}
	if len(ops) > lim.MaxOperators {
		return sg, fmt.Errorf("%d operators exceed the limit of %d", len(ops), lim.MaxOperators)
	}
	sg.Operators = make([]Operator, len(ops))
	for i, t := range ops {
		idx := r.u32(t, 0, 0)
		if int64(idx) >= int64(len(codes)) {
			return sg, fmt.Errorf("operator %d: opcode index %d out of range (%d codes)", i, idx, len(codes))
		}
		c := codes[idx]
		op := Operator{Op: c.op, Custom: c.custom, Version: c.version,
			Inputs: r.ints(t, 1), Outputs: r.ints(t, 2), CustomOptions: r.bytes(t, 5)}
		if typ := r.u8(t, 3, 0); typ != 0 {
			if ot, ok := r.table(t, 4); ok {
				op.Options = parseOptions(r, typ, ot)
			}
		}
		if r.err != nil {
			return sg, fmt.Errorf("operator %d (%s): %w", i, op.Op, r.err)
		}
		sg.Operators[i] = op
	}
	return sg, r.err
}

// aligned returns b, or a copy of it when b's address is not 16-byte
// aligned, so typed views of constant data are always aligned.
func aligned(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	if uintptr(unsafe.Pointer(&b[0]))%16 == 0 {
		return b
	}
	c := alignedBytes(len(b))
	copy(c, b)
	return c
}

// alignedBytes allocates n zero bytes starting at a 64-byte boundary.
func alignedBytes(n int) []byte {
	b := make([]byte, n+64)
	off := int((64 - uintptr(unsafe.Pointer(&b[0]))%64) % 64)
	return b[off : off+n : off+n]
}
