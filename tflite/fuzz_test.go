package tflite

import (
	"bytes"
	"encoding/binary"
	"math"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
)

// fuzzLimits keep every input the fuzzer finds cheap to load and run.
var fuzzLimits = Limits{MaxTensors: 128, MaxOperators: 64, MaxRank: 6, MaxTensorBytes: 16 << 10, MaxArenaBytes: 256 << 10}

// FuzzLoad feeds arbitrary bytes to the reader and, when a model loads, to
// the interpreter with zeroed inputs, and re-encodes it with the builder.
// Nothing may panic, hang or allocate more than the limits allow.
func FuzzLoad(f *testing.F) {
	for _, m := range fuzzSeedModels(f) {
		f.Add(m)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := LoadWithLimits(data, fuzzLimits)
		if err != nil {
			return
		}
		m.Labels()
		if again, err := m.Marshal(); err == nil {
			if _, err := LoadWithLimits(again, fuzzLimits); err != nil {
				t.Fatalf("a loaded model, re-encoded, does not load: %v", err)
			}
		}
		it, err := NewInterpreter(m, &Options{MaxArenaBytes: fuzzLimits.MaxArenaBytes})
		if err != nil {
			return
		}
		defer it.Close()
		if err := it.Invoke(); err != nil {
			t.Fatalf("invoke: %v", err)
		}
	})
}

// fuzzSeedModels are small valid models covering every operator: one
// oracle test model per operator family and type.
func fuzzSeedModels(tb testing.TB) [][]byte {
	var seeds [][]byte
	for _, c := range oracleCases() {
		data, _, _, _ := buildCase(tb, c)
		seeds = append(seeds, data)
	}
	return seeds
}

// tinyModel builds a valid float model: x -> ADD(x, c) -> SOFTMAX.
func tinyModel() *GraphBuilder {
	g := NewGraphBuilder()
	x := g.AddTensor("x", Float32, []int{1, 4}, nil)
	c := g.AddConst("c", Float32, []int{1, 4}, nil, ToBytes([]float32{1, 2, 3, 4}))
	s := g.AddTensor("sum", Float32, []int{1, 4}, nil)
	y := g.AddTensor("y", Float32, []int{1, 4}, nil)
	g.AddOp(OpAdd, &ActivationOptions{}, []int{x, c}, []int{s})
	g.AddOp(OpSoftmax, &SoftmaxOptions{Beta: 1}, []int{s}, []int{y})
	g.SetInputs(x)
	g.SetOutputs(y)
	return g
}

func marshal(t *testing.T, g *GraphBuilder) []byte {
	t.Helper()
	data, err := g.Model().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// firstOperatorField returns the file position of a scalar field of the
// first operator of subgraph 0, to corrupt it in place.
func firstOperatorField(t *testing.T, data []byte, id int) int {
	t.Helper()
	r := newFBReader(data)
	sg := r.tables(r.root(), 2)[0]
	op := r.tables(sg, 3)[0]
	p := r.field(op, id, 4)
	if r.err != nil || p < 0 {
		t.Fatalf("operator field %d not found (%v)", id, r.err)
	}
	return p
}

// TestBadFiles checks that named kinds of broken files are refused with an
// error that says what is wrong.
func TestBadFiles(t *testing.T) {
	valid := marshal(t, tinyModel())
	for _, c := range []struct {
		name string
		file func(t *testing.T) []byte
		want string // part of the error of Load, or of NewInterpreter
	}{
		{"empty", func(*testing.T) []byte { return nil }, "too short"},
		{"truncated to 8 bytes", func(*testing.T) []byte { return valid[:8] }, "outside"},
		{"truncated to half", func(*testing.T) []byte { return valid[:len(valid)/2] }, "parse model"},
		{"truncated by 4 bytes", func(*testing.T) []byte { return valid[:len(valid)-4] }, "parse model"},
		{"wrong identifier", func(*testing.T) []byte {
			d := bytes.Clone(valid)
			copy(d[4:], "TFL2")
			return d
		}, `file identifier is "TFL2"`},
		{"root offset outside the file", func(*testing.T) []byte {
			d := bytes.Clone(valid)
			binary.LittleEndian.PutUint32(d, uint32(len(d)+100))
			return d
		}, "outside"},
		{"buffer index out of range", func(t *testing.T) []byte {
			g := tinyModel()
			g.Model().Subgraphs[0].Tensors[1].Buffer = 99
			return marshal(t, g)
		}, "buffer 99 out of range"},
		{"tensor index out of range", func(t *testing.T) []byte {
			g := tinyModel()
			g.Model().Subgraphs[0].Operators[1].Inputs = []int{42}
			return marshal(t, g)
		}, "input tensor 42 out of range"},
		{"opcode index out of range", func(t *testing.T) []byte {
			d := marshal(t, tinyModel())
			binary.LittleEndian.PutUint32(d[firstOperatorField(t, d, 0):], 7)
			return d
		}, "opcode index 7 out of range"},
		{"shape overflows", func(t *testing.T) []byte {
			g := tinyModel()
			g.Model().Subgraphs[0].Tensors[0].Shape = []int{1 << 30, 1 << 30, 1 << 30}
			return marshal(t, g)
		}, "too large"},
		{"zero dimension beside huge ones", func(t *testing.T) []byte {
			g := tinyModel()
			g.Model().Subgraphs[0].Tensors[0].Shape = []int{0, 1 << 30, 1 << 30}
			return marshal(t, g)
		}, "spans 1152921504606846976 elements"},
		{"negative dimension", func(t *testing.T) []byte {
			g := tinyModel()
			g.Model().Subgraphs[0].Tensors[0].Shape = []int{1, -4}
			return marshal(t, g)
		}, "negative dimension"},
		{"constant data of the wrong size", func(t *testing.T) []byte {
			g := tinyModel()
			g.Model().Buffers[1] = ToBytes([]float32{1, 2, 3})
			return marshal(t, g)
		}, "constant data is 12 bytes"},
		{"operator writes a constant", func(t *testing.T) []byte {
			g := tinyModel()
			g.Model().Subgraphs[0].Operators[0].Outputs = []int{1}
			return marshal(t, g)
		}, "writes constant tensor 1"},
		{"reads before writes (a cycle)", func(t *testing.T) []byte {
			g := tinyModel()
			ops := g.Model().Subgraphs[0].Operators
			ops[0], ops[1] = ops[1], ops[0]
			return marshal(t, g)
		}, "before anything writes it"},
		{"tensor written twice", func(t *testing.T) []byte {
			g := tinyModel()
			g.Model().Subgraphs[0].Operators[1].Outputs = []int{2}
			return marshal(t, g)
		}, "written twice"},
		{"graph output never written", func(t *testing.T) []byte {
			g := tinyModel()
			g.SetOutputs(g.AddTensor("orphan", Float32, []int{1}, nil))
			return marshal(t, g)
		}, "never written"},
		{"graph input is a constant", func(t *testing.T) []byte {
			g := tinyModel()
			g.SetInputs(1)
			return marshal(t, g)
		}, "is a constant"},
		{"zero point outside the type", func(t *testing.T) []byte {
			g := NewGraphBuilder()
			x := g.AddTensor("x", Uint8, []int{1}, PerTensor(0.5, 300))
			y := g.AddTensor("y", Uint8, []int{1}, PerTensor(0.5, 0))
			g.AddOp(OpRelu, nil, []int{x}, []int{y})
			g.SetInputs(x)
			g.SetOutputs(y)
			return marshal(t, g)
		}, "zero point 300"},
		{"scale not a number", func(t *testing.T) []byte {
			g := tinyModel()
			g.Model().Subgraphs[0].Tensors[0].Quant = PerTensor(float32(math.NaN()), 0)
			return marshal(t, g)
		}, "not a finite"},
		{"rank over the limit", func(t *testing.T) []byte {
			g := tinyModel()
			g.Model().Subgraphs[0].Tensors[0].Shape = []int{1, 1, 1, 1, 1, 1, 1, 1, 1, 4}
			return marshal(t, g)
		}, "rank 10 exceeds"},
		{"unsupported builtin op", func(t *testing.T) []byte {
			g := tinyModel()
			g.Model().Subgraphs[0].Operators[1].Op = OpGelu
			g.Model().Subgraphs[0].Operators[1].Options = nil
			return marshal(t, g)
		}, "does not support: [GELU]"},
		{"unsupported custom op", func(t *testing.T) []byte {
			g := tinyModel()
			op := &g.Model().Subgraphs[0].Operators[1]
			op.Op, op.Custom, op.Options = OpCustom, "TFLite_Detection_PostProcess", nil
			return marshal(t, g)
		}, "CUSTOM(TFLite_Detection_PostProcess)"},
		{"operator shapes do not fit", func(t *testing.T) []byte {
			g := tinyModel()
			g.Model().Subgraphs[0].Tensors[3].Shape = []int{1, 5}
			return marshal(t, g)
		}, "operator 1 (SOFTMAX)"},
	} {
		t.Run(c.name, func(t *testing.T) {
			data := c.file(t)
			m, err := Load(data)
			if err == nil {
				var it *Interpreter
				it, err = NewInterpreter(m, nil)
				if err == nil {
					it.Close()
					t.Fatal("the file loads and runs")
				}
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q, want it to mention %q", err, c.want)
			}
		})
	}
}

// TestHugeShapesAllocateNothing declares tensors far beyond the limits: the
// errors come before any memory for them is taken.
func TestHugeShapesAllocateNothing(t *testing.T) {
	for _, shape := range [][]int{{1 << 20, 1 << 20}, {1 << 15, 1 << 15, 1 << 8}} {
		g := tinyModel()
		g.Model().Subgraphs[0].Tensors[2].Shape = shape // an activation
		data := marshal(t, g)
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		_, err := Load(data)
		runtime.ReadMemStats(&after)
		if err == nil || !strings.Contains(err.Error(), "over the limit") {
			t.Errorf("shape %v: error %v, want one about the limit", shape, err)
		}
		if grew := after.TotalAlloc - before.TotalAlloc; grew > 1<<20 {
			t.Errorf("shape %v: loading allocated %d bytes", shape, grew)
		}
	}
	// Within the tensor limit but over the arena limit: refused by the
	// interpreter before it allocates the arena.
	g := tinyModel()
	g.Model().Subgraphs[0].Tensors[2].Shape = []int{1 << 14, 1 << 14} // 1 GiB of float32
	m, err := Load(marshal(t, g))
	if err != nil {
		t.Fatal(err)
	}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	_, err = NewInterpreter(m, &Options{MaxArenaBytes: 64 << 20})
	runtime.ReadMemStats(&after)
	if err == nil || !strings.Contains(err.Error(), "activations need more than") {
		t.Errorf("error %v, want one about the arena limit", err)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 1<<20 {
		t.Errorf("preparing allocated %d bytes", grew)
	}
}

// TestIndexMapsCountAgainstTheMemoryLimit pads one byte to 100000: the
// output fits the limit, the kernel's index map does not.
func TestIndexMapsCountAgainstTheMemoryLimit(t *testing.T) {
	g := NewGraphBuilder()
	x := g.AddTensor("x", Uint8, []int{1, 1}, PerTensor(1, 0))
	pads := g.AddConst("pads", Int32, []int{2, 2}, nil, ToBytes([]int32{0, 0, 0, 99999}))
	y := g.AddTensor("y", Uint8, []int{1, 100000}, PerTensor(1, 0))
	g.AddOp(OpPad, nil, []int{x, pads}, []int{y})
	g.SetInputs(x)
	g.SetOutputs(y)
	m, err := Load(marshal(t, g))
	if err != nil {
		t.Fatal(err)
	}
	_, err = NewInterpreter(m, &Options{MaxArenaBytes: 200 << 10})
	if err == nil || !strings.Contains(err.Error(), "working memory") {
		t.Errorf("error %v, want one about working memory", err)
	}
	it, err := NewInterpreter(m, &Options{MaxArenaBytes: 1 << 20})
	if err != nil {
		t.Fatalf("with room for the index map: %v", err)
	}
	it.Close()
}

// TestTruncationsAndBitFlips corrupts a real model everywhere: every
// truncation and single-bit flip must load with an error or run.
func TestTruncationsAndBitFlips(t *testing.T) {
	g := NewGraphBuilder()
	c := convVariants(Uint8, false)[0]
	c.build(&vb{g: g, name: "conv", typ: Uint8, ranges: map[int]float32{}, r: rand.New(rand.NewPCG(1, 2))})
	data := marshal(t, g)
	try := func(d []byte) {
		defer func() {
			if p := recover(); p != nil {
				t.Fatalf("panic: %v", p)
			}
		}()
		m, err := LoadWithLimits(d, fuzzLimits)
		if err != nil {
			return
		}
		it, err := NewInterpreter(m, &Options{MaxArenaBytes: fuzzLimits.MaxArenaBytes})
		if err != nil {
			return
		}
		defer it.Close()
		if err := it.Invoke(); err != nil {
			t.Fatal(err)
		}
	}
	for n := 0; n < len(data); n++ {
		try(data[:n])
	}
	for i := range data {
		for b := 0; b < 8; b++ {
			d := bytes.Clone(data)
			d[i] ^= 1 << b
			try(d)
		}
	}
}
