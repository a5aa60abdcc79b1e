//go:build tflitec && cgo

// These tests run against whatever libtensorflowlite_c the build links:
// in CI the stand-in (make test-tflitec), whose delegates claim nodes by
// fixed rules (standin/delegates.c) and whose Edge TPU "devices" come from
// $EDGETPU_STANDIN_DEVICES. Tests that depend on those rules require the
// stand-in.
package tflitec

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"unicode"

	"github.com/edgeclass/edgeclass/internal/testenv"
	"github.com/edgeclass/edgeclass/tflite"
)

const smallModel = "mobilenet_v1_0.25_128_quant"

func load(t *testing.T, name string) *tflite.Model {
	t.Helper()
	m, err := tflite.LoadFile(testenv.TestData(t, "models/"+name+".tflite"))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func golden(t *testing.T, model, image string) (in, out []byte) {
	t.Helper()
	in, err := os.ReadFile(testenv.TestData(t, "golden/"+model+"__"+image+".in.bin"))
	if err != nil {
		t.Fatal(err)
	}
	out, err = os.ReadFile(testenv.TestData(t, "golden/"+model+"__"+image+".out0.bin"))
	if err != nil {
		t.Fatal(err)
	}
	return in, out
}

func open(t *testing.T, opts Options) *Backend {
	t.Helper()
	b, err := Open(opts)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func requireStandIn(t *testing.T) {
	t.Helper()
	if b := open(t, Options{}); !b.IsStandIn() {
		t.Skipf("needs the stand-in library; this is TensorFlow Lite %s", b.Version())
	}
}

// run puts in into the engine's input, invokes and returns output 0.
func run(t *testing.T, e *Engine, in []byte) []byte {
	t.Helper()
	if err := e.Inputs()[0].CopyFrom(in); err != nil {
		t.Fatal(err)
	}
	if err := e.Invoke(); err != nil {
		t.Fatal(err)
	}
	return bytes.Clone(e.Outputs()[0].Bytes())
}

// Each delegate runs the model to Google's golden output (the stand-in
// computes with the pure-Go engine, which matches it bit for bit on this
// model), and the execution plan read by the inspector delegate is
// consistent with what each stand-in delegate claims.
func TestDelegates(t *testing.T) {
	requireStandIn(t)
	m := load(t, smallModel)
	in, want := golden(t, smallModel, "cat")
	for _, tc := range []struct {
		delegate, kernel string
		all              bool // takes every operator
	}{
		{None, "", false},
		{XNNPACK, "TfLiteXNNPackDelegate", false},
		{GPU, "TfLiteGpuDelegateV2", true},
	} {
		t.Run(tc.delegate, func(t *testing.T) {
			b := open(t, Options{Delegate: tc.delegate, DelegateThreads: 2})
			e, err := b.NewEngine(m, 2)
			if err != nil {
				t.Fatal(err)
			}
			defer e.Close()
			sg := m.Main()
			if got := e.Inputs()[0]; got.Index() != sg.Inputs[0] || !slices.Equal(got.Shape(), sg.Tensors[sg.Inputs[0]].Shape) || got.Type() != tflite.Uint8 {
				t.Fatalf("input tensor %d %v %s does not describe the model's", got.Index(), got.Shape(), got.Type())
			}
			if got := run(t, e, in); !bytes.Equal(got, want) {
				t.Fatal("output differs from Google's runtime")
			}
			p := e.Placement()
			if p.Ops != len(sg.Operators) {
				t.Fatalf("placement counts %d operators, the model has %d", p.Ops, len(sg.Operators))
			}
			if tc.delegate == None {
				if p.Known || p.Delegate != "" {
					t.Fatalf("without a delegate the plan cannot be read, placement says %+v", p)
				}
				return
			}
			if !p.Known || p.Kernels < 1 || !slices.Equal(p.Names, []string{tc.kernel}) {
				t.Fatalf("placement %+v: want kernels named %s", p, tc.kernel)
			}
			if d := p.Delegated(); d <= 0 || d > p.Ops || (tc.all && d != p.Ops) {
				t.Fatalf("placement says %d of %d operators delegated (%s)", d, p.Ops, p)
			}
		})
	}
}

// edgeTPUModel is what edgetpu_compiler makes of a model: the part mapped to
// the chip as one edgetpu-custom-op operator, here followed by one that
// stays on the CPU.
func edgeTPUModel(t *testing.T, custom string) *tflite.Model {
	t.Helper()
	g := tflite.NewGraphBuilder()
	q := tflite.PerTensor(1.0/255, 0)
	in := g.AddTensor("input", tflite.Uint8, []int{1, 8}, q)
	mid := g.AddTensor("mapped", tflite.Uint8, []int{1, 8}, q)
	out := g.AddTensor("output", tflite.Uint8, []int{1, 8}, q)
	g.AddOp(tflite.OpCustom, nil, []int{in}, []int{mid})
	g.Model().Main().Operators[0].Custom = custom
	g.AddOp(tflite.OpReshape, &tflite.ReshapeOptions{NewShape: []int{1, 8}}, []int{mid}, []int{out})
	g.SetInputs(in)
	g.SetOutputs(out)
	data, err := g.Model().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	m, err := tflite.Load(data)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func TestEdgeTPU(t *testing.T) {
	requireStandIn(t)
	t.Setenv("EDGETPU_STANDIN_DEVICES", "usb:/sys/bus/usb/devices/2-1,pci:/dev/apex_0,usb:/sys/bus/usb/devices/4-1")
	b := open(t, Options{Delegate: EdgeTPU, EdgeTPUDevice: "usb:1"})
	if b.Device() != "usb /sys/bus/usb/devices/4-1" || !strings.Contains(b.Note(), "RuntimeVersion") {
		t.Fatalf("device %q, note %q", b.Device(), b.Note())
	}

	e, err := b.NewEngine(edgeTPUModel(t, edgeTPUOp), 1)
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	p := e.Placement()
	if !p.Known || p.Ops != 2 || p.Delegated() != 1 || p.Kernels != 1 || !slices.Equal(p.Names, []string{"EdgeTpuDelegateForCustomOp"}) {
		t.Fatalf("placement %+v (%s)", p, p)
	}
	// The stand-in's Edge TPU kernel fails: its message, formatted from a
	// va_list by our reporter, must arrive whole.
	err = e.Invoke()
	for _, want := range []string{
		"EdgeTpuDelegateForCustomOp: no Edge TPU is emulated by the stand-in (kernel for 1 nodes)",
		"Node number 2 (EdgeTpuDelegateForCustomOp) failed to invoke.",
	} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Fatalf("Invoke error %v, want it to contain %q", err, want)
		}
	}

	// An ordinary model gets nothing delegated and runs on the CPU.
	m := load(t, smallModel)
	in, want := golden(t, smallModel, "parrot")
	plain, err := b.NewEngine(m, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer plain.Close()
	if p := plain.Placement(); !p.Known || p.Kernels != 0 || p.Delegated() != 0 {
		t.Fatalf("placement %+v", p)
	}
	if !bytes.Equal(run(t, plain, in), want) {
		t.Fatal("output differs from Google's runtime")
	}

	_, err = open(t, Options{}).NewEngine(edgeTPUModel(t, edgeTPUOp), 1)
	if err == nil || !strings.Contains(err.Error(), "compiled for the Edge TPU") {
		t.Fatalf("a compiled model without the delegate: %v", err)
	}
}

func TestUnavailable(t *testing.T) {
	requireStandIn(t)
	libdir := filepath.Dir(open(t, Options{Delegate: GPU}).DelegateLibrary())
	t.Setenv("EDGETPU_STANDIN_DEVICES", "usb:/sys/bus/usb/devices/2-1")
	for _, tc := range []struct {
		name    string
		opts    Options
		devices string
		want    string
	}{
		{"no device", Options{Delegate: EdgeTPU}, "", "no Edge TPU found"},
		{"no such device", Options{Delegate: EdgeTPU, EdgeTPUDevice: "pci"}, "usb:/x", `edgetpu_device "pci": not among the attached Edge TPUs [usb /x]`},
		{"no library", Options{Delegate: GPU, DelegateLibrary: "/nonexistent/libtensorflowlite_gpu_delegate.so"}, "", "/nonexistent/libtensorflowlite_gpu_delegate.so: cannot open shared object file"},
		{"wrong library", Options{Delegate: EdgeTPU, DelegateLibrary: filepath.Join(libdir, "libtensorflowlite_gpu_delegate.so")}, "usb:/x", "libtensorflowlite_gpu_delegate.so has no edgetpu_create_delegate"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("EDGETPU_STANDIN_DEVICES", tc.devices)
			_, err := Open(tc.opts)
			var ue *UnavailableError
			if !errors.As(err, &ue) || ue.Delegate != tc.opts.Delegate || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Open: %v, want an UnavailableError containing %q", err, tc.want)
			}
		})
	}
	if _, err := Open(Options{Delegate: "nnapi"}); err == nil || errors.As(err, new(*UnavailableError)) {
		t.Fatalf("an unknown delegate is a configuration error, not a missing one: %v", err)
	}

	// The accelerator goes away between Open and NewEngine.
	t.Setenv("EDGETPU_STANDIN_DEVICES", "usb:/x")
	b := open(t, Options{Delegate: EdgeTPU})
	t.Setenv("EDGETPU_STANDIN_DEVICES", "")
	_, err := b.NewEngine(load(t, smallModel), 1)
	if ue := new(UnavailableError); !errors.As(err, &ue) || !strings.Contains(err.Error(), "creating the delegate failed") {
		t.Fatalf("NewEngine without the device: %v", err)
	}
}

// The library's errors reach the caller readable: go-tflite's own reporter
// would pass the va_list to asprintf and print garbage.
func TestErrorsAreReadable(t *testing.T) {
	requireStandIn(t)
	_, err := open(t, Options{}).NewEngine(edgeTPUModel(t, "my-op"), 1)
	const want = "the TensorFlow Lite C library cannot run the model: Encountered unresolved custom op: my-op."
	if err == nil || err.Error() != want {
		t.Fatalf("error %q, want %q", err, want)
	}
	if strings.IndexFunc(err.Error(), func(r rune) bool { return !unicode.IsPrint(r) }) >= 0 {
		t.Fatalf("error has unprintable characters: %q", err)
	}
}

func TestClose(t *testing.T) {
	e, err := open(t, Options{Delegate: XNNPACK}).NewEngine(load(t, smallModel), 1)
	if err != nil {
		t.Fatal(err)
	}
	e.Close()
	e.Close()
	if err := e.Invoke(); err == nil {
		t.Fatal("Invoke after Close succeeded")
	}
}

func TestPickEdgeTPU(t *testing.T) {
	devs := []edgeTPU{{1, "u0"}, {0, "p0"}, {1, "u1"}}
	for want, spec := range map[string]string{"": "u0", "usb": "u0", "usb:1": "u1", "pci": "p0", "pci:0": "p0", ":1": "p0", ":2": "u1"} {
		d, err := pickEdgeTPU(devs, want)
		if err != nil || d.path != spec {
			t.Errorf("pickEdgeTPU(%q) = %v, %v; want %s", want, d, err, spec)
		}
	}
	for _, bad := range []string{"pci:1", ":3", "usb:x", "usb:-1", "tpu", "usb:"} {
		if _, err := pickEdgeTPU(devs, bad); err == nil {
			t.Errorf("pickEdgeTPU(%q) succeeded", bad)
		}
	}
	if _, err := pickEdgeTPU(nil, ""); err == nil || !strings.Contains(err.Error(), "no Edge TPU found") {
		t.Errorf("no devices: %v", err)
	}
}
