package quantize

import (
	"slices"
	"testing"

	"github.com/edgeclass/edgeclass/internal/testenv"
	"github.com/edgeclass/edgeclass/tflite"
)

// allOpsModel is a float model with one independent chain per case, which
// together use every operator our engine runs but QUANTIZE and DEQUANTIZE,
// which the quantized models' ends add.
func allOpsModel(t testing.TB) (*tflite.Model, *floatModel) {
	f := newFloatModel(1)
	nhwc := func(h, w, c int) []int { return []int{1, h, w, c} }
	conv := func(in, oc, k, stride, dil int, pad tflite.Padding, act tflite.Activation, bias bool) int {
		s := f.g.Model().Subgraphs[0].Tensors[in].Shape
		o := func(n int) int {
			if pad == tflite.PaddingSame {
				return (n + stride - 1) / stride
			}
			return (n-(k-1)*dil-1)/stride + 1
		}
		ins := []int{in, f.weights([]int{oc, k, k, s[3]}, 0.4)}
		if bias {
			ins = append(ins, f.weights([]int{oc}, 0.3))
		}
		return f.op(tflite.OpConv2D, &tflite.Conv2DOptions{Padding: pad, StrideW: stride, StrideH: stride,
			Activation: act, DilationW: dil, DilationH: dil}, nhwc(o(s[1]), o(s[2]), oc), ins...)
	}
	unary := func(op tflite.BuiltinOp, opts any) {
		x := f.input(nhwc(4, 4, 3), 4)
		f.output(f.op(op, opts, nhwc(4, 4, 3), x))
	}

	f.output(conv(f.input(nhwc(8, 8, 3), 1), 6, 3, 1, 1, tflite.PaddingSame, tflite.ActRelu6, true))
	f.output(conv(f.input(nhwc(7, 7, 4), 2), 5, 1, 2, 1, tflite.PaddingValid, tflite.ActNone, false))
	f.output(conv(f.input(nhwc(8, 8, 2), 3), 4, 3, 1, 2, tflite.PaddingSame, tflite.ActReluN1To1, true))
	{ // depthwise, multiplier 1 and 2
		x := f.input(nhwc(8, 8, 4), 2)
		f.output(f.op(tflite.OpDepthwiseConv2D, &tflite.DepthwiseConv2DOptions{Padding: tflite.PaddingSame, StrideW: 1, StrideH: 1,
			DepthMultiplier: 1, Activation: tflite.ActRelu, DilationW: 1, DilationH: 1}, nhwc(8, 8, 4), x, f.weights([]int{1, 3, 3, 4}, 1), f.weights([]int{4}, 0.5)))
		y := f.input(nhwc(7, 7, 3), 1)
		f.output(f.op(tflite.OpDepthwiseConv2D, &tflite.DepthwiseConv2DOptions{Padding: tflite.PaddingValid, StrideW: 2, StrideH: 2,
			DepthMultiplier: 2, DilationW: 1, DilationH: 1}, nhwc(3, 3, 6), y, f.weights([]int{1, 3, 3, 6}, 1), f.weights([]int{6}, 0.5)))
	}
	{ // fully connected, with bias and, from a 4-D input, without
		x := f.input([]int{1, 16}, 1)
		f.output(f.op(tflite.OpFullyConnected, &tflite.FullyConnectedOptions{}, []int{1, 10}, x, f.weights([]int{10, 16}, 0.5), f.weights([]int{10}, 0.5)))
		y := f.input(nhwc(2, 2, 4), 1)
		f.output(f.op(tflite.OpFullyConnected, &tflite.FullyConnectedOptions{Activation: tflite.ActRelu}, []int{1, 6}, y, f.weights([]int{6, 16}, 0.5)))
	}
	{ // pools
		x := f.input(nhwc(8, 8, 3), 2)
		f.output(f.op(tflite.OpAveragePool2D, &tflite.Pool2DOptions{Padding: tflite.PaddingValid, StrideW: 2, StrideH: 2, FilterW: 2, FilterH: 2}, nhwc(4, 4, 3), x))
		f.output(f.op(tflite.OpMaxPool2D, &tflite.Pool2DOptions{Padding: tflite.PaddingSame, StrideW: 1, StrideH: 1, FilterW: 3, FilterH: 3}, nhwc(8, 8, 3), x))
	}
	{ // arithmetic: two activations of different ranges, and constants
		a, b := f.input(nhwc(4, 4, 3), 1), f.input(nhwc(4, 4, 3), 3)
		f.output(f.op(tflite.OpAdd, &tflite.ActivationOptions{Activation: tflite.ActRelu}, nhwc(4, 4, 3), a, b))
		f.output(f.op(tflite.OpSub, &tflite.ActivationOptions{}, nhwc(4, 4, 3), a, f.weights([]int{3}, 2)))
		f.output(f.op(tflite.OpMul, &tflite.ActivationOptions{}, nhwc(4, 4, 3), a, b))
		f.output(f.op(tflite.OpMaximum, nil, nhwc(4, 4, 3), a, b))
		f.output(f.op(tflite.OpMinimum, nil, nhwc(4, 4, 3), b, f.weights([]int{1}, 1)))
		f.output(f.op(tflite.OpConcatenation, &tflite.ConcatenationOptions{Axis: 3}, nhwc(4, 4, 6), a, b))
		f.output(f.op(tflite.OpConcatenation, &tflite.ConcatenationOptions{Axis: 1}, nhwc(6, 4, 3), b, f.weights([]int{1, 2, 4, 3}, 1)))
	}
	{ // activations
		x := f.input([]int{1, 10}, 4)
		f.output(f.op(tflite.OpSoftmax, &tflite.SoftmaxOptions{Beta: 1}, []int{1, 10}, x))
		f.output(f.op(tflite.OpL2Normalization, &tflite.ActivationOptions{}, []int{1, 10}, x))
		unary(tflite.OpLogistic, nil)
		unary(tflite.OpTanh, nil)
		unary(tflite.OpHardSwish, nil)
		unary(tflite.OpRelu, nil)
		unary(tflite.OpRelu6, nil)
		unary(tflite.OpReluN1To1, nil)
		unary(tflite.OpLeakyRelu, &tflite.LeakyReluOptions{Alpha: 0.2})
	}
	{ // shapes and moves
		x := f.input(nhwc(4, 4, 2), 2)
		f.output(f.op(tflite.OpReshape, &tflite.ReshapeOptions{NewShape: []int{1, 32}}, []int{1, 32}, x, f.ints(1, 32)))
		y := f.input([]int{1, 1, 1, 10}, 2)
		f.output(f.op(tflite.OpSqueeze, &tflite.SqueezeOptions{Dims: []int{1, 2}}, []int{1, 10}, y))
		f.output(f.op(tflite.OpMean, &tflite.ReducerOptions{KeepDims: true}, nhwc(1, 1, 2), x, f.ints(1, 2)))
		f.output(f.op(tflite.OpPad, nil, nhwc(6, 6, 2), x, f.intsShaped([]int{4, 2}, 0, 0, 1, 1, 2, 0, 0, 0)))
		f.output(f.op(tflite.OpPadV2, nil, nhwc(4, 6, 2), x, f.intsShaped([]int{4, 2}, 0, 0, 0, 0, 1, 1, 0, 0), f.weights([]int{1}, 1)))
		f.output(f.op(tflite.OpTranspose, nil, []int{1, 4, 4, 2}, x, f.ints(0, 2, 1, 3)))
		f.output(f.op(tflite.OpStridedSlice, &tflite.StridedSliceOptions{}, nhwc(2, 3, 2), x, f.ints(0, 1, 0, 0), f.ints(1, 4, 3, 2), f.ints(1, 2, 1, 1)))
		f.output(f.op(tflite.OpResizeBilinear, &tflite.ResizeOptions{}, nhwc(7, 7, 2), x, f.ints(7, 7)))
		f.output(f.op(tflite.OpResizeNearestNeighbor, &tflite.ResizeOptions{HalfPixelCenters: true}, nhwc(8, 8, 2), x, f.ints(8, 8)))
		z := f.input(nhwc(3, 3, 5), 2)
		y2 := f.g.AddTensor(f.name("argmax"), tflite.Int32, []int{1, 3, 3}, nil)
		f.g.AddOp(tflite.OpArgMax, &tflite.ArgMaxOptions{OutputType: tflite.Int32}, []int{z, f.ints(3)}, []int{y2})
		f.output(y2)
	}
	return f.model(t), f
}

// TestAllOpsAgainstGoogle quantizes a float model that uses every operator
// our engine runs, with each choice of model ends, and runs the quantized
// model in our engine and in Google's runtime on the same inputs: every
// 8-bit output must agree within 1 unit (int32 outputs exactly), and the
// quantized outputs must be close to the float model's.
func TestAllOpsAgainstGoogle(t *testing.T) {
	oracle := testenv.Oracle(t)
	fm, f := allOpsModel(t)
	cal := f.samples(fm, 24)
	test := f.samples(fm, 1)
	st, err := Calibrate(fm, cal, CalibrateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ops := map[tflite.BuiltinOp]bool{}
	for _, c := range []struct {
		name   string
		o      Options
		refine bool
	}{
		{"int8_ends_minmax", Options{Input: tflite.Int8, Output: tflite.Int8}, false},
		{"uint8_ends_mse_per_channel_fc_refined", Options{Input: tflite.Uint8, Output: tflite.Uint8, Method: MSE, PerChannelFC: true}, true},
		{"float_ends_percentile", Options{Input: tflite.Float32, Output: tflite.Float32, Method: Percentile}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			qm, err := Quantize(fm, st, c.o)
			if err != nil {
				t.Fatal(err)
			}
			if c.refine {
				if qm, err = Refine(fm, qm, cal, RefineOptions{}); err != nil {
					t.Fatal(err)
				}
			}
			qm = roundTrip(t, qm)
			for _, op := range qm.Main().Operators {
				ops[op.Op] = true
			}
			ins := inputBytes(t, qm, test, 0)
			ours := run(t, qm, ins)
			theirs, err := runOracle(t, oracle, qm, ins)
			if err != nil {
				t.Fatal(err)
			}
			floats := run(t, fm, inputBytes(t, fm, test, 0))
			sg := qm.Main()
			differ, total := 0, 0
			for i, o := range sg.Outputs {
				def := &sg.Tensors[o]
				a, b := values(def.Type, ours[i]), values(def.Type, theirs[i])
				// Float ends dequantize an int8 tensor: compare in its steps.
				unit, tol := 1.0, 1.0
				if def.Type == tflite.Float32 {
					unit = float64(producerScale(qm, o))
				}
				if def.Type == tflite.Int32 {
					tol = 0
				}
				for k := range a {
					if a[k] != b[k] {
						differ++
					}
				}
				total += len(a)
				if d := maxDiff(a, b) / unit; d > tol+1e-6 {
					t.Errorf("output %s (%s): ours and Google's differ by %.3g units (allowed %g)", def.Name, def.Type, d, tol)
				}
				ft := fm.Main().Tensors[fm.Main().Outputs[i]].Type
				checkAccuracy(t, def, a, values(ft, floats[i]), ft)
			}
			t.Logf("%d outputs: %d of %d values differ from Google's runtime (by 1 unit)", len(sg.Outputs), differ, total)
		})
	}
	var missing []string
	for _, op := range tflite.SupportedOps() {
		if !ops[op] {
			missing = append(missing, op.String())
		}
	}
	if missing != nil {
		t.Errorf("the quantized test models do not use %v", missing)
	}
}

// producerScale is the scale of the int8 tensor DEQUANTIZE turns into
// float output o.
func producerScale(m *tflite.Model, o int) float32 {
	for _, op := range m.Main().Operators {
		if op.Outputs[0] == o {
			return m.Main().Tensors[op.Inputs[0]].Quant.Scale[0]
		}
	}
	return 1
}

// accuracyTolerance bounds the error of a quantized output against the
// float model, as a fraction of the float output's range: single operators
// on 8-bit inputs stay well inside it.
const accuracyTolerance = 0.04

// checkAccuracy compares quantized output values q (raw, of def) with the
// float model's output f.
func checkAccuracy(t *testing.T, def *tflite.TensorDef, q, f []float64, floatType tflite.TensorType) {
	t.Helper()
	if floatType != tflite.Float32 {
		if slices.Compare(q, f) != 0 && def.Type == tflite.Int32 {
			// ARG_MAX of quantized values may pick another index where the
			// float values nearly tie; count those.
			n := 0
			for i := range q {
				if q[i] != f[i] {
					n++
				}
			}
			if n > len(q)/4 {
				t.Errorf("output %s: %d of %d indices differ from the float model", def.Name, n, len(q))
			}
		}
		return
	}
	real := q
	if def.Quant != nil {
		real = make([]float64, len(q))
		for i, v := range q {
			real[i] = float64(def.Quant.Scale[0]) * (v - float64(def.Quant.ZeroPoint[0]))
		}
	}
	lo, hi := slices.Min(f), slices.Max(f)
	rng := max(hi-lo, 1e-6)
	if d := maxDiff(real, f); d > accuracyTolerance*rng {
		t.Errorf("output %s: quantized differs from float by %.4g, %.1f%% of the range %.4g (allowed %.0f%%)", def.Name, d, 100*d/rng, rng, 100*accuracyTolerance)
	}
}

// TestEveryEngineOperatorHasARule: the quantizer handles every operator our
// engine runs, but the QUANTIZE and DEQUANTIZE it writes itself.
func TestEveryEngineOperatorHasARule(t *testing.T) {
	ours := map[tflite.BuiltinOp]bool{}
	for _, op := range SupportedOps() {
		ours[op] = true
	}
	for _, op := range tflite.SupportedOps() {
		if !ours[op] && op != tflite.OpQuantize && op != tflite.OpDequantize {
			t.Errorf("the engine runs %s, the quantizer has no rule for it", op)
		}
	}
}
