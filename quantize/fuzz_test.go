package quantize

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/edgeclass/edgeclass/tflite"
)

// randomModel builds a small random float model from seed: a chain of one
// to five operators (convolutions, arithmetic with constants, activations,
// pooling, residual additions, concatenations), sometimes ended by a
// classifier head (MEAN, RESHAPE, FULLY_CONNECTED, SOFTMAX). It returns
// the model and how many operators it has.
func randomModel(t testing.TB, seed uint64) (*tflite.Model, *floatModel, int) {
	r := rand.New(rand.NewPCG(seed, 99))
	f := newFloatModel(seed)
	h, w, c := 2+r.IntN(7), 2+r.IntN(7), 1+r.IntN(6)
	shape := func() []int { return []int{1, h, w, c} }
	y := f.input(shape(), 0.25+4*r.Float32())
	same := []int{y} // tensors of the current shape, for residual additions
	acts := []tflite.Activation{tflite.ActNone, tflite.ActRelu, tflite.ActRelu6}
	n := 1 + r.IntN(5)
	for i := 0; i < n; i++ {
		switch r.IntN(9) {
		case 0, 1:
			oc := 1 + r.IntN(8)
			k := 1 + 2*r.IntN(2)
			y = f.op(tflite.OpConv2D, &tflite.Conv2DOptions{Padding: tflite.PaddingSame, StrideW: 1, StrideH: 1,
				Activation: acts[r.IntN(3)], DilationW: 1, DilationH: 1}, []int{1, h, w, oc}, y,
				f.weights([]int{oc, k, k, c}, 0.2+r.Float32()), f.weights([]int{oc}, r.Float32()))
			c, same = oc, nil
		case 2:
			y = f.op(tflite.OpDepthwiseConv2D, &tflite.DepthwiseConv2DOptions{Padding: tflite.PaddingSame, StrideW: 1, StrideH: 1,
				DepthMultiplier: 1, Activation: acts[r.IntN(3)], DilationW: 1, DilationH: 1}, shape(), y,
				f.weights([]int{1, 3, 3, c}, 0.2+r.Float32()), f.weights([]int{c}, r.Float32()))
		case 3:
			op := []tflite.BuiltinOp{tflite.OpAdd, tflite.OpSub, tflite.OpMul}[r.IntN(3)]
			y = f.op(op, &tflite.ActivationOptions{}, shape(), y, f.weights([]int{c}, 2*r.Float32()))
		case 4:
			op := []tflite.BuiltinOp{tflite.OpRelu, tflite.OpRelu6, tflite.OpTanh, tflite.OpLogistic, tflite.OpHardSwish}[r.IntN(5)]
			y = f.op(op, nil, shape(), y)
		case 5:
			y = f.op(tflite.OpMaxPool2D, &tflite.Pool2DOptions{Padding: tflite.PaddingSame, StrideW: 1, StrideH: 1, FilterW: 2, FilterH: 2}, shape(), y)
		case 6:
			y = f.op(tflite.OpAdd, &tflite.ActivationOptions{}, shape(), y, same[r.IntN(len(same))])
		case 7:
			z := f.op(tflite.OpRelu, nil, shape(), y)
			y = f.op(tflite.OpConcatenation, &tflite.ConcatenationOptions{Axis: 3}, []int{1, h, w, 2 * c}, y, z)
			c, same = 2*c, nil
		case 8:
			y = f.op(tflite.OpAveragePool2D, &tflite.Pool2DOptions{Padding: tflite.PaddingSame, StrideW: 1, StrideH: 1, FilterW: 2, FilterH: 2}, shape(), y)
		}
		same = append(same, y)
	}
	if r.IntN(3) == 0 {
		y = f.op(tflite.OpMean, &tflite.ReducerOptions{KeepDims: true}, []int{1, 1, 1, c}, y, f.ints(1, 2))
		y = f.op(tflite.OpReshape, &tflite.ReshapeOptions{NewShape: []int{1, c}}, []int{1, c}, y, f.ints(1, c))
		k := 2 + r.IntN(8)
		y = f.op(tflite.OpFullyConnected, &tflite.FullyConnectedOptions{}, []int{1, k}, y, f.weights([]int{k, c}, 1), f.weights([]int{k}, 0.5))
		y = f.op(tflite.OpSoftmax, &tflite.SoftmaxOptions{Beta: 1}, []int{1, k}, y)
		n += 4
	}
	f.output(y)
	return f.model(t), f, n
}

// Tolerances of the quantized model's output against the float model's,
// per operator of the chain, as fractions of the widest activation range
// of the model (quantization noise scales with the ranges it passes
// through; an output of small range can carry the noise of a wide one).
// Over 2000 random models the worst seen were 2.1% (largest error) and
// 0.33% (mean error) per operator.
const (
	maxErrorPerOp  = 0.04
	meanErrorPerOp = 0.01
)

// FuzzQuantize checks, on random small float models, that quantized models
// load back, run in our engine, and stay within maxErrorPerOp and
// meanErrorPerOp of the float model's outputs. It compares on calibration
// samples, so that the error is quantization's alone: on other samples,
// values beyond the calibrated ranges are clipped besides.
func FuzzQuantize(f *testing.F) {
	for seed := uint64(1); seed <= 24; seed++ {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, seed uint64) {
		fm, gen, n := randomModel(t, seed)
		cal := gen.samples(fm, 16)
		test := cal[:4]
		st, err := Calibrate(fm, cal, CalibrateOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, ends := range []tflite.TensorType{tflite.Int8, tflite.Float32} {
			qm, err := Quantize(fm, st, Options{Input: ends, Output: ends, Method: Method(seed % 3)})
			if err != nil {
				t.Fatal(err)
			}
			qm = roundTrip(t, qm)
			var fv, qv []float64
			for i := range test {
				fo := run(t, fm, inputBytes(t, fm, test, i))[0]
				qo := run(t, qm, inputBytes(t, qm, test, i))[0]
				fv = append(fv, values(tflite.Float32, fo)...)
				qv = append(qv, dequantize(qm, qo)...)
			}
			rng := max(slices.Max(fv)-slices.Min(fv), 1e-3)
			for _, s := range st.Tensors {
				rng = max(rng, s.Max-s.Min)
			}
			var mean float64
			for i := range fv {
				mean += math.Abs(fv[i] - qv[i])
			}
			mean /= float64(len(fv))
			if d := maxDiff(fv, qv); d > maxErrorPerOp*float64(n)*rng || mean > meanErrorPerOp*float64(n)*rng {
				t.Errorf("seed %d, %s ends, %d operators: quantized output differs from float by up to %.3g, %.3g on average; the widest range is %.3g",
					seed, ends, n, d, mean, rng)
			}
		}
	})
}

// dequantize returns the real values of raw output 0 of m.
func dequantize(m *tflite.Model, b []byte) []float64 {
	def := &m.Main().Tensors[m.Main().Outputs[0]]
	v := values(def.Type, b)
	if q := def.Quant; q != nil {
		for i := range v {
			v[i] = float64(q.Scale[0]) * (v[i] - float64(q.ZeroPoint[0]))
		}
	}
	return v
}
