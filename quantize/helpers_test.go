package quantize

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/edgeclass/edgeclass/internal/testenv"
	"github.com/edgeclass/edgeclass/tflite"
)

// floatModel builds float test models: every tensor is float32 unless
// said otherwise, constants are random, and graph inputs get values in
// [-rng, rng] in the samples.
type floatModel struct {
	g      *tflite.GraphBuilder
	r      *rand.Rand
	ranges []float32 // of each graph input
	ins    []int
	outs   []int
	n      int
}

func newFloatModel(seed uint64) *floatModel {
	return &floatModel{g: tflite.NewGraphBuilder(), r: rand.New(rand.NewPCG(seed, 7))}
}

func (f *floatModel) name(prefix string) string {
	f.n++
	return fmt.Sprintf("%s_%d", prefix, f.n)
}

// input adds a graph input.
func (f *floatModel) input(shape []int, rng float32) int {
	t := f.g.AddTensor(f.name("in"), tflite.Float32, shape, nil)
	f.ins = append(f.ins, t)
	f.ranges = append(f.ranges, rng)
	return t
}

// act adds an activation tensor.
func (f *floatModel) act(shape []int) int {
	return f.g.AddTensor(f.name("act"), tflite.Float32, shape, nil)
}

// output marks t as a graph output.
func (f *floatModel) output(t int) { f.outs = append(f.outs, t) }

// weights adds a random float constant with values in [-scale, scale].
func (f *floatModel) weights(shape []int, scale float32) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	v := make([]float32, n)
	for i := range v {
		v[i] = (f.r.Float32()*2 - 1) * scale
	}
	return f.g.AddConst(f.name("w"), tflite.Float32, shape, nil, tflite.ToBytes(v))
}

// ints adds a 1-D int32 constant.
func (f *floatModel) ints(v ...int) int { return f.intsShaped([]int{len(v)}, v...) }

// intsShaped adds an int32 constant of the given shape.
func (f *floatModel) intsShaped(shape []int, v ...int) int {
	w := make([]int32, len(v))
	for i, x := range v {
		w[i] = int32(x)
	}
	return f.g.AddConst(f.name("i"), tflite.Int32, shape, nil, tflite.ToBytes(w))
}

// op adds an operator writing a new activation of shape out, and returns it.
func (f *floatModel) op(op tflite.BuiltinOp, opts any, out []int, ins ...int) int {
	y := f.act(out)
	f.g.AddOp(op, opts, ins, []int{y})
	return y
}

// model finishes the model, written and read back as a file would be.
func (f *floatModel) model(t testing.TB) *tflite.Model {
	t.Helper()
	f.g.SetInputs(f.ins...)
	f.g.SetOutputs(f.outs...)
	return roundTrip(t, f.g.Model())
}

// samples returns n random input sets.
func (f *floatModel) samples(m *tflite.Model, n int) Samples {
	s := make(Samples, n)
	sg := m.Main()
	for i := range s {
		for j, t := range sg.Inputs {
			def := sg.Tensors[t]
			k := 1
			for _, d := range def.Shape {
				k *= d
			}
			v := make([]float32, k)
			for x := range v {
				v[x] = (f.r.Float32()*2 - 1) * f.ranges[j]
			}
			s[i] = append(s[i], v)
		}
	}
	return s
}

// roundTrip marshals m and loads it back, which validates it.
func roundTrip(t testing.TB, m *tflite.Model) *tflite.Model {
	t.Helper()
	data, err := m.Marshal()
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	back, err := tflite.Load(data)
	if err != nil {
		t.Fatalf("the model does not read back: %v", err)
	}
	return back
}

// run runs m in our engine on raw input bytes and returns raw outputs.
func run(t testing.TB, m *tflite.Model, inputs [][]byte) [][]byte {
	t.Helper()
	it, err := tflite.NewInterpreter(m, nil)
	if err != nil {
		t.Fatalf("our engine refuses the model: %v", err)
	}
	defer it.Close()
	for i, in := range inputs {
		if err := it.Input(i).CopyFrom(in); err != nil {
			t.Fatal(err)
		}
	}
	if err := it.Invoke(); err != nil {
		t.Fatal(err)
	}
	var outs [][]byte
	for _, o := range it.Outputs() {
		outs = append(outs, bytes.Clone(o.Bytes()))
	}
	return outs
}

// inputBytes fills m's inputs with sample i of ds and returns their bytes.
func inputBytes(t testing.TB, m *tflite.Model, ds Dataset, i int) [][]byte {
	t.Helper()
	it, err := tflite.NewInterpreter(m, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	if err := ds.Fill(it, i); err != nil {
		t.Fatal(err)
	}
	var ins [][]byte
	for _, in := range it.Inputs() {
		ins = append(ins, bytes.Clone(in.Bytes()))
	}
	return ins
}

// runOracle runs m in Google's runtime (the oracle at path oracle); any
// failure, the runtime logging an error included, is an error.
func runOracle(t testing.TB, oracle string, m *tflite.Model, inputs [][]byte) ([][]byte, error) {
	t.Helper()
	data, err := m.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	sg := m.Main()
	names := make([]string, len(sg.Outputs))
	for i, o := range sg.Outputs {
		names[i] = sg.Tensors[o].Name
	}
	return testenv.RunOracle(t, oracle, data, inputs, names)
}

// values decodes raw tensor bytes as numbers.
func values(typ tflite.TensorType, b []byte) []float64 {
	var v []float64
	switch typ {
	case tflite.Int8:
		for _, x := range b {
			v = append(v, float64(int8(x)))
		}
	case tflite.Uint8:
		for _, x := range b {
			v = append(v, float64(x))
		}
	case tflite.Int32:
		for i := 0; i+4 <= len(b); i += 4 {
			v = append(v, float64(int32(binary.LittleEndian.Uint32(b[i:]))))
		}
	case tflite.Float32:
		for i := 0; i+4 <= len(b); i += 4 {
			v = append(v, float64(math.Float32frombits(binary.LittleEndian.Uint32(b[i:]))))
		}
	}
	return v
}

// maxDiff returns the largest difference between two equal-length series.
func maxDiff(a, b []float64) float64 {
	d := 0.0
	for i := range a {
		d = max(d, math.Abs(a[i]-b[i]))
	}
	return d
}
