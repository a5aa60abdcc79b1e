package tflite

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/fnv"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/edgeclass/edgeclass/internal/testenv"
)

// The oracle tests build small models with the builder, run them in our
// engine and in Google's runtime (testenv.Oracle: LiteRT with XNNPACK) on
// the same random inputs, and require quantized outputs within 1 unit and
// float outputs within 1e-4 (or 1e-5 relative). Each test model holds
// several independent variants (their own inputs and outputs), so one
// runtime start checks many of them and every difference is attributed to
// one variant.

// variant is one independent chain of operators inside a test model.
type variant struct {
	name  string
	build func(b *vb)
	// googleRejects, when set, is part of the error Google's runtime gives
	// for this variant, which our engine accepts.
	googleRejects string
}

// oracleCase is one test model: an operator family in one data type.
type oracleCase struct {
	name     string
	typ      TensorType
	variants []variant
}

// vb builds one variant inside the shared model.
type vb struct {
	g         *GraphBuilder
	r         *rand.Rand
	name      string
	typ       TensorType
	ins, outs []int
	ranges    map[int]float32 // value range of float inputs, by tensor
	n         int
}

func (b *vb) tensor(typ TensorType, shape []int, q *Quantization) int {
	b.n++
	return b.g.AddTensor(fmt.Sprintf("%s/%d", b.name, b.n), typ, shape, q)
}

// input adds a graph input; float inputs get values in [-rng, rng].
func (b *vb) input(typ TensorType, shape []int, q *Quantization, rng float32) int {
	t := b.tensor(typ, shape, q)
	b.ins = append(b.ins, t)
	b.ranges[t] = rng
	return t
}

// output adds a graph output.
func (b *vb) output(typ TensorType, shape []int, q *Quantization) int {
	t := b.tensor(typ, shape, q)
	b.outs = append(b.outs, t)
	return t
}

func (b *vb) constant(typ TensorType, shape []int, q *Quantization, data []byte) int {
	b.n++
	return b.g.AddConst(fmt.Sprintf("%s/c%d", b.name, b.n), typ, shape, q, data)
}

// ints adds a constant int32 vector.
func (b *vb) ints(v ...int) int {
	d := make([]int32, len(v))
	for i, x := range v {
		d[i] = int32(x)
	}
	return b.constant(Int32, []int{len(v)}, nil, ToBytes(d))
}

// random adds a constant with random values: floats in [-1, 1], int8 in
// [-127, 127] (symmetric weights), uint8 anywhere, int32 in [-2000, 2000].
func (b *vb) random(typ TensorType, shape []int, q *Quantization) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	var data []byte
	switch typ {
	case Float32:
		v := make([]float32, n)
		for i := range v {
			v[i] = b.r.Float32()*2 - 1
		}
		data = ToBytes(v)
	case Int8:
		v := make([]int8, n)
		for i := range v {
			v[i] = int8(b.r.IntN(255) - 127)
		}
		data = ToBytes(v)
	case Uint8:
		data = make([]byte, n)
		for i := range data {
			data[i] = byte(b.r.IntN(256))
		}
	case Int32:
		v := make([]int32, n)
		for i := range v {
			v[i] = int32(b.r.IntN(4001) - 2000)
		}
		data = ToBytes(v)
	}
	return b.constant(typ, shape, q, data)
}

func (b *vb) op(op BuiltinOp, opts any, ins []int, outs ...int) { b.g.AddOp(op, opts, ins, outs) }

// qp returns quantization for the variant's type, written with uint8 zero
// points (moved by -128 for int8), or nil for float.
func qp(typ TensorType, scale float32, zp int) *Quantization {
	switch typ {
	case Float32:
		return nil
	case Int8:
		zp -= 128
	}
	return PerTensor(scale, int64(zp))
}

// oracleRun is the outcome of one variant.
type oracleRun struct {
	cas, variant   string
	values, differ int
	maxDiff        float64
}

var oracleResults struct {
	sync.Mutex
	runs []oracleRun
}

func TestOracleOps(t *testing.T) {
	oracle := testenv.Oracle(t)
	t.Cleanup(func() { logOracleMatrix(t) })
	for _, c := range oracleCases() {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			runOracleCase(t, oracle, c)
		})
	}
}

// runOracleCase runs all variants in one model; when Google's runtime
// refuses the model, each variant runs alone to say which one it refuses.
func runOracleCase(t *testing.T, oracle string, c oracleCase) {
	var rejected []variant
	c.variants = slices.DeleteFunc(slices.Clone(c.variants), func(v variant) bool {
		if v.googleRejects != "" {
			rejected = append(rejected, v)
		}
		return v.googleRejects != ""
	})
	for _, v := range rejected {
		t.Run(v.name, func(t *testing.T) {
			data, ins, _, _ := buildCase(t, oracleCase{name: c.name, typ: c.typ, variants: []variant{v}})
			m, _, err := runEngine(data, ins)
			if err != nil {
				t.Fatal(err)
			}
			_, err = runOracle(t, oracle, data, m, ins)
			if err == nil || !strings.Contains(err.Error(), v.googleRejects) {
				t.Errorf("Google's runtime should refuse the model with %q; error: %v", v.googleRejects, err)
			}
		})
	}
	if len(c.variants) == 0 {
		return
	}
	data, ins, spans, outs := buildCase(t, c)
	m, ours, err := runEngine(data, ins)
	var theirs [][]byte
	if err == nil {
		theirs, err = runOracle(t, oracle, data, m, ins)
	}
	if err != nil {
		if len(c.variants) == 1 {
			t.Fatal(err)
		}
		for _, v := range c.variants {
			t.Run(v.name, func(t *testing.T) {
				runOracleCase(t, oracle, oracleCase{name: c.name, typ: c.typ, variants: []variant{v}})
			})
		}
		return
	}
	for i, v := range c.variants {
		check := func(t *testing.T) {
			for _, o := range spans[i] {
				def := &m.Main().Tensors[outs[o]]
				run := compareOutput(t, def, ours[o], theirs[o])
				run.cas, run.variant = c.name, v.name
				oracleResults.Lock()
				oracleResults.runs = append(oracleResults.runs, run)
				oracleResults.Unlock()
			}
		}
		if len(c.variants) == 1 {
			check(t)
		} else {
			t.Run(v.name, check)
		}
	}
}

// buildCase builds the model of c and random inputs for it. spans[i] lists
// the graph output positions of variant i.
func buildCase(t testing.TB, c oracleCase) (data []byte, inputs [][]byte, spans [][]int, outs []int) {
	t.Helper()
	h := fnv.New64a()
	h.Write([]byte(c.name))
	r := rand.New(rand.NewPCG(h.Sum64(), 1))
	g := NewGraphBuilder()
	ranges := map[int]float32{}
	var ins []int
	for _, v := range c.variants {
		b := &vb{g: g, r: r, name: v.name, typ: c.typ, ranges: ranges}
		v.build(b)
		var span []int
		for _, o := range b.outs {
			span = append(span, len(outs))
			outs = append(outs, o)
		}
		spans = append(spans, span)
		ins = append(ins, b.ins...)
	}
	g.SetInputs(ins...)
	g.SetOutputs(outs...)
	data, err := g.Model().Marshal()
	if err != nil {
		t.Fatalf("marshal: %v", err)
	}
	for _, i := range ins {
		inputs = append(inputs, randomInput(r, &g.Model().Main().Tensors[i], ranges[i]))
	}
	return data, inputs, spans, outs
}

func randomInput(r *rand.Rand, def *TensorDef, rng float32) []byte {
	n := 1
	for _, d := range def.Shape {
		n *= d
	}
	switch def.Type {
	case Float32:
		v := make([]float32, n)
		for i := range v {
			v[i] = (r.Float32()*2 - 1) * rng
		}
		return ToBytes(v)
	case Int32:
		v := make([]int32, n)
		for i := range v {
			v[i] = int32(r.IntN(201) - 100)
		}
		return ToBytes(v)
	}
	// 8-bit inputs take every value once per 256 elements, in random
	// order, so tables and rounding are checked exhaustively.
	data := make([]byte, n*def.Type.Size())
	var perm []int
	for i := range data {
		if i%256 == 0 {
			perm = r.Perm(256)
		}
		data[i] = byte(perm[i%256])
	}
	return data
}

// runEngine loads and runs a model in our engine and returns the outputs'
// bytes.
func runEngine(model []byte, inputs [][]byte) (*Model, [][]byte, error) {
	m, err := Load(model)
	if err != nil {
		return nil, nil, fmt.Errorf("our reader refuses the model: %w", err)
	}
	it, err := NewInterpreter(m, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("our engine refuses the model: %w", err)
	}
	defer it.Close()
	for i, in := range inputs {
		if err := it.Input(i).CopyFrom(in); err != nil {
			return nil, nil, err
		}
	}
	if err := it.Invoke(); err != nil {
		return nil, nil, err
	}
	var outs [][]byte
	for _, o := range it.Outputs() {
		outs = append(outs, bytes.Clone(o.Bytes()))
	}
	return m, outs, nil
}

// runOracle runs the model in Google's runtime. An error means the runtime
// refused the model or failed; it carries the runtime's messages.
func runOracle(t *testing.T, oracle string, model []byte, m *Model, inputs [][]byte) ([][]byte, error) {
	t.Helper()
	sg := m.Main()
	names := make([]string, len(sg.Outputs))
	for i, o := range sg.Outputs {
		names[i] = sg.Tensors[o].Name
	}
	return testenv.RunOracle(t, oracle, model, inputs, names)
}

// compareOutput checks one output against Google's and returns the
// statistics of the differences.
func compareOutput(t *testing.T, def *TensorDef, got, want []byte) oracleRun {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: %d bytes, Google's runtime gives %d", def.Name, len(got), len(want))
		return oracleRun{}
	}
	g, w := decodeValues(def.Type, got), decodeValues(def.Type, want)
	run := oracleRun{values: len(g)}
	worst := -1
	for i := range g {
		d := math.Abs(g[i] - w[i])
		if math.IsNaN(g[i]) && math.IsNaN(w[i]) {
			d = 0
		}
		if d != 0 {
			run.differ++
		}
		tol := 1.0
		switch def.Type {
		case Float32:
			tol = max(1e-4, 1e-5*math.Abs(w[i]))
		case Int32, Int64:
			tol = 0
		}
		if d > tol || math.IsNaN(d) {
			if worst < 0 || d > math.Abs(g[worst]-w[worst]) {
				worst = i
			}
		}
		if !(d <= run.maxDiff) {
			run.maxDiff = d
		}
	}
	if worst >= 0 {
		t.Errorf("%s (%s %v): element %d is %v, Google's runtime gives %v (max diff %g, %d of %d values differ)",
			def.Name, def.Type, def.Shape, worst, g[worst], w[worst], run.maxDiff, run.differ, run.values)
	}
	return run
}

func decodeValues(typ TensorType, b []byte) []float64 {
	var out []float64
	switch typ {
	case Float32:
		for i := 0; i+4 <= len(b); i += 4 {
			out = append(out, float64(math.Float32frombits(binary.LittleEndian.Uint32(b[i:]))))
		}
	case Int32:
		for i := 0; i+4 <= len(b); i += 4 {
			out = append(out, float64(int32(binary.LittleEndian.Uint32(b[i:]))))
		}
	case Int64:
		for i := 0; i+8 <= len(b); i += 8 {
			out = append(out, float64(int64(binary.LittleEndian.Uint64(b[i:]))))
		}
	case Int8:
		for _, v := range b {
			out = append(out, float64(int8(v)))
		}
	default:
		for _, v := range b {
			out = append(out, float64(v))
		}
	}
	return out
}

// logOracleMatrix logs every variant's agreement with Google's runtime.
func logOracleMatrix(t *testing.T) {
	oracleResults.Lock()
	defer oracleResults.Unlock()
	runs := oracleResults.runs
	sort.Slice(runs, func(i, j int) bool {
		a, b := runs[i], runs[j]
		return a.cas+"/"+a.variant < b.cas+"/"+b.variant
	})
	var sb strings.Builder
	values, differ := 0, 0
	fmt.Fprintf(&sb, "%-34s %-44s %7s %7s %9s\n", "case", "variant", "values", "differ", "max diff")
	for _, r := range runs {
		fmt.Fprintf(&sb, "%-34s %-44s %7d %7d %9.3g\n", r.cas, r.variant, r.values, r.differ, r.maxDiff)
		values += r.values
		differ += r.differ
	}
	t.Logf("agreement with Google's runtime, %d outputs: %d of %d values differ\n%s", len(runs), differ, values, sb.String())
}

// TestOraclePersonDetect runs TFLite Micro's person_detect, whose bias
// tensors carry an out-of-range quantized_dimension. Our engine loads the
// file as it is; Google's runtime refuses it, so it runs a copy repaired by
// the oracle's fix_qdim.mjs. Both must agree on the 96x96 grey test images.
func TestOraclePersonDetect(t *testing.T) {
	oracle := testenv.Oracle(t)
	orig, err := os.ReadFile(testenv.TestData(t, "models/person_detect_int8_96x96.tflite"))
	if err != nil {
		t.Fatal(err)
	}
	fixed := filepath.Join(t.TempDir(), "fixed.tflite")
	fix := filepath.Join(testenv.SharedDir(t), "oracle", "fix_qdim.mjs")
	if out, err := exec.Command("node", fix, testenv.TestData(t, "models/person_detect_int8_96x96.tflite"), fixed).CombinedOutput(); err != nil {
		t.Fatalf("fix_qdim: %v: %s", err, out)
	}
	fixedData, err := os.ReadFile(fixed)
	if err != nil {
		t.Fatal(err)
	}
	// The repair changes only what our reader already normalizes.
	m, err := Load(orig)
	if err != nil {
		t.Fatalf("our engine refuses person_detect: %v", err)
	}
	mFixed, err := Load(fixedData)
	if err != nil {
		t.Fatal(err)
	}
	sameModel(t, m, mFixed)

	personScore := map[string]float64{}
	for _, img := range []string{"person_96x96_gray.bmp", "no_person_96x96_gray.bmp"} {
		t.Run(img, func(t *testing.T) {
			in := greyBMPInt8(t, testenv.TestData(t, "images/"+img))
			_, ours, err := runEngine(orig, [][]byte{in})
			if err != nil {
				t.Fatal(err)
			}
			theirs, err := runOracle(t, oracle, fixedData, mFixed, [][]byte{in})
			if err != nil {
				t.Fatal(err)
			}
			run := compareOutput(t, &m.Main().Tensors[m.Main().Outputs[0]], ours[0], theirs[0])
			t.Logf("ours %v, Google's %v: max diff %g, %d of %d values differ",
				decodeValues(Int8, ours[0]), decodeValues(Int8, theirs[0]), run.maxDiff, run.differ, run.values)
			personScore[img] = decodeValues(Int8, ours[0])[1]
		})
	}
	if p, n := personScore["person_96x96_gray.bmp"], personScore["no_person_96x96_gray.bmp"]; !(p > n) {
		t.Errorf("person score is %v on the person image and %v on the other; want it higher on the person", p, n)
	}
}

// greyBMPInt8 reads an 8-bit palettized grey BMP and returns its pixels
// (top row first) minus 128, as int8 bytes.
func greyBMPInt8(t *testing.T, path string) []byte {
	t.Helper()
	d, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(d) < 54 || string(d[:2]) != "BM" || binary.LittleEndian.Uint16(d[28:]) != 8 {
		t.Fatalf("%s is not an 8-bit BMP", path)
	}
	off := int(binary.LittleEndian.Uint32(d[10:]))
	w, h := int(int32(binary.LittleEndian.Uint32(d[18:]))), int(int32(binary.LittleEndian.Uint32(d[22:])))
	stride := (w + 3) &^ 3
	if w <= 0 || h <= 0 || off < 54+4*256 || off+stride*h > len(d) {
		t.Fatalf("%s: unsupported BMP layout (%dx%d, data at %d)", path, w, h, off)
	}
	out := make([]byte, 0, w*h)
	for y := h - 1; y >= 0; y-- { // rows are stored bottom-up
		for _, p := range d[off+y*stride : off+y*stride+w] {
			grey := d[54+4*int(p)]
			out = append(out, grey-128)
		}
	}
	return out
}

// TestOracleRebuiltModels runs shared models rebuilt by Marshal in Google's
// runtime: it accepts them and reproduces the golden outputs exactly.
func TestOracleRebuiltModels(t *testing.T) {
	oracle := testenv.Oracle(t)
	dir, cases := readGoldenManifest(t)
	want := map[string]bool{"automl_labeler_model.tflite": true, "tf2_mobilenet_v2_1.0_224_ptq.tflite": true, "mobilenet_v1_0.25_224_float.tflite": true}
	for _, c := range cases {
		name := filepath.Base(c.Model)
		if !want[name] {
			continue
		}
		delete(want, name) // one image per model
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			m, err := LoadFile(filepath.Join(filepath.Dir(dir), c.Model))
			if err != nil {
				t.Fatal(err)
			}
			data, err := m.Marshal()
			if err != nil {
				t.Fatal(err)
			}
			m2, err := Load(data)
			if err != nil {
				t.Fatal(err)
			}
			in, err := os.ReadFile(filepath.Join(dir, c.Input))
			if err != nil {
				t.Fatal(err)
			}
			golden, err := os.ReadFile(filepath.Join(dir, c.Output0))
			if err != nil {
				t.Fatal(err)
			}
			theirs, err := runOracle(t, oracle, data, m2, [][]byte{in})
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(theirs[0], golden) {
				t.Errorf("Google's runtime gives other outputs for the rebuilt model than for the original")
			}
		})
	}
	if len(want) > 0 {
		testenv.Missing(t, fmt.Sprintf("golden cases for %v", want))
	}
}

// TestOracleCoversEveryOp checks that the oracle suite runs every operator
// the engine registers.
func TestOracleCoversEveryOp(t *testing.T) {
	used := map[BuiltinOp]bool{}
	for _, c := range oracleCases() {
		g := NewGraphBuilder()
		for _, v := range c.variants {
			v.build(&vb{g: g, r: rand.New(rand.NewPCG(1, 1)), name: v.name, typ: c.typ, ranges: map[int]float32{}})
		}
		for _, op := range g.Model().Main().Operators {
			used[op.Op] = true
		}
	}
	for _, op := range SupportedOps() {
		if !used[op] {
			t.Errorf("no oracle case runs %s", op)
		}
	}
}
