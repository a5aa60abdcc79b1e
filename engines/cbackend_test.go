//go:build tflitec && cgo

// The parity suite: the same cases on the pure-Go engine and on the
// TensorFlow Lite C backend, through Select as the agent uses them. Against
// the stand-in (CI) both compute with the pure-Go kernels, so outputs must be
// identical byte for byte, which checks every step of the C path: model
// loading, tensor description, input and output memory, invocation. Against
// Google's library they must agree within the self-test's tolerances.
package engines

import (
	"bytes"
	"errors"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/edgeclass/edgeclass/camera"
	"github.com/edgeclass/edgeclass/classify"
	"github.com/edgeclass/edgeclass/internal/testenv"
	"github.com/edgeclass/edgeclass/tflite"
)

func selectEngine(t *testing.T, cfg Config, log *slog.Logger) (classify.NewEngineFunc, Info) {
	t.Helper()
	newEngine, info, err := Select(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	return newEngine, info
}

func cConfig(delegate string) Config {
	return Config{Backend: TFLiteC, Delegate: delegate, OnMissing: "error"}
}

func isStandIn(info Info) bool { return strings.Contains(info.Library, "edgeclass-standin") }

func requireStandIn(t *testing.T) {
	t.Helper()
	if _, info := selectEngine(t, cConfig("none"), nil); !isStandIn(info) {
		t.Skipf("needs the stand-in library; this is TensorFlow Lite %s", info.Library)
	}
}

// runBoth sets the same inputs on both engines, invokes them and checks that
// every output agrees.
func runBoth(t *testing.T, what string, m *tflite.Model, goE, cE classify.Engine, exact bool, inputs [][]byte) {
	t.Helper()
	for _, e := range []classify.Engine{goE, cE} {
		for i, in := range inputs {
			if err := e.Inputs()[i].CopyFrom(in); err != nil {
				t.Fatalf("%s: %v", what, err)
			}
		}
		if err := e.Invoke(); err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	}
	for i, out := range goE.Outputs() {
		got := cE.Outputs()[i].Bytes()
		def := &m.Main().Tensors[out.Index()]
		ag, err := Compare(def, got, out.Bytes())
		if err != nil {
			t.Fatalf("%s output %d: %v", what, i, err)
		}
		if (exact && !ag.Identical) || !ag.Within(def) {
			t.Errorf("%s output %d: the C backend differs from the pure-Go engine: %+v", what, i, ag)
		}
	}
}

func TestParityGolden(t *testing.T) {
	goNew, _ := selectEngine(t, DefaultConfig(), nil)
	cNew, info := selectEngine(t, cConfig("none"), nil)
	exact := isStandIn(info)
	dir := testenv.TestData(t, ".")
	cases, models, err := readManifest(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, name := range models {
		m, err := tflite.LoadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		goE, err := goNew(m, 1)
		if err != nil {
			t.Fatal(err)
		}
		cE, err := cNew(m, 1)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, c := range cases[name] {
			in, err := os.ReadFile(filepath.Join(dir, "golden", c.Input))
			if err != nil {
				t.Fatal(err)
			}
			runBoth(t, c.Input, m, goE, cE, exact, [][]byte{in})
			golden, err := os.ReadFile(filepath.Join(dir, "golden", c.Output0))
			if err != nil {
				t.Fatal(err)
			}
			out := cE.Outputs()[0]
			if ag, err := Compare(&m.Main().Tensors[out.Index()], out.Bytes(), golden); err != nil || !ag.Within(&m.Main().Tensors[out.Index()]) {
				t.Errorf("%s: the C backend's output is not within tolerance of Google's: %+v %v", c.Input, ag, err)
			}
			n++
		}
		goE.Close()
		cE.Close()
	}
	if n < 40 {
		t.Fatalf("only %d golden cases", n)
	}
}

// builtModels are small graphs made with the project's builder: float and
// quantized operators, two inputs, two outputs, constants.
func builtModels(t *testing.T) map[string]*tflite.Model {
	t.Helper()
	r := rand.New(rand.NewPCG(7, 7))
	floats := func(n int) []float32 {
		v := make([]float32, n)
		for i := range v {
			v[i] = r.Float32()*2 - 1
		}
		return v
	}
	int8s := func(n int) []int8 {
		v := make([]int8, n)
		for i := range v {
			v[i] = int8(r.IntN(255) - 127)
		}
		return v
	}
	models := map[string]*tflite.Model{}
	add := func(name string, g *tflite.GraphBuilder) {
		data, err := g.Model().Marshal()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if models[name], err = tflite.Load(data); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}

	g := tflite.NewGraphBuilder()
	x := g.AddTensor("image", tflite.Float32, []int{1, 6, 6, 3}, nil)
	w := g.AddConst("filters", tflite.Float32, []int{4, 3, 3, 3}, nil, tflite.ToBytes(floats(4*3*3*3)))
	b := g.AddConst("bias", tflite.Float32, []int{4}, nil, tflite.ToBytes(floats(4)))
	conv := g.AddTensor("conv", tflite.Float32, []int{1, 6, 6, 4}, nil)
	soft := g.AddTensor("softmax", tflite.Float32, []int{1, 6, 6, 4}, nil)
	g.AddOp(tflite.OpConv2D, &tflite.Conv2DOptions{Padding: tflite.PaddingSame, StrideW: 1, StrideH: 1, Activation: tflite.ActRelu, DilationW: 1, DilationH: 1}, []int{x, w, b}, []int{conv})
	g.AddOp(tflite.OpSoftmax, &tflite.SoftmaxOptions{Beta: 1}, []int{conv}, []int{soft})
	g.SetInputs(x)
	g.SetOutputs(conv, soft)
	add("float conv+softmax", g)

	g = tflite.NewGraphBuilder()
	a := g.AddTensor("a", tflite.Uint8, []int{1, 16}, tflite.PerTensor(0.1, 128))
	c := g.AddTensor("b", tflite.Uint8, []int{1, 16}, tflite.PerTensor(0.05, 100))
	sum := g.AddTensor("sum", tflite.Uint8, []int{1, 16}, tflite.PerTensor(0.15, 120))
	prod := g.AddTensor("product", tflite.Uint8, []int{1, 16}, tflite.PerTensor(0.2, 10))
	g.AddOp(tflite.OpAdd, &tflite.ActivationOptions{}, []int{a, c}, []int{sum})
	g.AddOp(tflite.OpMul, &tflite.ActivationOptions{}, []int{a, c}, []int{prod})
	g.SetInputs(a, c)
	g.SetOutputs(sum, prod)
	add("uint8 add,mul", g)

	g = tflite.NewGraphBuilder()
	in := g.AddTensor("x", tflite.Int8, []int{2, 8}, tflite.PerTensor(0.05, -3))
	wq := g.AddConst("weights", tflite.Int8, []int{5, 8}, tflite.PerTensor(0.02, 0), tflite.ToBytes(int8s(40)))
	bq := g.AddConst("bias", tflite.Int32, []int{5}, tflite.PerTensor(0.001, 0), tflite.ToBytes([]int32{100, -200, 0, 50, 7}))
	out := g.AddTensor("y", tflite.Int8, []int{2, 5}, tflite.PerTensor(0.1, 2))
	g.AddOp(tflite.OpFullyConnected, &tflite.FullyConnectedOptions{}, []int{in, wq, bq}, []int{out})
	g.SetInputs(in)
	g.SetOutputs(out)
	add("int8 fully connected", g)
	return models
}

func TestParityBuilt(t *testing.T) {
	goNew, _ := selectEngine(t, DefaultConfig(), nil)
	for _, delegate := range []string{"none", "xnnpack"} {
		cNew, info := selectEngine(t, cConfig(delegate), nil)
		r := rand.New(rand.NewPCG(1, 1))
		for name, m := range builtModels(t) {
			goE, err := goNew(m, 1)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			cE, err := cNew(m, 2)
			if err != nil {
				t.Fatalf("%s on %s: %v", name, delegate, err)
			}
			for run := range 3 {
				var inputs [][]byte
				for _, in := range goE.Inputs() {
					data := make([]byte, len(in.Bytes()))
					if in.Type() == tflite.Float32 {
						f := make([]float32, in.Len())
						for i := range f {
							f[i] = r.Float32()*4 - 2
						}
						data = tflite.ToBytes(f)
					} else {
						for i := range data {
							data[i] = byte(r.Uint32())
						}
					}
					inputs = append(inputs, data)
				}
				runBoth(t, name+" "+delegate+" run "+string(rune('0'+run)), m, goE, cE, isStandIn(info), inputs)
			}
			goE.Close()
			cE.Close()
		}
	}
}

// The agent's classify path end to end on the C backend: photos decoded,
// resized and classified, with Google's runtime's top-1 class.
func TestClassifyPhotos(t *testing.T) {
	cNew, _ := selectEngine(t, cConfig("xnnpack"), nil)
	dir := testenv.TestData(t, ".")
	cases, models, err := readManifest(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for _, name := range models {
		if strings.Contains(name, "embedding") || strings.Contains(name, "head_layers") {
			continue // inputs or outputs that are not photos and classes
		}
		m, err := tflite.LoadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		cl, err := classify.New(m, classify.Options{NewEngine: cNew, Threads: 2})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		for _, c := range cases[name] {
			img, err := camera.LoadImage(filepath.Join(dir, "images", c.Image))
			if err != nil {
				t.Fatal(err)
			}
			res, err := cl.Classify(img, 1)
			if err != nil {
				t.Fatal(err)
			}
			golden, err := os.ReadFile(filepath.Join(dir, "golden", c.Output0))
			if err != nil {
				t.Fatal(err)
			}
			ag, err := Compare(&m.Main().Tensors[cl.Output().Index()], cl.Output().Bytes(), golden)
			if err != nil {
				t.Fatal(err)
			}
			if res[0].Index != ag.Top1[1] {
				t.Errorf("%s on %s: top-1 %d (%s), Google's runtime %d", name, c.Image, res[0].Index, res[0].Label, ag.Top1[1])
			}
			checked++
		}
		cl.Close()
	}
	if checked < 30 {
		t.Fatalf("only %d photos classified", checked)
	}
}

func logTo(buf *bytes.Buffer) *slog.Logger { return slog.New(slog.NewTextHandler(buf, nil)) }

func TestFallback(t *testing.T) {
	requireStandIn(t)
	m, err := tflite.LoadFile(testenv.TestData(t, "models/mobilenet_v1_0.25_128_quant.tflite"))
	if err != nil {
		t.Fatal(err)
	}
	edgetpu := cConfig("edgetpu")

	// At start, no Edge TPU: an error, or the CPU with a warning.
	t.Setenv("EDGETPU_STANDIN_DEVICES", "")
	_, _, err = Select(edgetpu, nil)
	if ue := new(UnavailableError); !errors.As(err, &ue) || ue.Delegate != "edgetpu" {
		t.Fatalf("on_missing error: %v", err)
	}
	var logs bytes.Buffer
	cpu := edgetpu
	cpu.OnMissing = "cpu"
	newEngine, info := selectEngine(t, cpu, logTo(&logs))
	if info.Delegate != "edgetpu" || info.Active != "none" || !strings.Contains(info.Fallback, "no Edge TPU found") {
		t.Fatalf("info %+v", info)
	}
	if !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), "no Edge TPU found") {
		t.Fatalf("no warning logged: %s", logs.String())
	}
	e, err := newEngine(m, 1)
	if err != nil {
		t.Fatal(err)
	}
	if p, ok := PlacementOf(e); !ok || p.Delegate != "" {
		t.Fatalf("placement %+v", p)
	}
	e.Close()
	reg := prometheus.NewRegistry()
	reg.MustRegister(NewCollector(info, nil))
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	fallback := -1.0
	for _, mf := range mfs {
		if mf.GetName() == "edgeclass_engine_fallback" {
			fallback = mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	if fallback != 1 {
		t.Fatalf("edgeclass_engine_fallback = %v, want 1", fallback)
	}

	// Later, the Edge TPU is unplugged before an engine is made.
	t.Setenv("EDGETPU_STANDIN_DEVICES", "usb:/x")
	strict, _ := selectEngine(t, edgetpu, nil)
	logs.Reset()
	lenient, info := selectEngine(t, cpu, logTo(&logs))
	if info.Active != "edgetpu" || info.Fallback != "" {
		t.Fatalf("info %+v", info)
	}
	t.Setenv("EDGETPU_STANDIN_DEVICES", "")
	if _, err := strict(m, 1); !errors.As(err, new(*UnavailableError)) {
		t.Fatalf("on_missing error: %v", err)
	}
	e, err = lenient(m, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	p, ok := PlacementOf(e)
	if !ok || p.Delegate != "" || !strings.Contains(p.Fallback, "creating the delegate failed") || !strings.Contains(p.Text, "fallback") {
		t.Fatalf("placement %+v", p)
	}
	in, want := goldenFiles(t, "mobilenet_v1_0.25_128_quant__cat")
	if err := e.Inputs()[0].CopyFrom(in); err != nil {
		t.Fatal(err)
	}
	if err := e.Invoke(); err != nil || !bytes.Equal(e.Outputs()[0].Bytes(), want) {
		t.Fatalf("the CPU engine after a fallback: %v", err)
	}
	if !strings.Contains(logs.String(), "the delegate failed for this model") {
		t.Fatalf("no warning logged: %s", logs.String())
	}
}

// A delegate that takes nothing (the Edge TPU and a model not compiled for
// it) is worth one warning per model, not one per engine.
func TestWarnOncePerModel(t *testing.T) {
	requireStandIn(t)
	t.Setenv("EDGETPU_STANDIN_DEVICES", "usb:/x")
	var logs bytes.Buffer
	newEngine, _ := selectEngine(t, cConfig("edgetpu"), logTo(&logs))
	m, err := tflite.LoadFile(testenv.TestData(t, "models/mobilenet_v1_0.25_128_quant.tflite"))
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		e, err := newEngine(m, 1)
		if err != nil {
			t.Fatal(err)
		}
		if p, _ := PlacementOf(e); !p.Known || p.Delegated != 0 || p.Share() != 0 {
			t.Fatalf("placement %+v", p)
		}
		e.Close()
	}
	if n := strings.Count(logs.String(), "took none of the model's operators (compile the model with edgetpu_compiler)"); n != 1 {
		t.Fatalf("%d warnings:\n%s", n, logs.String())
	}
}

func goldenFiles(t testing.TB, prefix string) (in, out []byte) {
	t.Helper()
	in, err := os.ReadFile(testenv.TestData(t, "golden/"+prefix+".in.bin"))
	if err == nil {
		out, err = os.ReadFile(testenv.TestData(t, "golden/"+prefix+".out0.bin"))
	}
	if err != nil {
		t.Fatal(err)
	}
	return in, out
}

// The device self-test, here on the stand-in: every delegate, one missing,
// and an extra model compiled for the Edge TPU.
func TestSelfTestStandIn(t *testing.T) {
	requireStandIn(t)
	t.Setenv("EDGETPU_STANDIN_DEVICES", "usb:/sys/bus/usb/devices/2-1")
	compiled := filepath.Join(t.TempDir(), "compiled_edgetpu.tflite")
	if err := os.WriteFile(compiled, edgeTPUCompiled(t), 0o644); err != nil {
		t.Fatal(err)
	}
	missing := cConfig("gpu")
	missing.DelegateLibrary = "/nonexistent/libtensorflowlite_gpu_delegate.so"
	r, err := SelfTest(SelfTestOptions{
		TestData: testenv.TestData(t, "."),
		Engines:  []Config{cConfig("none"), cConfig("xnnpack"), cConfig("gpu"), cConfig("edgetpu"), missing},
		Models:   []string{"mobilenet_v1_0.25_128_quant.tflite"},
		Extra:    []string{compiled},
		Runs:     2,
	})
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := r.Write(&out); err != nil {
		t.Fatal(err)
	}
	report := out.String()
	if !r.OK() || !strings.HasSuffix(report, "PASS\n") {
		t.Fatalf("self-test failed:\n%s", report)
	}
	if !strings.Contains(r.Engines[5].Err, "delegate gpu is not available: /nonexistent/") || !strings.Contains(report, "not available: backend tflite-c: delegate gpu") {
		t.Fatalf("the missing delegate is not reported:\n%s", report)
	}
	golden, extra := r.Models[0], r.Models[1]
	for j, c := range golden.Cells[:5] {
		if c.Cases != 4 || c.Passed != 4 || c.Latency <= 0 || (j > 0 && c.Identical != 4) {
			t.Fatalf("%s: %+v\n%s", r.Engines[j].Name, c, report)
		}
	}
	if !strings.Contains(golden.Cells[2].Placement, "xnnpack took") || !strings.Contains(golden.Cells[4].Placement, "edgetpu took none") {
		t.Fatalf("placements not reported:\n%s", report)
	}
	// The compiled model: the pure-Go engine and the CPU cannot run its
	// custom operator; the Edge TPU takes it and (on the stand-in) fails.
	for j, want := range map[int]string{0: "edgetpu-custom-op", 1: "compiled for the Edge TPU", 4: "no Edge TPU is emulated"} {
		if !strings.Contains(extra.Cells[j].Err, want) {
			t.Errorf("%s on the compiled model: %q, want %q", r.Engines[j].Name, extra.Cells[j].Err, want)
		}
	}
}

func edgeTPUCompiled(t *testing.T) []byte {
	g := tflite.NewGraphBuilder()
	q := tflite.PerTensor(1.0/255, 0)
	in := g.AddTensor("input", tflite.Uint8, []int{1, 8}, q)
	out := g.AddTensor("output", tflite.Uint8, []int{1, 8}, q)
	g.AddOp(tflite.OpCustom, nil, []int{in}, []int{out})
	g.Model().Main().Operators[0].Custom = "edgetpu-custom-op"
	g.SetInputs(in)
	g.SetOutputs(out)
	data, err := g.Model().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// BenchmarkEngines times one inference of a golden model on the pure-Go
// engine and on the C library with each delegate available here (on the
// stand-in: the pure-Go engine plus the process hop).
func BenchmarkEngines(b *testing.B) {
	m, err := tflite.LoadFile(testenv.TestData(b, "models/mobilenet_v1_0.25_128_quant.tflite"))
	if err != nil {
		b.Fatal(err)
	}
	in, _ := goldenFiles(b, "mobilenet_v1_0.25_128_quant__cat")
	for _, cfg := range []Config{DefaultConfig(), cConfig("none"), cConfig("xnnpack"), cConfig("gpu"), cConfig("edgetpu")} {
		b.Run(cfg.Backend+"/"+cfg.delegate(), func(b *testing.B) {
			newEngine, _, err := Select(cfg, nil)
			if err != nil {
				b.Skip(err)
			}
			e, err := newEngine(m, 1)
			if err != nil {
				b.Fatal(err)
			}
			defer e.Close()
			if err := e.Inputs()[0].CopyFrom(in); err != nil {
				b.Fatal(err)
			}
			for b.Loop() {
				if err := e.Invoke(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
