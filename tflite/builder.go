package tflite

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
)

// Marshal encodes the model as a .tflite file (schema v3, identifier
// "TFL3"). Operator codes are derived from the operators. When Info is set,
// it is written as the TFLITE_METADATA record, and Files are zipped after
// the flatbuffer, so that Load reads both back. Marshal does not validate
// the graph: Load the result to check it.
func (m *Model) Marshal() ([]byte, error) {
	bufs, metas, err := m.buffersWithInfo()
	if err != nil {
		return nil, err
	}
	// Operator codes first: operators refer to them by index.
	w := &modelWriter{m: m, codeIndex: map[opcodeEntry]int{}}
	for si := range m.Subgraphs {
		for oi := range m.Subgraphs[si].Operators {
			w.opcode(&m.Subgraphs[si].Operators[oi])
		}
	}
	size := 1 << 12
	for _, b := range bufs {
		size += len(b) + 32
	}
	for _, sg := range m.Subgraphs {
		size += 128*len(sg.Tensors) + 64*len(sg.Operators)
	}
	w.b = newFBBuilder(size)
	fb, err := w.model(bufs, metas)
	if err != nil {
		return nil, err
	}
	if len(m.Files) == 0 {
		return fb, nil
	}
	return appendZip(fb, m.Files)
}

// buffersWithInfo returns the buffers and metadata entries to write: those
// of the model, with the TFLITE_METADATA buffer encoded from Info. A buffer
// that already parses to Info is kept as it is, so records written by other
// tools keep the fields ModelInfo does not hold.
func (m *Model) buffersWithInfo() ([][]byte, []MetadataRef, error) {
	bufs, metas := m.Buffers, m.Metadata
	if len(bufs) == 0 {
		bufs = [][]byte{nil}
	}
	if len(bufs[0]) != 0 {
		return nil, nil, fmt.Errorf("buffer 0 must be empty (it stands for \"no data\")")
	}
	if m.Info == nil {
		return bufs, metas, nil
	}
	idx := slices.IndexFunc(metas, func(md MetadataRef) bool { return md.Name == MetadataName })
	if idx >= 0 {
		b := metas[idx].Buffer
		if b <= 0 || b >= len(bufs) {
			return nil, nil, fmt.Errorf("metadata %q: buffer %d out of range", MetadataName, b)
		}
		if old, err := parseModelInfo(bufs[b]); err == nil && reflect.DeepEqual(old, m.Info) {
			return bufs, metas, nil
		}
		bufs = slices.Clone(bufs)
		bufs[b] = encodeModelInfo(m.Info)
		return bufs, metas, nil
	}
	bufs = append(slices.Clone(bufs), encodeModelInfo(m.Info))
	metas = append(slices.Clone(metas), MetadataRef{Name: MetadataName, Buffer: len(bufs) - 1})
	return bufs, metas, nil
}

// modelWriter encodes one model.
type modelWriter struct {
	m         *Model
	b         *fbBuilder
	codes     []opcodeEntry
	codeIndex map[opcodeEntry]int
}

// opcode returns the operator code index of op, adding the code on first use.
func (w *modelWriter) opcode(op *Operator) int {
	e := opcodeEntry{op: op.Op, version: max(op.Version, 1)}
	if op.Op == OpCustom {
		e.custom = op.Custom
	}
	i, ok := w.codeIndex[e]
	if !ok {
		i = len(w.codes)
		w.codes = append(w.codes, e)
		w.codeIndex[e] = i
	}
	return i
}

func (w *modelWriter) model(bufs [][]byte, metas []MetadataRef) ([]byte, error) {
	b := w.b
	bufOffs := make([]int, len(bufs))
	for i, data := range bufs {
		var dataOff int
		if len(data) > 0 {
			dataOff = b.bytesVector(data, 16)
		}
		b.startTable()
		b.addRef(0, dataOff)
		bufOffs[i] = b.endTable()
	}
	buffers := b.refs(bufOffs)

	sgOffs := make([]int, len(w.m.Subgraphs))
	for i := range w.m.Subgraphs {
		off, err := w.subgraph(&w.m.Subgraphs[i])
		if err != nil {
			return nil, fmt.Errorf("subgraph %d: %w", i, err)
		}
		sgOffs[i] = off
	}
	subgraphs := b.refs(sgOffs)

	codeOffs := make([]int, len(w.codes))
	for i, c := range w.codes {
		custom := w.optStr(c.custom)
		b.startTable()
		b.addI32(3, int32(c.op))
		b.addI32(2, int32(c.version))
		b.addRef(1, custom)
		b.addU8(0, uint8(min(c.op, OpPlaceholderForGreater)))
		codeOffs[i] = b.endTable()
	}
	codes := b.refs(codeOffs)

	var metadata int
	if len(metas) > 0 {
		offs := make([]int, len(metas))
		for i, md := range metas {
			name := b.str(md.Name)
			b.startTable()
			b.addRef(0, name)
			b.addI32(1, int32(md.Buffer))
			offs[i] = b.endTable()
		}
		metadata = b.refs(offs)
	}
	var sigs int
	if len(w.m.Signatures) > 0 {
		offs := make([]int, len(w.m.Signatures))
		for i, s := range w.m.Signatures {
			in, out := w.tensorMaps(s.Inputs), w.tensorMaps(s.Outputs)
			key := b.str(s.Key)
			b.startTable()
			b.addRef(0, in)
			b.addRef(1, out)
			b.addRef(2, key)
			b.addI32(4, int32(s.Subgraph))
			offs[i] = b.endTable()
		}
		sigs = b.refs(offs)
	}
	desc := w.optStr(w.m.Description)

	b.startTable()
	b.addI32(0, 3)
	b.addRef(1, codes)
	b.addRef(2, subgraphs)
	b.addRef(3, desc)
	b.addRef(4, buffers)
	b.addRef(6, metadata)
	b.addRef(7, sigs)
	return b.finish(b.endTable(), fileIdentifier), nil
}

// optStr writes s, or nothing when it is empty (offset 0: field absent).
func (w *modelWriter) optStr(s string) int {
	if s == "" {
		return 0
	}
	return w.b.str(s)
}

func (w *modelWriter) tensorMaps(ts []SignatureTensor) int {
	offs := make([]int, len(ts))
	for i, t := range ts {
		name := w.b.str(t.Name)
		w.b.startTable()
		w.b.addRef(0, name)
		w.b.addI32(1, int32(t.Tensor))
		offs[i] = w.b.endTable()
	}
	return w.b.refs(offs)
}

func (w *modelWriter) subgraph(sg *Subgraph) (int, error) {
	b := w.b
	tensorOffs := make([]int, len(sg.Tensors))
	for i := range sg.Tensors {
		tensorOffs[i] = w.tensor(&sg.Tensors[i])
	}
	tensors := b.refs(tensorOffs)
	opOffs := make([]int, len(sg.Operators))
	for i := range sg.Operators {
		off, err := w.operator(&sg.Operators[i])
		if err != nil {
			return 0, fmt.Errorf("operator %d (%s): %w", i, opName(&sg.Operators[i]), err)
		}
		opOffs[i] = off
	}
	ops := b.refs(opOffs)
	inputs, outputs := b.int32s(sg.Inputs), b.int32s(sg.Outputs)
	name := w.optStr(sg.Name)
	b.startTable()
	b.addRef(0, tensors)
	b.addRef(1, inputs)
	b.addRef(2, outputs)
	b.addRef(3, ops)
	b.addRef(4, name)
	return b.endTable(), nil
}

func (w *modelWriter) tensor(t *TensorDef) int {
	b := w.b
	shape := b.int32s(t.Shape)
	var sig, quant int
	if t.ShapeSignature != nil {
		sig = b.int32s(t.ShapeSignature)
	}
	if q := t.Quant; q != nil {
		var lo, hi, scale, zp int
		if len(q.Min) > 0 {
			lo = b.float32s(q.Min)
		}
		if len(q.Max) > 0 {
			hi = b.float32s(q.Max)
		}
		if len(q.Scale) > 0 {
			scale = b.float32s(q.Scale)
		}
		if len(q.ZeroPoint) > 0 {
			zp = b.int64s(q.ZeroPoint)
		}
		b.startTable()
		b.addRef(0, lo)
		b.addRef(1, hi)
		b.addRef(2, scale)
		b.addRef(3, zp)
		b.addI32(6, int32(q.Dim))
		quant = b.endTable()
	}
	name := w.optStr(t.Name)
	b.startTable()
	b.addRef(0, shape)
	b.addI32(2, int32(t.Buffer))
	b.addRef(3, name)
	b.addRef(4, quant)
	b.addRef(7, sig)
	b.addU8(1, uint8(t.Type))
	b.addBool(5, t.IsVariable)
	b.addBool(8, true) // has_rank: the shape is known, even when empty (a scalar)
	return b.endTable()
}

func (w *modelWriter) operator(op *Operator) (int, error) {
	b := w.b
	typ, opts, err := w.options(op)
	if err != nil {
		return 0, err
	}
	inputs, outputs := b.int32s(op.Inputs), b.int32s(op.Outputs)
	var custom int
	if len(op.CustomOptions) > 0 {
		custom = b.bytesVector(op.CustomOptions, 1)
	}
	b.startTable()
	b.addI32(0, int32(w.opcode(op)))
	b.addRef(1, inputs)
	b.addRef(2, outputs)
	b.addRef(4, opts)
	b.addRef(5, custom)
	b.addU8(3, typ)
	return b.endTable(), nil
}

// optionTypes gives the BuiltinOptions union member of each operator whose
// options this package writes.
var optionTypes = map[BuiltinOp]uint8{
	OpConv2D: optConv2D, OpDepthwiseConv2D: optDepthwiseConv2D,
	OpAveragePool2D: optPool2D, OpMaxPool2D: optPool2D, OpL2Pool2D: optPool2D,
	OpFullyConnected: optFullyConnected, OpSoftmax: optSoftmax, OpConcatenation: optConcatenation,
	OpAdd: optAdd, OpSub: optSub, OpMul: optMul, OpL2Normalization: optL2Norm,
	OpResizeBilinear: optResizeBilinear, OpResizeNearestNeighbor: optResizeNearestNeighbor,
	OpReshape: optReshape, OpSqueeze: optSqueeze, OpStridedSlice: optStridedSlice,
	OpMean: optReducer, OpSum: optReducer, OpReduceMax: optReducer,
	OpLeakyRelu: optLeakyRelu, OpArgMax: optArgMax,
	// Operators whose options tables have no fields.
	OpPad: optPad, OpPadV2: optPadV2, OpTranspose: optTranspose, OpDequantize: optDequantize,
	OpMaximum: optMaximumMinimum, OpMinimum: optMaximumMinimum, OpQuantize: optQuantize,
	OpHardSwish: optHardSwish,
}

// options writes op's builtin options table and returns its union type, or
// 0 when the operator has none. Operators with field-less options tables
// get an empty one, as TensorFlow's converter writes.
func (w *modelWriter) options(op *Operator) (uint8, int, error) {
	b := w.b
	want := optionTypes[op.Op]
	if v := reflect.ValueOf(op.Options); v.Kind() == reflect.Pointer && v.IsNil() {
		return 0, 0, fmt.Errorf("options are a nil %T", op.Options)
	}
	var typ uint8
	switch o := op.Options.(type) {
	case nil:
		switch want {
		case optPad, optPadV2, optTranspose, optDequantize, optMaximumMinimum, optQuantize, optHardSwish:
			b.startTable()
			return want, b.endTable(), nil
		}
		return 0, 0, nil
	case *Conv2DOptions:
		typ = optConv2D
		b.startTable()
		b.addI32(1, int32(o.StrideW))
		b.addI32(2, int32(o.StrideH))
		b.addI32(4, int32(o.DilationW))
		b.addI32(5, int32(o.DilationH))
		b.addU8(0, uint8(o.Padding))
		b.addU8(3, uint8(o.Activation))
	case *DepthwiseConv2DOptions:
		typ = optDepthwiseConv2D
		b.startTable()
		b.addI32(1, int32(o.StrideW))
		b.addI32(2, int32(o.StrideH))
		b.addI32(3, int32(o.DepthMultiplier))
		b.addI32(5, int32(o.DilationW))
		b.addI32(6, int32(o.DilationH))
		b.addU8(0, uint8(o.Padding))
		b.addU8(4, uint8(o.Activation))
	case *Pool2DOptions:
		typ = optPool2D
		b.startTable()
		b.addI32(1, int32(o.StrideW))
		b.addI32(2, int32(o.StrideH))
		b.addI32(3, int32(o.FilterW))
		b.addI32(4, int32(o.FilterH))
		b.addU8(0, uint8(o.Padding))
		b.addU8(5, uint8(o.Activation))
	case *FullyConnectedOptions:
		typ = optFullyConnected
		b.startTable()
		b.addU8(0, uint8(o.Activation))
		b.addU8(1, uint8(o.WeightsFormat))
		b.addBool(2, o.KeepNumDims)
	case *SoftmaxOptions:
		typ = optSoftmax
		b.startTable()
		b.addF32(0, o.Beta)
	case *ConcatenationOptions:
		typ = optConcatenation
		b.startTable()
		b.addI32(0, int32(o.Axis))
		b.addU8(1, uint8(o.Activation))
	case *ActivationOptions:
		if want == optAdd || want == optSub || want == optMul || want == optL2Norm {
			typ = want
		}
		b.startTable()
		b.addU8(0, uint8(o.Activation))
	case *ReshapeOptions:
		typ = optReshape
		shape := b.int32s(o.NewShape)
		b.startTable()
		b.addRef(0, shape)
	case *ResizeOptions:
		b.startTable()
		switch want {
		case optResizeBilinear:
			typ = want
			b.addBool(2, o.AlignCorners)
			b.addBool(3, o.HalfPixelCenters)
		case optResizeNearestNeighbor:
			typ = want
			b.addBool(0, o.AlignCorners)
			b.addBool(1, o.HalfPixelCenters)
		}
	case *SqueezeOptions:
		typ = optSqueeze
		dims := b.int32s(o.Dims)
		b.startTable()
		b.addRef(0, dims)
	case *StridedSliceOptions:
		typ = optStridedSlice
		b.startTable()
		b.addI32(0, int32(o.BeginMask))
		b.addI32(1, int32(o.EndMask))
		b.addI32(2, int32(o.EllipsisMask))
		b.addI32(3, int32(o.NewAxisMask))
		b.addI32(4, int32(o.ShrinkAxisMask))
		b.addBool(5, o.Offset)
	case *ReducerOptions:
		typ = optReducer
		b.startTable()
		b.addBool(0, o.KeepDims)
	case *LeakyReluOptions:
		typ = optLeakyRelu
		b.startTable()
		b.addF32(0, o.Alpha)
	case *ArgMaxOptions:
		typ = optArgMax
		b.startTable()
		b.addU8(0, uint8(o.OutputType))
	default:
		return 0, 0, fmt.Errorf("options of type %T cannot be written", op.Options)
	}
	// Operators missing from optionTypes take the options' own union type.
	if typ == 0 || (want != 0 && typ != want) {
		return 0, 0, fmt.Errorf("options %T do not belong to %s", op.Options, op.Op)
	}
	return typ, b.endTable(), nil
}

// encodeModelInfo writes info as a TFLITE_METADATA flatbuffer
// (metadata_schema.fbs, identifier "M001").
func encodeModelInfo(info *ModelInfo) []byte {
	b := newFBBuilder(1024)
	optStr := func(s string) int {
		if s == "" {
			return 0
		}
		return b.str(s)
	}
	files := func(fs []AssociatedFile) int {
		if len(fs) == 0 {
			return 0
		}
		offs := make([]int, len(fs))
		for i, f := range fs {
			name, desc, locale := optStr(f.Name), optStr(f.Description), optStr(f.Locale)
			b.startTable()
			b.addRef(0, name)
			b.addRef(1, desc)
			b.addRef(3, locale)
			b.addU8(2, uint8(f.Type))
			offs[i] = b.endTable()
		}
		return b.refs(offs)
	}
	tensors := func(ts []TensorInfo) int {
		offs := make([]int, len(ts))
		for i, t := range ts {
			var units, stats int
			if len(t.Mean) > 0 || len(t.Std) > 0 {
				mean, std := b.float32s(t.Mean), b.float32s(t.Std)
				b.startTable()
				b.addRef(0, mean)
				b.addRef(1, std)
				norm := b.endTable()
				b.startTable()
				b.addRef(1, norm)
				b.addU8(0, 1) // ProcessUnitOptions: NormalizationOptions
				units = b.refs([]int{b.endTable()})
			}
			if len(t.Min) > 0 || len(t.Max) > 0 {
				hi, lo := b.float32s(t.Max), b.float32s(t.Min)
				b.startTable()
				b.addRef(0, hi)
				b.addRef(1, lo)
				stats = b.endTable()
			}
			fs := files(t.Files)
			name, desc := optStr(t.Name), optStr(t.Description)
			b.startTable()
			b.addRef(0, name)
			b.addRef(1, desc)
			b.addRef(4, units)
			b.addRef(5, stats)
			b.addRef(6, fs)
			offs[i] = b.endTable()
		}
		return b.refs(offs)
	}
	var subgraphs int
	if len(info.Inputs) > 0 || len(info.Outputs) > 0 {
		in, out := tensors(info.Inputs), tensors(info.Outputs)
		b.startTable()
		b.addRef(2, in)
		b.addRef(3, out)
		subgraphs = b.refs([]int{b.endTable()})
	}
	fs := files(info.Files)
	name, desc, version := optStr(info.Name), optStr(info.Description), optStr(info.Version)
	author, license := optStr(info.Author), optStr(info.License)
	parser := b.str("1.0.0")
	b.startTable()
	b.addRef(0, name)
	b.addRef(1, desc)
	b.addRef(2, version)
	b.addRef(3, subgraphs)
	b.addRef(4, author)
	b.addRef(5, license)
	b.addRef(6, fs)
	b.addRef(7, parser)
	return bytes.Clone(b.finish(b.endTable(), "M001"))
}

// appendZip appends files to the flatbuffer as an uncompressed zip whose
// offsets count from the start of the whole file.
func appendZip(fb []byte, files map[string][]byte) ([]byte, error) {
	var out bytes.Buffer
	out.Write(fb)
	zw := zip.NewWriter(&out)
	zw.SetOffset(int64(len(fb)))
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		f, err := zw.CreateHeader(&zip.FileHeader{Name: n, Method: zip.Store})
		if err != nil {
			return nil, fmt.Errorf("associated file %s: %w", n, err)
		}
		if _, err := f.Write(files[n]); err != nil {
			return nil, fmt.Errorf("associated file %s: %w", n, err)
		}
	}
	if err := zw.Close(); err != nil {
		return nil, fmt.Errorf("associated files: %w", err)
	}
	return out.Bytes(), nil
}

// LabelsFile is the name SetLabels gives the labels file.
const LabelsFile = "labels.txt"

// SetLabels embeds class labels for output 0: a labels.txt associated file,
// named in the metadata as output 0's TENSOR_AXIS_LABELS file, which Labels
// reads back. It creates Info when the model has none.
func (m *Model) SetLabels(labels []string) {
	if m.Info == nil {
		m.Info = &ModelInfo{}
	}
	if len(m.Info.Outputs) == 0 {
		n := 1
		if len(m.Subgraphs) > 0 {
			n = max(n, len(m.Main().Outputs))
		}
		m.Info.Outputs = make([]TensorInfo, n)
	}
	out := &m.Info.Outputs[0]
	out.Files = slices.DeleteFunc(slices.Clone(out.Files), func(f AssociatedFile) bool { return f.Type == FileTensorAxisLabels })
	out.Files = append(out.Files, AssociatedFile{Name: LabelsFile, Description: "Labels of the classes of output 0", Type: FileTensorAxisLabels})
	files := make(map[string][]byte, len(m.Files)+1)
	for n, d := range m.Files {
		files[n] = d
	}
	files[LabelsFile] = []byte(strings.Join(labels, "\n") + "\n")
	m.Files = files
}

// GraphBuilder assembles a one-graph model tensor by tensor, for tests and
// for the tools that write models. Indices it returns are tensor indices.
type GraphBuilder struct{ m *Model }

// NewGraphBuilder starts an empty model.
func NewGraphBuilder() *GraphBuilder {
	return &GraphBuilder{m: &Model{Version: 3, Buffers: [][]byte{nil}, Subgraphs: []Subgraph{{Name: "main"}}}}
}

// Model returns the model being built (to set Description, Info, Files, or
// to Marshal it).
func (g *GraphBuilder) Model() *Model { return g.m }

func (g *GraphBuilder) sg() *Subgraph { return &g.m.Subgraphs[0] }

// AddTensor adds a tensor without data (an input or activation); q may be nil.
func (g *GraphBuilder) AddTensor(name string, typ TensorType, shape []int, q *Quantization) int {
	sg := g.sg()
	sg.Tensors = append(sg.Tensors, TensorDef{Name: name, Type: typ, Shape: slices.Clone(shape), Quant: q})
	return len(sg.Tensors) - 1
}

// AddConst adds a constant tensor holding data, its little-endian elements
// (see ToBytes).
func (g *GraphBuilder) AddConst(name string, typ TensorType, shape []int, q *Quantization, data []byte) int {
	i := g.AddTensor(name, typ, shape, q)
	g.m.Buffers = append(g.m.Buffers, data)
	g.sg().Tensors[i].Buffer = len(g.m.Buffers) - 1
	return i
}

// AddOp appends an operator, which runs after those added before it, and
// returns its index. opts is one of the *...Options types or nil; -1 in
// inputs omits an optional input.
func (g *GraphBuilder) AddOp(op BuiltinOp, opts any, inputs, outputs []int) int {
	sg := g.sg()
	sg.Operators = append(sg.Operators, Operator{Op: op, Version: 1, Options: opts,
		Inputs: slices.Clone(inputs), Outputs: slices.Clone(outputs)})
	return len(sg.Operators) - 1
}

// SetInputs sets the graph's inputs, in order.
func (g *GraphBuilder) SetInputs(tensors ...int) { g.sg().Inputs = slices.Clone(tensors) }

// SetOutputs sets the graph's outputs, in order.
func (g *GraphBuilder) SetOutputs(tensors ...int) { g.sg().Outputs = slices.Clone(tensors) }

// PerTensor returns per-tensor quantization parameters.
func PerTensor(scale float32, zeroPoint int64) *Quantization {
	return &Quantization{Scale: []float32{scale}, ZeroPoint: []int64{zeroPoint}}
}

// ToBytes encodes numbers as the little-endian bytes of tensor data.
func ToBytes[E int8 | uint8 | int16 | uint16 | int32 | int64 | float32](v []E) []byte {
	var z E
	size := binary.Size(z)
	out := make([]byte, size*len(v))
	for i, x := range v {
		switch x := any(x).(type) {
		case int8:
			out[i] = byte(x)
		case uint8:
			out[i] = x
		case int16:
			binary.LittleEndian.PutUint16(out[2*i:], uint16(x))
		case uint16:
			binary.LittleEndian.PutUint16(out[2*i:], x)
		case int32:
			binary.LittleEndian.PutUint32(out[4*i:], uint32(x))
		case int64:
			binary.LittleEndian.PutUint64(out[8*i:], uint64(x))
		case float32:
			binary.LittleEndian.PutUint32(out[4*i:], math.Float32bits(x))
		}
	}
	return out
}
