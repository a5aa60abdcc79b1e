package tflite

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/edgeclass/edgeclass/internal/testenv"
)

// sameModel reports the first difference between the parts of two models
// that a file carries.
func sameModel(t *testing.T, got, want *Model) {
	t.Helper()
	if got.Description != want.Description {
		t.Errorf("description %q, want %q", got.Description, want.Description)
	}
	if len(got.Buffers) != len(want.Buffers) {
		t.Fatalf("%d buffers, want %d", len(got.Buffers), len(want.Buffers))
	}
	for i := range got.Buffers {
		if !bytes.Equal(got.Buffers[i], want.Buffers[i]) {
			t.Fatalf("buffer %d differs (%d bytes, want %d)", i, len(got.Buffers[i]), len(want.Buffers[i]))
		}
	}
	if len(got.Subgraphs) != len(want.Subgraphs) {
		t.Fatalf("%d subgraphs, want %d", len(got.Subgraphs), len(want.Subgraphs))
	}
	for si := range got.Subgraphs {
		g, w := &got.Subgraphs[si], &want.Subgraphs[si]
		if g.Name != w.Name || !reflect.DeepEqual(g.Inputs, w.Inputs) || !reflect.DeepEqual(g.Outputs, w.Outputs) {
			t.Errorf("subgraph %d: name/inputs/outputs %q %v %v, want %q %v %v", si, g.Name, g.Inputs, g.Outputs, w.Name, w.Inputs, w.Outputs)
		}
		if len(g.Tensors) != len(w.Tensors) || len(g.Operators) != len(w.Operators) {
			t.Fatalf("subgraph %d: %d tensors %d operators, want %d and %d", si, len(g.Tensors), len(g.Operators), len(w.Tensors), len(w.Operators))
		}
		for i := range g.Tensors {
			if !reflect.DeepEqual(g.Tensors[i], w.Tensors[i]) {
				t.Errorf("subgraph %d tensor %d: %+v, want %+v", si, i, g.Tensors[i], w.Tensors[i])
			}
		}
		for i := range g.Operators {
			if !reflect.DeepEqual(g.Operators[i], w.Operators[i]) {
				t.Errorf("subgraph %d operator %d: %+v, want %+v", si, i, g.Operators[i], w.Operators[i])
			}
		}
	}
	for _, c := range []struct {
		what      string
		got, want any
	}{
		{"metadata", got.Metadata, want.Metadata},
		{"signatures", got.Signatures, want.Signatures},
		{"info", got.Info, want.Info},
		{"files", got.Files, want.Files},
	} {
		if !reflect.DeepEqual(c.got, c.want) {
			t.Errorf("%s: %+v, want %+v", c.what, c.got, c.want)
		}
	}
}

func rebuild(t *testing.T, m *Model) (*Model, []byte) {
	t.Helper()
	data, err := m.Marshal()
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	m2, err := Load(data)
	if err != nil {
		t.Fatalf("load the rebuilt model: %v", err)
	}
	return m2, data
}

// TestRoundTripSharedModels rebuilds every shared model: the rebuilt file
// parses to an equal model and computes identical outputs.
func TestRoundTripSharedModels(t *testing.T) {
	dir := testenv.TestData(t, "models")
	goldenDir, runs := readGoldenManifest(t)
	inputs := map[string]string{} // model -> input of its first golden case
	for _, r := range runs {
		if _, ok := inputs[filepath.Base(r.Model)]; !ok {
			inputs[filepath.Base(r.Model)] = filepath.Join(goldenDir, r.Input)
		}
	}
	paths, _ := filepath.Glob(filepath.Join(dir, "*.tflite"))
	if len(paths) == 0 {
		testenv.Missing(t, "models in "+dir)
	}
	for _, p := range paths {
		t.Run(filepath.Base(p), func(t *testing.T) {
			m, err := LoadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			m2, data := rebuild(t, m)
			sameModel(t, m2, m)
			if again, err := m2.Marshal(); err != nil || !bytes.Equal(again, data) {
				t.Errorf("marshalling the rebuilt model again gives different bytes (err %v)", err)
			}
			var in []byte
			if f, ok := inputs[filepath.Base(p)]; ok {
				if in, err = os.ReadFile(f); err != nil {
					t.Fatal(err)
				}
			}
			a, b := runOnce(t, m, in), runOnce(t, m2, in)
			if !bytes.Equal(a, b) {
				t.Errorf("outputs of the rebuilt model differ")
			}
			t.Logf("%d -> %d bytes, %d output bytes identical", len(m.Raw()), len(data), len(a))
		})
	}
}

// runOnce runs m on input 0 = in (or a fixed pattern when in is nil) and
// returns output 0's bytes.
func runOnce(t *testing.T, m *Model, in []byte) []byte {
	t.Helper()
	it, err := NewInterpreter(m, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	dst := it.Input(0).Bytes()
	if in == nil {
		for i := range dst {
			dst[i] = byte(i * 7)
		}
	} else if err := it.Input(0).CopyFrom(in); err != nil {
		t.Fatal(err)
	}
	if err := it.Invoke(); err != nil {
		t.Fatal(err)
	}
	return bytes.Clone(it.Output(0).Bytes())
}

// TestBuilderEncodesEverything builds a model that uses every part of the
// format the reader knows and checks it reads back equal.
func TestBuilderEncodesEverything(t *testing.T) {
	g := NewGraphBuilder()
	in := g.AddTensor("in", Uint8, []int{1, 4, 4, 2}, PerTensor(0.5, 128))
	w := g.AddConst("w", Int8, []int{3, 1, 1, 2}, &Quantization{Scale: []float32{0.1, 0.2, 0.3}, ZeroPoint: []int64{0, 0, 0}},
		ToBytes([]int8{1, -2, 3, -4, 5, -6}))
	bias := g.AddConst("b", Int32, []int{3}, &Quantization{Scale: []float32{0.05, 0.1, 0.15}, ZeroPoint: []int64{0, 0, 0}},
		ToBytes([]int32{1, -1, 100}))
	conv := g.AddTensor("conv", Uint8, []int{1, 4, 4, 3}, &Quantization{Scale: []float32{0.25}, ZeroPoint: []int64{3}, Min: []float32{-1}, Max: []float32{2}})
	g.AddOp(OpConv2D, &Conv2DOptions{Padding: PaddingSame, StrideW: 1, StrideH: 1, Activation: ActRelu6, DilationW: 1, DilationH: 1},
		[]int{in, w, bias}, []int{conv})
	f := g.AddTensor("f", Float32, []int{1, 4, 4, 3}, nil)
	g.AddOp(OpDequantize, nil, []int{conv}, []int{f})
	shape := g.AddConst("shape", Int32, []int{2}, nil, ToBytes([]int32{1, 48}))
	flat := g.AddTensor("flat", Float32, []int{1, 48}, nil)
	g.AddOp(OpReshape, &ReshapeOptions{NewShape: []int{1, 48}}, []int{f, shape}, []int{flat})
	sm := g.AddTensor("sm", Float32, []int{1, 48}, nil)
	g.AddOp(OpSoftmax, &SoftmaxOptions{Beta: 1.5}, []int{flat}, []int{sm})
	custom := g.AddTensor("custom", Float32, []int{1, 48}, nil)
	op := &g.Model().Subgraphs[0].Operators[g.AddOp(OpCustom, nil, []int{sm}, []int{custom})]
	op.Custom, op.CustomOptions = "MyOp", []byte{1, 2, 3}
	big := g.AddTensor("big", Float32, []int{1, 48}, nil)
	g.AddOp(BuiltinOp(150), nil, []int{custom}, []int{big}) // GELU: code > 127
	state := g.AddTensor("state", Float32, []int{1}, nil)
	g.Model().Subgraphs[0].Tensors[state].IsVariable = true
	g.Model().Subgraphs[0].Tensors[in].ShapeSignature = []int{-1, 4, 4, 2}
	g.SetInputs(in)
	g.SetOutputs(big, sm)
	m := g.Model()
	m.Description = "every part"
	m.Signatures = []Signature{{Key: "serving_default", Inputs: []SignatureTensor{{Name: "x", Tensor: in}},
		Outputs: []SignatureTensor{{Name: "y", Tensor: big}}}}
	m.Info = &ModelInfo{Name: "n", Description: "d", Version: "v1", Author: "a", License: "l",
		Inputs:  []TensorInfo{{Name: "image", Mean: []float32{127.5}, Std: []float32{127.5}, Min: []float32{-1}, Max: []float32{1}}},
		Outputs: []TensorInfo{{Name: "probability"}, {Name: "other", Description: "second"}},
		Files:   []AssociatedFile{{Name: "readme.txt", Description: "about", Type: FileDescriptions, Locale: "en"}}}
	m.Files = map[string][]byte{"readme.txt": []byte("hello")}
	m.SetLabels([]string{"cat", "dog"})

	m2, data := rebuild(t, m)
	// The builder added the metadata buffer and its entry; otherwise equal.
	want := &Model{Description: m.Description, Subgraphs: m.Subgraphs, Signatures: m.Signatures, Info: m.Info, Files: m.Files,
		Buffers:  append(m.Buffers[:len(m.Buffers):len(m.Buffers)], m2.Buffers[len(m.Buffers)]),
		Metadata: []MetadataRef{{Name: MetadataName, Buffer: len(m.Buffers)}}}
	sameModel(t, m2, want)
	if got := m2.Labels(); !reflect.DeepEqual(got, []string{"cat", "dog"}) {
		t.Errorf("labels %q", got)
	}
	if m2.Info.Outputs[0].Files[0].Type != FileTensorAxisLabels {
		t.Errorf("labels file type %v", m2.Info.Outputs[0].Files[0].Type)
	}

	// Raw checks the reader does not see: both opcode fields, buffer
	// alignment, the file identifier.
	if string(data[4:8]) != "TFL3" {
		t.Errorf("identifier %q", data[4:8])
	}
	r := newFBReader(data)
	root := r.root()
	var codes [][2]int32
	for _, c := range r.tables(root, 1) {
		codes = append(codes, [2]int32{int32(int8(r.u8(c, 0, 0))), r.i32(c, 3, 0)})
	}
	wantCodes := [][2]int32{{3, 3}, {6, 6}, {22, 22}, {25, 25}, {32, 32}, {127, 150}}
	if !reflect.DeepEqual(codes, wantCodes) {
		t.Errorf("operator codes (deprecated, builtin) %v, want %v", codes, wantCodes)
	}
	for i, bt := range r.tables(root, 4) {
		start, n := r.vector(bt, 0, 1)
		if n > 0 && start%16 != 0 {
			t.Errorf("buffer %d data starts at %d, not 16-byte aligned", i, start)
		}
	}
	if r.err != nil {
		t.Fatal(r.err)
	}

	// Changing Info re-encodes the record in place; an unchanged one keeps
	// its bytes.
	again, _ := rebuild(t, m2)
	if !bytes.Equal(again.Buffers[len(m.Buffers)], m2.Buffers[len(m.Buffers)]) {
		t.Errorf("unchanged metadata was re-encoded")
	}
	m2.Info.Name = "renamed"
	renamed, _ := rebuild(t, m2)
	if renamed.Info.Name != "renamed" || len(renamed.Buffers) != len(m2.Buffers) {
		t.Errorf("renamed info: name %q, %d buffers (want %d)", renamed.Info.Name, len(renamed.Buffers), len(m2.Buffers))
	}
}

// TestSetLabelsOnSharedModel replaces the labels of a model that carries
// Google-written metadata; the other metadata survives.
func TestSetLabelsOnSharedModel(t *testing.T) {
	m, err := LoadFile(testenv.TestData(t, "models/automl_labeler_model.tflite"))
	if err != nil {
		t.Fatal(err)
	}
	if m.Info == nil || len(m.Info.Inputs) == 0 {
		t.Fatal("model has no input metadata")
	}
	m.SetLabels([]string{"a", "b", "c"})
	m2, _ := rebuild(t, m)
	if got := m2.Labels(); !reflect.DeepEqual(got, []string{"a", "b", "c"}) {
		t.Errorf("labels %q", got)
	}
	if !reflect.DeepEqual(m2.Info.Inputs, m.Info.Inputs) || m2.Info.Name != m.Info.Name {
		t.Errorf("input metadata changed: %+v, want %+v", m2.Info.Inputs, m.Info.Inputs)
	}
}

func TestBuilderRejects(t *testing.T) {
	build := func(mod func(g *GraphBuilder)) error {
		g := NewGraphBuilder()
		a := g.AddTensor("a", Float32, []int{1, 2}, nil)
		b := g.AddTensor("b", Float32, []int{1, 2}, nil)
		g.AddOp(OpAdd, &ActivationOptions{}, []int{a, a}, []int{b})
		g.SetInputs(a)
		g.SetOutputs(b)
		mod(g)
		_, err := g.Model().Marshal()
		return err
	}
	for _, c := range []struct {
		name string
		mod  func(g *GraphBuilder)
		want string
	}{
		{"options of another op", func(g *GraphBuilder) { g.m.Subgraphs[0].Operators[0].Options = &Conv2DOptions{} }, "do not belong to ADD"},
		{"resize options on add", func(g *GraphBuilder) { g.m.Subgraphs[0].Operators[0].Options = &ResizeOptions{} }, "do not belong"},
		{"nil options pointer", func(g *GraphBuilder) { g.m.Subgraphs[0].Operators[0].Options = (*ActivationOptions)(nil) }, "nil"},
		{"foreign options", func(g *GraphBuilder) { g.m.Subgraphs[0].Operators[0].Options = 5 }, "cannot be written"},
		{"data in buffer 0", func(g *GraphBuilder) { g.m.Buffers[0] = []byte{1} }, "buffer 0"},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := build(c.mod)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want one containing %q", err, c.want)
			}
		})
	}
}

func TestToBytes(t *testing.T) {
	got := ToBytes([]float32{1, -2})
	want := binary.LittleEndian.AppendUint32(binary.LittleEndian.AppendUint32(nil, 0x3f800000), 0xc0000000)
	if !bytes.Equal(got, want) {
		t.Errorf("float32s: % x, want % x", got, want)
	}
	if got := ToBytes([]int16{-2, 258}); !bytes.Equal(got, []byte{0xfe, 0xff, 2, 1}) {
		t.Errorf("int16s: % x", got)
	}
	if got := ToBytes([]int64{-1}); !bytes.Equal(got, bytes.Repeat([]byte{0xff}, 8)) {
		t.Errorf("int64s: % x", got)
	}
}
