package gomlxbench

import (
	"math"
	"math/rand/v2"
	"syscall"
	"testing"
	"time"

	"github.com/gomlx/gomlx/backends"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/edgeclass/edgeclass/camera"
	"github.com/edgeclass/edgeclass/internal/testenv"
	"github.com/edgeclass/edgeclass/tflite"
	"github.com/edgeclass/edgeclass/trainer"
)

// layers is what the trainer's BenchmarkTopNetMobileNetV2 trains: the
// last inverted residual block (expand 1x1, depthwise 3x3, project 1x1) and
// the final 1x1 convolution, above the 7x7x160 cut.
const layers = 4

func mobileNetTop(tb testing.TB) (*Top, backends.Backend) {
	bb, err := trainer.LoadBackbone(testenv.TestData(tb, "models/mobilenet_v2_1.0_224_quant.tflite"), "", camera.Squash)
	if err != nil {
		tb.Fatal(err)
	}
	top, err := NewTop(bb.Model, layers)
	if err != nil {
		tb.Fatal(err)
	}
	be, err := Backend()
	if err != nil {
		tb.Fatal(err)
	}
	return top, be
}

// cutBatch is bn random non-negative cut activations (post-ReLU6 values),
// and an output gradient over the features.
func cutBatch(top *Top, bn, dim int, seed uint64) (x, g []float32) {
	rng := rand.New(rand.NewPCG(seed, seed))
	n := 1
	for _, d := range top.CutShape() {
		n *= d
	}
	x = make([]float32, bn*n)
	for i := range x {
		x[i] = float32(max(0, rng.NormFloat64()))
	}
	g = make([]float32, bn*dim)
	for i := range g {
		g[i] = float32(rng.NormFloat64())
	}
	return x, g
}

func TestTopShape(t *testing.T) {
	top, _ := mobileNetTop(t)
	if s := top.CutShape(); s[0] != 7 || s[1] != 7 || s[2] != 160 {
		t.Errorf("cut shape %v, want 7x7x160", s)
	}
	var got [][]int
	for _, p := range top.Params {
		got = append(got, p.Shape)
	}
	want := [][]int{{960, 160}, {960}, {3, 3, 960}, {960}, {320, 960}, {320}, {1280, 320}, {1280}}
	if len(got) != len(want) {
		t.Fatalf("parameters %v, want %v", got, want)
	}
	for i := range want {
		if len(got[i]) != len(want[i]) {
			t.Fatalf("parameters %v, want %v", got, want)
		}
		for j := range want[i] {
			if got[i][j] != want[i][j] {
				t.Fatalf("parameters %v, want %v", got, want)
			}
		}
	}
}

// TestForwardMatchesEngine runs the same cut activations through the GoMLX
// graph and through our engine running the float graph's operators above
// the cut, with the same weights.
func TestForwardMatchesEngine(t *testing.T) {
	top, be := mobileNetTop(t)
	const bn = 3
	dim := 1280
	x, _ := cutBatch(top, bn, dim, 11)
	exec, err := NewExec(be, func(args []*Node) *Node { return top.Forward(args[0], args[1:]) })
	if err != nil {
		t.Fatal(err)
	}
	cs := top.CutShape()
	args := []any{tensors.FromFlatDataAndDimensions(x, bn, cs[0], cs[1], cs[2])}
	for _, p := range top.ParamTensors() {
		args = append(args, p)
	}
	out, err := exec.Exec(args...)
	if err != nil {
		t.Fatal(err)
	}
	got := tensors.MustCopyFlatData[float32](out[0])
	if len(got) != bn*dim {
		t.Fatalf("%d features, want %d", len(got), bn*dim)
	}

	// Our engine on the operators above the cut.
	sg := top.model.Main()
	sub := &tflite.Model{Version: top.model.Version, Buffers: top.model.Buffers, Subgraphs: []tflite.Subgraph{{
		Tensors: sg.Tensors, Inputs: []int{top.Cut}, Outputs: []int{top.Feat}, Operators: sg.Operators[top.First:],
	}}}
	it, err := tflite.NewInterpreter(sub, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer it.Close()
	n := len(x) / bn
	worst := 0.0
	for e := 0; e < bn; e++ {
		copy(it.Input(0).Float32s(), x[e*n:(e+1)*n])
		if err := it.Invoke(); err != nil {
			t.Fatal(err)
		}
		want := it.Output(0).Float32s()
		if len(want) != dim {
			t.Fatalf("engine gives %d features, want %d", len(want), dim)
		}
		for i, w := range want {
			d := math.Abs(float64(got[e*dim+i] - w))
			worst = max(worst, d)
			if d > 1e-4+1e-4*math.Abs(float64(w)) {
				t.Fatalf("example %d feature %d: GoMLX %v, engine %v", e, i, got[e*dim+i], w)
			}
		}
	}
	t.Logf("largest difference %.2g", worst)
}

// TestStepGradients checks the benchmarked step's gradients (float32)
// against finite differences of the loss sum(features * g) computed in
// float64, along a random direction per parameter.
//
// The differences are one-sided, forward along non-negative directions:
// the backbone has depthwise channels whose kernel and bias are all zero,
// so their pre-activation is exactly 0, where ReLU6 has no derivative.
// GoMLX's Max passes the gradient at such a tie (the trainer passes none);
// that is the derivative from the right, which a forward difference along
// a non-negative direction measures.
func TestStepGradients(t *testing.T) {
	top, be := mobileNetTop(t)
	const bn = 2
	x, g := cutBatch(top, bn, 1280, 12)
	cs := top.CutShape()
	params := top.ParamTensors()

	step, err := NewExec(be, top.Step)
	if err != nil {
		t.Fatal(err)
	}
	args := []any{tensors.FromFlatDataAndDimensions(x, bn, cs[0], cs[1], cs[2]), tensors.FromFlatDataAndDimensions(g, bn, 1280)}
	for _, p := range params {
		args = append(args, p)
	}
	grads, err := step.Exec(args...)
	if err != nil {
		t.Fatal(err)
	}

	loss, err := NewExec(be, func(args []*Node) *Node {
		return ReduceAllSum(Mul(top.Forward(args[0], args[2:]), args[1]))
	})
	if err != nil {
		t.Fatal(err)
	}
	f64 := func(v []float32) []float64 {
		out := make([]float64, len(v))
		for i, a := range v {
			out[i] = float64(a)
		}
		return out
	}
	base := []any{tensors.FromFlatDataAndDimensions(f64(x), bn, cs[0], cs[1], cs[2]), tensors.FromFlatDataAndDimensions(f64(g), bn, 1280)}
	rng := rand.New(rand.NewPCG(13, 13))
	for pi, p := range top.Params {
		dir := make([]float64, len(p.Values))
		for i := range dir {
			dir[i] = math.Abs(rng.NormFloat64())
		}
		analytic := 0.0
		for i, v := range tensors.MustCopyFlatData[float32](grads[pi]) {
			analytic += float64(v) * dir[i]
		}
		const eps = 1e-7
		eval := func(scale float64) float64 {
			a := append([]any(nil), base...)
			for qi, q := range top.Params {
				w := f64(q.Values)
				if qi == pi {
					for i := range w {
						w[i] += scale * eps * dir[i]
					}
				}
				a = append(a, tensors.FromFlatDataAndDimensions(w, q.Shape...))
			}
			out, err := loss.Exec(a...)
			if err != nil {
				t.Fatal(err)
			}
			return tensors.MustCopyFlatData[float64](out[0])[0]
		}
		numeric := (eval(1) - eval(0)) / eps
		if math.Abs(numeric-analytic) > 1e-3*math.Max(math.Abs(numeric), math.Abs(analytic))+1e-3 {
			t.Errorf("parameter %d %v: directional derivative %.6g, finite difference %.6g", pi, p.Shape, analytic, numeric)
		}
	}
}

// BenchmarkGoMLXTopNetMobileNetV2 is the GoMLX peer of the trainer's
// BenchmarkTopNetMobileNetV2: one forward and backward pass (gradients of
// all kernels and biases) per batch of 8, compiled once before timing.
func BenchmarkGoMLXTopNetMobileNetV2(b *testing.B) {
	top, be := mobileNetTop(b)
	const bn = 8
	x, g := cutBatch(top, bn, 1280, 1)
	cs := top.CutShape()
	args := []any{tensors.FromFlatDataAndDimensions(x, bn, cs[0], cs[1], cs[2]), tensors.FromFlatDataAndDimensions(g, bn, 1280)}
	for _, p := range top.ParamTensors() {
		args = append(args, p)
	}
	step, err := NewExec(be, top.Step)
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	if err := step.PreCompile(args...); err != nil {
		b.Fatal(err)
	}
	compile := time.Since(start)
	c0 := cpuTime()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		out, err := step.Exec(args...)
		if err != nil {
			b.Fatal(err)
		}
		for _, t := range out {
			t.FinalizeAll()
		}
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N*bn), "ms/example")
	// CPU time too: on a shared machine wall time depends on the neighbours.
	b.ReportMetric(float64((cpuTime()-c0).Milliseconds())/float64(b.N*bn), "cpu-ms/example")
	b.ReportMetric(float64(compile.Milliseconds()), "compile-ms")
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
