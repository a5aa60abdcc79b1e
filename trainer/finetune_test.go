package trainer

import (
	"math"
	"math/rand/v2"
	"syscall"
	"testing"
	"time"

	"github.com/edgeclass/edgeclass/camera"
	"github.com/edgeclass/edgeclass/internal/testenv"
	"github.com/edgeclass/edgeclass/tflite"
)

// tinyTop builds a float graph shaped like the top of a MobileNetV2: an
// inverted residual block (1x1 expand, 3x3 depthwise, 1x1 project, add), a
// 1x1 convolution, a strided depthwise convolution and global average
// pooling. Its input is the cut.
func tinyTop(act tflite.Activation, seed uint64) *tflite.Model {
	rng := rand.New(rand.NewPCG(seed, 3))
	m := &tflite.Model{Version: 3, Buffers: [][]byte{nil}}
	g := tflite.Subgraph{}
	tensor := func(shape ...int) int {
		g.Tensors = append(g.Tensors, tflite.TensorDef{Type: tflite.Float32, Shape: shape})
		return len(g.Tensors) - 1
	}
	konst := func(scale float64, shape ...int) int {
		n := 1
		for _, d := range shape {
			n *= d
		}
		v := make([]float32, n)
		for i := range v {
			v[i] = float32(rng.NormFloat64() * scale)
		}
		m.Buffers = append(m.Buffers, tflite.ToBytes(v))
		t := tensor(shape...)
		g.Tensors[t].Buffer = len(m.Buffers) - 1
		return t
	}
	op := func(code tflite.BuiltinOp, opts any, out int, in ...int) int {
		g.Operators = append(g.Operators, tflite.Operator{Op: code, Options: opts, Inputs: in, Outputs: []int{out}})
		return out
	}
	conv := func(x, cin, cout, h int, a tflite.Activation) int {
		return op(tflite.OpConv2D, &tflite.Conv2DOptions{StrideW: 1, StrideH: 1, Activation: a, DilationW: 1, DilationH: 1},
			tensor(1, h, h, cout), x, konst(0.5, cout, 1, 1, cin), konst(0.1, cout))
	}
	dw := func(x, c, h, stride int, a tflite.Activation) int {
		oh := (h + stride - 1) / stride
		return op(tflite.OpDepthwiseConv2D, &tflite.DepthwiseConv2DOptions{StrideW: stride, StrideH: stride, DepthMultiplier: 1, Activation: a, DilationW: 1, DilationH: 1},
			tensor(1, oh, oh, c), x, konst(0.4, 1, 3, 3, c), konst(0.1, c))
	}
	cut := tensor(1, 5, 5, 3)
	e := conv(cut, 3, 6, 5, act)
	d := dw(e, 6, 5, 1, act)
	p := conv(d, 6, 3, 5, tflite.ActNone)
	r := op(tflite.OpAdd, &tflite.ActivationOptions{}, tensor(1, 5, 5, 3), p, cut)
	c := conv(r, 3, 8, 5, act)
	s := dw(c, 8, 5, 2, act)
	f := op(tflite.OpAveragePool2D, &tflite.Pool2DOptions{Padding: tflite.PaddingValid, StrideW: 1, StrideH: 1, FilterW: 3, FilterH: 3},
		tensor(1, 1, 1, 8), s)
	g.Inputs, g.Outputs = []int{cut}, []int{f}
	m.Subgraphs = []tflite.Subgraph{g}
	return m
}

func randomInput(rng *rand.Rand, n int) []float32 {
	x := make([]float32, n)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	return x
}

// TestTopNetForwardMatchesEngine compares the training code's forward pass
// with the engine running the same graph.
func TestTopNetForwardMatchesEngine(t *testing.T) {
	m := tinyTop(tflite.ActRelu6, 1)
	n, err := newTopNet(m, 5)
	if err != nil {
		t.Fatal(err)
	}
	if n.cut != m.Main().Inputs[0] || n.trains != 5 {
		t.Fatalf("cut at tensor %d with %d layers, want the input and 5", n.cut, n.trains)
	}
	it, err := tflite.NewInterpreter(m, nil)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(2, 2))
	const bn = 3
	x := randomInput(rng, bn*75)
	got := n.forward(x, bn).vals[n.feat]
	for e := 0; e < bn; e++ {
		copy(it.Input(0).Float32s(), x[e*75:(e+1)*75])
		it.Invoke()
		want := it.Output(0).Float32s()
		for i := range want {
			if d := math.Abs(float64(got[e*8+i] - want[i])); d > 1e-5 {
				t.Fatalf("example %d feature %d: %v, engine %v", e, i, got[e*8+i], want[i])
			}
		}
	}
}

// TestTopNetGradients checks the backward pass against finite differences
// of loss = sum(features * r).
func TestTopNetGradients(t *testing.T) {
	for _, act := range []tflite.Activation{tflite.ActNone, tflite.ActRelu6} {
		m := tinyTop(act, 4)
		n, err := newTopNet(m, 5)
		if err != nil {
			t.Fatal(err)
		}
		rng := rand.New(rand.NewPCG(5, 5))
		const bn = 2
		x := randomInput(rng, bn*75)
		r := randomInput(rng, bn*8)
		loss := func() float64 {
			f := n.forward(x, bn).vals[n.feat]
			s := 0.0
			for i := range f {
				s += float64(f[i]) * float64(r[i])
			}
			return s
		}
		for _, p := range n.params {
			clear(p.g)
		}
		n.backward(n.forward(x, bn), append([]float32(nil), r...))
		checked, bad := 0, 0
		for _, p := range n.params {
			for i := range p.w {
				const eps = 1e-3
				old := p.w[i]
				p.w[i] = old + eps
				up := loss()
				p.w[i] = old - eps
				down := loss()
				p.w[i] = old
				num := (up - down) / (2 * eps)
				ana := float64(p.g[i])
				checked++
				if math.Abs(num-ana) > 0.02*math.Max(math.Abs(num), math.Abs(ana))+2e-3 {
					bad++
					if act == tflite.ActNone {
						t.Errorf("tensor %d [%d]: gradient %.5f, finite difference %.5f", p.tensor, i, ana, num)
					}
				}
			}
		}
		// With ReLU6 a step of eps can cross a kink; allow a few.
		if bad > checked/50 {
			t.Errorf("activation %s: %d of %d gradients off", act, bad, checked)
		}
	}
}

// TestFineTuneLearns trains the tiny top on a task its initial weights do
// not solve and checks the loss falls and the export carries the weights.
func TestFineTuneLearns(t *testing.T) {
	m := tinyTop(tflite.ActRelu6, 6)
	n, err := newTopNet(m, 5)
	if err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(7, 7))
	// Class = whether channel 0 is larger than channel 1 on average.
	var train, val examples
	for i := 0; i < 240; i++ {
		x := randomInput(rng, 75)
		y, s := 0, float32(0)
		for p := 0; p < 25; p++ {
			s += x[3*p] - x[3*p+1]
		}
		if s > 0 {
			y = 1
		}
		ex := &train
		if i >= 200 {
			ex = &val
		}
		ex.x = append(ex.x, [][]float32{x})
		ex.y = append(ex.y, y)
	}
	h := &Head{Classes: 2, Dim: 8, W: make([]float32, 16), B: make([]float32, 2)}
	hc := DefaultHead
	hc.Dropout, hc.LabelSmoothing = 0, 0
	cfg := FineTuneConfig{Layers: 5, Epochs: 30, LearningRate: 0.01}
	before, _ := n.evaluate(h, val, 32)
	fm, h2, hist, best, err := fineTune(n, h, train, val, cfg, hc, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	after, acc := n.evaluate(h2, val, 32)
	if !(after < before-0.1) || acc < 0.75 {
		t.Errorf("val loss %.3f -> %.3f, accuracy %.3f; want a clear improvement (history %+v)", before, after, acc, hist)
	}
	if math.Abs(after-hist[best-1].ValLoss) > 1e-6 {
		t.Errorf("kept weights have val loss %.6f, the best epoch %.6f", after, hist[best-1].ValLoss)
	}
	// The exported graph computes what the trained top computes.
	it, err := tflite.NewInterpreter(fm, nil)
	if err != nil {
		t.Fatal(err)
	}
	copy(it.Input(0).Float32s(), val.x[0][0])
	it.Invoke()
	want := n.forward(val.x[0][0], 1).vals[n.feat]
	for i, v := range it.Output(0).Float32s() {
		if math.Abs(float64(v-want[i])) > 1e-5 {
			t.Fatalf("exported model feature %d = %v, trained top %v", i, v, want[i])
		}
	}
	// The source model is untouched.
	if src := asFloats(m.Buffers[m.Main().Tensors[n.params[0].tensor].Buffer]); src[0] == n.params[0].w[0] {
		t.Error("training changed the source model's weights")
	}
}

func TestNewTopNetCut(t *testing.T) {
	m := tinyTop(tflite.ActRelu6, 1)
	// The top two layers (the strided depthwise and the 1x1 before it) are
	// fed by the residual sum alone.
	n, err := newTopNet(m, 2)
	if err != nil {
		t.Fatal(err)
	}
	sg := m.Main()
	if op := sg.Operators[3]; op.Op != tflite.OpAdd || n.cut != op.Outputs[0] || n.trains != 2 {
		t.Errorf("cut at tensor %d, trains %d; want the residual sum and 2", n.cut, n.trains)
	}
	// Three layers reach into the residual block, whose add also reads the
	// block input: the cut moves down to the graph input.
	if n, err = newTopNet(m, 3); err != nil || n.cut != sg.Inputs[0] || n.trains != 5 {
		t.Errorf("3 layers: cut %d, trains %d, err %v", n.cut, n.trains, err)
	}
	if _, err := newTopNet(m, 9); err == nil {
		t.Error("more layers than the graph has accepted")
	}
}

// BenchmarkTopNetMobileNetV2 times one training step (forward and backward)
// of MobileNetV2's top: the last inverted residual block and the final 1x1
// convolution (4 layers above a 7x7x160 cut), per batch of 8.
func BenchmarkTopNetMobileNetV2(b *testing.B) {
	bb, err := LoadBackbone(testenv.TestData(b, "models/mobilenet_v2_1.0_224_quant.tflite"), "", camera.Squash)
	if err != nil {
		b.Fatal(err)
	}
	n, err := newTopNet(bb.Model, 4)
	if err != nil {
		b.Fatal(err)
	}
	const bn = 8
	rng := rand.New(rand.NewPCG(1, 1))
	x := randomInput(rng, bn*topElems(bb.Model, n.cut))
	for i := range x {
		x[i] = max(0, x[i])
	}
	g := randomInput(rng, bn*bb.Dim)
	c0 := cpuTime()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		bt := n.forward(x, bn)
		n.backward(bt, append([]float32(nil), g...))
	}
	b.ReportMetric(float64(b.Elapsed().Milliseconds())/float64(b.N*bn), "ms/example")
	// CPU time too: on a shared machine wall time depends on the neighbours.
	b.ReportMetric(float64((cpuTime()-c0).Milliseconds())/float64(b.N*bn), "cpu-ms/example")
}

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
