package quantize

import (
	"strings"
	"testing"

	"github.com/edgeclass/edgeclass/tflite"
)

// quantized quantizes a float test model on random samples.
func quantized(t *testing.T, m *tflite.Model, f *floatModel, o Options) *tflite.Model {
	t.Helper()
	st, err := Calibrate(m, f.samples(m, 12), CalibrateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	q, err := Quantize(m, st, o)
	if err != nil {
		t.Fatal(err)
	}
	return roundTrip(t, q)
}

func TestEdgeTPUCheck(t *testing.T) {
	// conv -> avgpool -> reshape -> fc -> softmax: all mapped with 8-bit ends.
	classifier := func() (*tflite.Model, *floatModel) {
		f := newFloatModel(4)
		x := f.input([]int{1, 8, 8, 3}, 1)
		y := f.op(tflite.OpConv2D, &tflite.Conv2DOptions{Padding: tflite.PaddingSame, StrideW: 2, StrideH: 2, Activation: tflite.ActRelu6, DilationW: 1, DilationH: 1},
			[]int{1, 4, 4, 8}, x, f.weights([]int{8, 3, 3, 3}, 1), f.weights([]int{8}, 0.1))
		y = f.op(tflite.OpAveragePool2D, &tflite.Pool2DOptions{Padding: tflite.PaddingValid, StrideW: 4, StrideH: 4, FilterW: 4, FilterH: 4}, []int{1, 1, 1, 8}, y)
		y = f.op(tflite.OpReshape, &tflite.ReshapeOptions{NewShape: []int{1, 8}}, []int{1, 8}, y, f.ints(1, 8))
		y = f.op(tflite.OpFullyConnected, &tflite.FullyConnectedOptions{}, []int{1, 5}, y, f.weights([]int{5, 8}, 1), f.weights([]int{5}, 0.1))
		f.output(f.op(tflite.OpSoftmax, &tflite.SoftmaxOptions{Beta: 1}, []int{1, 5}, y))
		return f.model(t), f
	}
	m, f := classifier()
	if fb := CheckEdgeTPU(quantized(t, m, f, Options{Input: tflite.Uint8, Output: tflite.Uint8})); fb != nil {
		t.Errorf("uint8 classifier: %v, want every operator mapped", fb)
	}
	// Float ends: the first QUANTIZE stays on the CPU, and with it the rest.
	fb := CheckEdgeTPU(quantized(t, m, f, Options{Input: tflite.Float32, Output: tflite.Float32}))
	if len(fb) != 7 || fb[0].Name != "QUANTIZE" || !strings.Contains(fb[0].Reason, "float input") ||
		!strings.Contains(fb[1].Reason, "after operator 0") || fb[6].Name != "DEQUANTIZE" {
		t.Errorf("float ends: %+v", fb)
	}

	// An unsupported operator in the middle, and limits of supported ones.
	g := newFloatModel(5)
	x := g.input([]int{1, 4, 4, 6}, 1)
	y := g.op(tflite.OpRelu, nil, []int{1, 4, 4, 6}, x)
	y = g.op(tflite.OpHardSwish, nil, []int{1, 4, 4, 6}, y)
	g.output(g.op(tflite.OpMean, &tflite.ReducerOptions{KeepDims: true}, []int{1, 4, 4, 1}, y, g.ints(3)))
	z := g.input([]int{2, 4}, 1)
	g.output(g.op(tflite.OpFullyConnected, &tflite.FullyConnectedOptions{}, []int{2, 3}, z, g.weights([]int{3, 4}, 1), g.weights([]int{3}, 1)))
	hm := g.model(t)
	fb = CheckEdgeTPU(quantized(t, hm, g, Options{Input: tflite.Int8, Output: tflite.Int8}))
	want := []string{"HARD_SWISH: not supported", "MEAN: reduces over 6 channels", "FULLY_CONNECTED: output shape [2 3]"}
	var got []string
	for _, b := range fb {
		got = append(got, b.Name+": "+b.Reason)
	}
	if len(got) != len(want) {
		t.Fatalf("fallbacks %q, want %d starting %q", got, len(want), want)
	}
	for i, w := range want {
		if !strings.HasPrefix(got[i], w) {
			t.Errorf("fallback %d is %q, want it to start %q", i, got[i], w)
		}
	}
}
