package engines

import (
	"bytes"
	"math"
	"strings"
	"testing"
	"unsafe"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/edgeclass/edgeclass/internal/testenv"
	"github.com/edgeclass/edgeclass/tflite"
)

func TestConfigValidate(t *testing.T) {
	def := DefaultConfig()
	if err := def.Validate(); err != nil {
		t.Fatalf("defaults: %v", err)
	}
	for _, tc := range []struct {
		cfg  Config
		want []string
	}{
		{Config{Backend: "onnx", Delegate: "none", OnMissing: "error"}, []string{`engine.backend: "onnx" is not go or tflite-c`}},
		{Config{Backend: Go, Delegate: "edgetpu", OnMissing: "error"}, []string{"engine.delegate: edgetpu needs backend tflite-c"}},
		{Config{Backend: TFLiteC, Delegate: "nnapi", OnMissing: "maybe", DelegateThreads: -1, EdgeTPUDevice: "usb"},
			[]string{`engine.delegate: "nnapi" is not`, "engine.delegate_threads: -1", `engine.edgetpu_device: is set but engine.delegate is "nnapi"`, `engine.on_missing: "maybe"`}},
	} {
		err := tc.cfg.Validate()
		for _, w := range tc.want {
			if err == nil || !strings.Contains(err.Error(), w) {
				t.Errorf("Validate(%+v) = %v, want it to say %q", tc.cfg, err, w)
			}
		}
	}
	ok := Config{Backend: TFLiteC, Delegate: "edgetpu", EdgeTPUDevice: "pci:0", DelegateThreads: 4, OnMissing: "cpu"}
	if err := ok.Validate(); err != nil {
		t.Errorf("Validate(%+v) = %v", ok, err)
	}
}

func TestSelectGo(t *testing.T) {
	newEngine, info, err := Select(DefaultConfig(), nil)
	if err != nil {
		t.Fatal(err)
	}
	if info.Backend != Go || info.Active != "none" || info.String() != "pure-Go engine" {
		t.Fatalf("info %+v", info)
	}
	m, err := tflite.LoadFile(testenv.TestData(t, "models/mobilenet_v1_0.25_128_quant.tflite"))
	if err != nil {
		t.Fatal(err)
	}
	e, err := newEngine(m, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	if _, ok := e.(*tflite.Interpreter); !ok {
		t.Fatalf("engine is a %T", e)
	}
	if _, ok := PlacementOf(e); ok {
		t.Fatal("the pure-Go engine has no placement to report")
	}
}

// tflite.NewTensor is the constructor the C backend wraps the library's
// memory with.
func TestNewTensor(t *testing.T) {
	def := &tflite.TensorDef{Name: "x", Type: tflite.Float32, Shape: []int{2, 3}, Quant: nil}
	buf := make([]float32, 8) // the allocator aligns this to 16 bytes or more
	mem := unsafe.Slice((*byte)(unsafe.Pointer(&buf[0])), 32)
	if uintptr(unsafe.Pointer(&mem[0]))%16 != 0 {
		t.Skip("the allocator did not align the test buffer")
	}
	tt, err := tflite.NewTensor(7, def, mem[:24])
	if err != nil {
		t.Fatal(err)
	}
	tt.Float32s()[4] = 2.5
	if tt.Index() != 7 || tt.Len() != 6 || buf[4] != 2.5 || tt.Dequantized()[4] != 2.5 {
		t.Fatalf("tensor %d of %d elements does not view the memory", tt.Index(), tt.Len())
	}
	for _, tc := range []struct {
		def  *tflite.TensorDef
		data []byte
		want string
	}{
		{def, mem[:20], "needs 24 bytes, got 20"},
		{def, mem[4:28], "not 16-byte aligned"},
		{&tflite.TensorDef{Name: "s", Type: tflite.String, Shape: []int{1}}, mem[:1], "not supported"},
		{&tflite.TensorDef{Name: "n", Type: tflite.Uint8, Shape: []int{-1}}, nil, "negative dimension"},
	} {
		if _, err := tflite.NewTensor(0, tc.def, tc.data); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("NewTensor(%s %v, %d bytes) = %v, want %q", tc.def.Type, tc.def.Shape, len(tc.data), err, tc.want)
		}
	}
}

func TestCompare(t *testing.T) {
	q := &tflite.TensorDef{Name: "q", Type: tflite.Uint8, Shape: []int{4}, Quant: tflite.PerTensor(0.5, 10)}
	ag, err := Compare(q, []byte{10, 20, 200, 30}, []byte{10, 22, 199, 30})
	if err != nil {
		t.Fatal(err)
	}
	if ag.Identical || ag.Steps != 2 || ag.MaxDiff != 1 || ag.Top1 != [2]int{2, 2} || !ag.Within(q) {
		t.Fatalf("%+v", ag)
	}
	// Four steps apart is outside the tolerance.
	if ag, _ := Compare(q, []byte{10, 20, 200, 30}, []byte{10, 24, 200, 30}); ag.Within(q) {
		t.Fatalf("%+v is within tolerance", ag)
	}
	// Near ties may swap the top-1 class within the tolerance.
	if ag, _ := Compare(q, []byte{100, 99, 0, 0}, []byte{99, 100, 0, 0}); !ag.Within(q) || ag.Top1 != [2]int{0, 1} {
		t.Fatalf("near tie: %+v", ag)
	}
	f := &tflite.TensorDef{Name: "f", Type: tflite.Float32, Shape: []int{2}}
	ag, err = Compare(f, tflite.ToBytes([]float32{0.25, 0.75}), tflite.ToBytes([]float32{0.25, 0.7}))
	if err != nil || math.Abs(ag.MaxDiff-0.05) > 1e-6 || ag.Steps != 0 || ag.Within(f) {
		t.Fatalf("float: %+v, %v", ag, err)
	}
	if _, err := Compare(f, make([]byte, 8), make([]byte, 4)); err == nil {
		t.Fatal("different lengths compared")
	}
	if _, err := Compare(&tflite.TensorDef{Name: "b", Type: tflite.Bool, Shape: []int{2}}, []byte{0, 1}, []byte{0, 1}); err == nil {
		t.Fatal("bool tensors compared")
	}
}

func TestCollector(t *testing.T) {
	info := Info{Backend: TFLiteC, Library: "2.16.1", Delegate: "edgetpu", Active: "none", Fallback: "delegate edgetpu is not available: no Edge TPU found"}
	p := Placement{Delegate: "xnnpack", Ops: 40, Known: true, Delegated: 30}
	reg := prometheus.NewRegistry()
	reg.MustRegister(NewCollector(info, func() (Placement, bool) { return p, true }))
	got := map[string]float64{}
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		m := mf.GetMetric()[0]
		got[mf.GetName()] = m.GetGauge().GetValue()
		if mf.GetName() == "edgeclass_engine_info" {
			labels := map[string]string{}
			for _, l := range m.GetLabel() {
				labels[l.GetName()] = l.GetValue()
			}
			if labels["delegate"] != "edgetpu" || labels["active"] != "none" || labels["library"] != "2.16.1" {
				t.Errorf("labels %v", labels)
			}
		}
	}
	want := map[string]float64{"edgeclass_engine_info": 1, "edgeclass_engine_fallback": 1, "edgeclass_engine_delegated_ops_ratio": 0.75}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %v, want %v (all: %v)", k, got[k], v, got)
		}
	}
	// Unknown placement: no ratio.
	reg = prometheus.NewRegistry()
	reg.MustRegister(NewCollector(Info{Backend: Go, Delegate: "none", Active: "none"}, nil))
	mfs, _ = reg.Gather()
	if len(mfs) != 2 {
		t.Fatalf("pure-Go engine exports %d series, want info and fallback", len(mfs))
	}
}

// The self-test's own logic on the pure-Go engine alone: it must pass on
// the golden cases and say so in its report.
func TestSelfTestGoEngine(t *testing.T) {
	dir := testenv.TestData(t, ".")
	r, err := SelfTest(SelfTestOptions{TestData: dir, Models: []string{"mobilenet_v1_0.25_128_quant.tflite"}, Runs: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Models) != 1 || len(r.Models[0].Cells) != 1 {
		t.Fatalf("report %+v", r)
	}
	c := r.Models[0].Cells[0]
	if c.Err != "" || c.Cases != 4 || c.Passed != 4 || c.Latency <= 0 || !r.OK() {
		t.Fatalf("cell %+v", c)
	}
	var out bytes.Buffer
	if err := r.Write(&out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "mobilenet_v1_0.25_128_quant.tflite  4/4 ") || !strings.HasSuffix(out.String(), "PASS\n") {
		t.Fatalf("report:\n%s", out.String())
	}
	if _, err := SelfTest(SelfTestOptions{TestData: dir, Models: []string{"nonexistent.tflite"}}); err == nil {
		t.Fatal("a model without golden cases was accepted")
	}
	if _, err := SelfTest(SelfTestOptions{TestData: t.TempDir()}); err == nil || !strings.Contains(err.Error(), "golden/manifest.jsonl") {
		t.Fatalf("missing manifest: %v", err)
	}
}
