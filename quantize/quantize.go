// Package quantize turns float .tflite models into full-integer ones by
// post-training quantization, following the TFLite quantization spec: int8
// weights (per output channel for convolutions), int8 activations with
// ranges calibrated on representative inputs run through our engine, int32
// biases. The result is a *tflite.Model that our engine and Google's runtime
// both run.
//
// The steps are Calibrate (statistics of every activation over a data set),
// Quantize (the rewritten model), Compare (accuracy and per-layer error of
// the two models on the same inputs) and CheckEdgeTPU (which operators the
// Edge TPU compiler would leave to the CPU).
package quantize

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"
	"strings"

	"github.com/edgeclass/edgeclass/tflite"
)

// DefaultPercentile is the percentile the Percentile method uses unless told
// otherwise.
const DefaultPercentile = 99.99

// Options configure Quantize.
type Options struct {
	Method     Method
	Percentile float64 // of the Percentile method; 0 means DefaultPercentile
	// Input and Output are the types of the model's ends: Int8, Uint8, or
	// Float32 (a QUANTIZE operator after the input and a DEQUANTIZE before
	// the output). Uint8 ends are converted to int8 inside by QUANTIZE
	// operators, as TensorFlow's converter does.
	Input, Output tflite.TensorType
	// PerChannelFC quantizes FULLY_CONNECTED weights per output channel
	// (per tensor otherwise, as the spec's reference choice).
	PerChannelFC bool
}

// Int8Suffix ends the name of the int8 tensor inside a model end whose type
// is float32 or uint8; the end keeps the float model's name.
const Int8Suffix = "_int8"

// rule says how an operator's tensors are quantized.
type rule int

const (
	// ruleWeights: CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED: int8
	// weights, int32 bias, calibrated output.
	ruleWeights rule = iota
	// ruleCalibrated: the output gets its calibrated range; float
	// constant inputs get their own per-tensor parameters.
	ruleCalibrated
	// ruleSame: the output shares input 0's parameters (the kernels move
	// bytes without rescaling).
	ruleSame
	// ruleShared: inputs and output share parameters; inputs that differ
	// are requantized by a QUANTIZE operator.
	ruleShared
	// ruleFixed: the kernel requires fixed output parameters.
	ruleFixed
	// ruleIndex: integer output (ARG_MAX), left as it is.
	ruleIndex
)

var rules = map[tflite.BuiltinOp]rule{
	tflite.OpConv2D:                ruleWeights,
	tflite.OpDepthwiseConv2D:       ruleWeights,
	tflite.OpFullyConnected:        ruleWeights,
	tflite.OpAdd:                   ruleCalibrated,
	tflite.OpSub:                   ruleCalibrated,
	tflite.OpMul:                   ruleCalibrated,
	tflite.OpMean:                  ruleCalibrated,
	tflite.OpRelu:                  ruleCalibrated,
	tflite.OpRelu6:                 ruleCalibrated,
	tflite.OpReluN1To1:             ruleCalibrated,
	tflite.OpLeakyRelu:             ruleCalibrated,
	tflite.OpHardSwish:             ruleCalibrated,
	tflite.OpAveragePool2D:         ruleSame,
	tflite.OpMaxPool2D:             ruleSame,
	tflite.OpReshape:               ruleSame,
	tflite.OpSqueeze:               ruleSame,
	tflite.OpPad:                   ruleSame,
	tflite.OpPadV2:                 ruleSame,
	tflite.OpTranspose:             ruleSame,
	tflite.OpStridedSlice:          ruleSame,
	tflite.OpResizeBilinear:        ruleSame,
	tflite.OpResizeNearestNeighbor: ruleSame,
	tflite.OpConcatenation:         ruleShared,
	tflite.OpMaximum:               ruleShared,
	tflite.OpMinimum:               ruleShared,
	tflite.OpSoftmax:               ruleFixed,
	tflite.OpLogistic:              ruleFixed,
	tflite.OpTanh:                  ruleFixed,
	tflite.OpL2Normalization:       ruleFixed,
	tflite.OpArgMax:                ruleIndex,
}

// fixedOutput are the output parameters of ruleFixed operators.
var fixedOutput = map[tflite.BuiltinOp]affine{
	tflite.OpSoftmax:         softmaxOut,
	tflite.OpLogistic:        softmaxOut,
	tflite.OpTanh:            tanhOut,
	tflite.OpL2Normalization: tanhOut,
}

// SupportedOps lists the operators Quantize handles.
func SupportedOps() []tflite.BuiltinOp {
	var ops []tflite.BuiltinOp
	for op := range rules {
		ops = append(ops, op)
	}
	slices.Sort(ops)
	return ops
}

// Check reports whether Quantize can handle model m: a float model of one
// graph whose operators all have a quantization rule. The error names every
// operator it cannot handle.
func Check(m *tflite.Model) error {
	if len(m.Subgraphs) != 1 {
		return fmt.Errorf("the model has %d subgraphs; the quantizer handles models of one graph", len(m.Subgraphs))
	}
	sg := m.Main()
	var missing []string
	for i, op := range sg.Operators {
		if _, ok := rules[op.Op]; !ok || op.Op == tflite.OpCustom {
			name := op.Op.String()
			if op.Op == tflite.OpCustom {
				name = "CUSTOM(" + op.Custom + ")"
			}
			missing = append(missing, fmt.Sprintf("%s (operator %d)", name, i))
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("the quantizer does not handle these operators: %s", strings.Join(missing, ", "))
	}
	for i, t := range sg.Inputs {
		if typ := sg.Tensors[t].Type; typ != tflite.Float32 {
			return fmt.Errorf("input %d (%s) is %s: the quantizer takes float32 models", i, sg.Tensors[t].Name, typ)
		}
	}
	for i, t := range sg.Tensors {
		if t.IsVariable {
			return fmt.Errorf("tensor %d (%s) is a variable; the quantizer handles stateless models", i, t.Name)
		}
		if t.Quant != nil && len(m.Buffers[t.Buffer]) == 0 {
			return fmt.Errorf("tensor %d (%s) is already quantized (%s): quantize the float model", i, t.Name, t.Type)
		}
	}
	return nil
}

// Quantize returns the full-integer version of float model m, with the
// activation ranges of st (from Calibrate on m). Tensors keep their names
// and, where they exist in both, their indices.
func Quantize(m *tflite.Model, st *Stats, o Options) (*tflite.Model, error) {
	if err := Check(m); err != nil {
		return nil, err
	}
	for _, end := range []tflite.TensorType{o.Input, o.Output} {
		switch end {
		case tflite.Float32, tflite.Int8, tflite.Uint8:
		default:
			return nil, fmt.Errorf("end type %s: want float32, int8 or uint8", end)
		}
	}
	if o.Percentile == 0 {
		o.Percentile = DefaultPercentile
	}
	if o.Method == Percentile && !(o.Percentile > 50 && o.Percentile <= 100) {
		return nil, fmt.Errorf("percentile %g is outside (50, 100]", o.Percentile)
	}
	r := newRewriter(m, st, o)
	if err := r.run(); err != nil {
		return nil, err
	}
	return r.model(), nil
}

// rewriter builds the quantized graph. Tensors of the float graph keep their
// index; new tensors (quantized constants, end conversions, requantized
// inputs) are appended, and unused ones are dropped at the end.
type rewriter struct {
	src  *tflite.Model
	sg   *tflite.Subgraph
	st   *Stats
	o    Options
	ts   []tflite.TensorDef
	data map[int][]byte // constant data of new tensors, by index
	ops  []tflite.Operator

	act    map[int]int       // float tensor -> its int8 tensor
	params map[int]affine    // int8 tensor -> its parameters
	consts map[string]int    // quantized constants already made
	outs   map[int]bool      // graph outputs
	ends   []tflite.Operator // output conversions, appended last
}

func newRewriter(m *tflite.Model, st *Stats, o Options) *rewriter {
	sg := m.Main()
	r := &rewriter{src: m, sg: sg, st: st, o: o, data: map[int][]byte{},
		act: map[int]int{}, params: map[int]affine{},
		consts: map[string]int{}, outs: map[int]bool{}}
	r.ts = make([]tflite.TensorDef, len(sg.Tensors))
	for i, t := range sg.Tensors {
		r.ts[i] = tflite.TensorDef{Name: t.Name, Type: t.Type, Shape: slices.Clone(t.Shape),
			ShapeSignature: slices.Clone(t.ShapeSignature)}
	}
	for _, t := range sg.Outputs {
		r.outs[t] = true
	}
	return r
}

func (r *rewriter) run() error {
	for i, t := range r.sg.Inputs {
		if r.outs[t] {
			return fmt.Errorf("input %d (%s) is also a graph output", i, r.sg.Tensors[t].Name)
		}
		if err := r.input(t, i); err != nil {
			return err
		}
	}
	for i := range r.sg.Operators {
		op := &r.sg.Operators[i]
		if err := r.operator(op); err != nil {
			return fmt.Errorf("operator %d (%s): %w", i, op.Op, err)
		}
	}
	for _, t := range r.sg.Outputs {
		r.output(t)
	}
	r.ops = append(r.ops, r.ends...)
	return nil
}

// calibrated returns the parameters of float activation t from its
// statistics.
func (r *rewriter) calibrated(t int) (affine, error) {
	s := r.st.Tensors[t]
	if s == nil {
		return affine{}, fmt.Errorf("tensor %d (%s) has no calibration statistics (were they made on this model?)", t, r.sg.Tensors[t].Name)
	}
	if s.Count == 0 {
		return affine{}, fmt.Errorf("tensor %d (%s) has no calibration values", t, r.sg.Tensors[t].Name)
	}
	return activationParams(s.Range(r.o.Method, r.o.Percentile)), nil
}

// input quantizes graph input t (input number i).
func (r *rewriter) input(t, i int) error {
	p, ok := r.pixelParams(t, i)
	if !ok {
		var err error
		if p, err = r.calibrated(t); err != nil {
			return err
		}
	}
	switch r.o.Input {
	case tflite.Int8:
		r.setInt8(t, p)
		r.act[t] = t
	case tflite.Uint8:
		r.ts[t].Type = tflite.Uint8
		r.ts[t].Quant = perTensor(p.scale, p.zp+128)
		r.act[t] = r.convert(t, p)
	case tflite.Float32:
		r.act[t] = r.convert(t, p)
	}
	return nil
}

// convert adds the int8 twin of input end t and the QUANTIZE that fills it
// from t.
func (r *rewriter) convert(t int, p affine) int {
	q := r.newTensor(r.ts[t].Name+Int8Suffix, r.ts[t].Shape)
	r.setInt8(q, p)
	r.ops = append(r.ops, tflite.Operator{Op: tflite.OpQuantize, Version: 1, Inputs: []int{t}, Outputs: []int{q}})
	return q
}

// pixelParams returns, for an image input whose normalization maps pixels
// affinely with one mean and standard deviation, the parameters under which
// raw pixels are the quantized values (scale 1/std, zero point mean), which
// is what camera.InputSpec feeds 8-bit models. The calibration values must
// lie within the normalized pixel range: otherwise the input is not pixels.
func (r *rewriter) pixelParams(t, i int) (affine, bool) {
	s := r.sg.Tensors[t].Shape
	if i != 0 || len(s) != 4 || s[0] != 1 || (s[3] != 3 && s[3] != 1) {
		return affine{}, false
	}
	mean, std := float32(127.5), float32(127.5) // camera.SpecFor's default
	if info := r.src.Info; info != nil && len(info.Inputs) > 0 {
		in := info.Inputs[0]
		if len(in.Mean) > 0 {
			mean = in.Mean[0]
		}
		if len(in.Std) > 0 {
			std = in.Std[0]
		}
		for _, v := range in.Mean {
			if v != mean {
				return affine{}, false
			}
		}
		for _, v := range in.Std {
			if v != std {
				return affine{}, false
			}
		}
	}
	zp := math.Round(float64(mean))
	if !(std > 0) || zp < 0 || zp > 255 {
		return affine{}, false
	}
	p := affine{scale: 1 / float64(std), zp: int32(zp) - 128}
	lo, hi := p.bounds()
	st := r.st.Tensors[t]
	if slack := (hi - lo) / 255; st == nil || st.Min < lo-slack || st.Max > hi+slack {
		return affine{}, false
	}
	return p, true
}

// output converts graph output t to the output type.
func (r *rewriter) output(t int) {
	a, ok := r.act[t]
	if !ok || a == t {
		return // an int8 end, or not a float tensor (ARG_MAX)
	}
	p := r.params[a]
	switch r.o.Output {
	case tflite.Uint8:
		r.ts[t].Type = tflite.Uint8
		r.ts[t].Quant = perTensor(p.scale, p.zp+128)
		r.ends = append(r.ends, tflite.Operator{Op: tflite.OpQuantize, Version: 1, Inputs: []int{a}, Outputs: []int{t}})
	case tflite.Float32:
		r.ends = append(r.ends, tflite.Operator{Op: tflite.OpDequantize, Version: 2, Inputs: []int{a}, Outputs: []int{t}})
	}
}

// result returns the int8 tensor that will hold float output t, with
// parameters p.
func (r *rewriter) result(t int, p affine) int {
	q := t
	if r.outs[t] && r.o.Output != tflite.Int8 {
		q = r.newTensor(r.ts[t].Name+Int8Suffix, r.ts[t].Shape)
	}
	r.setInt8(q, p)
	r.act[t] = q
	return q
}

func (r *rewriter) operator(op *tflite.Operator) error {
	out := slices.Clone(op.Outputs)
	in := slices.Clone(op.Inputs)
	if len(out) != 1 {
		return fmt.Errorf("has %d outputs, want 1", len(out))
	}
	if len(in) == 0 {
		return fmt.Errorf("has no inputs")
	}
	switch rules[op.Op] {
	case ruleWeights:
		var err error
		if in, err = r.weights(op, in); err != nil {
			return err
		}
		p, err := r.calibrated(out[0])
		if err != nil {
			return err
		}
		out[0] = r.result(out[0], p)
	case ruleCalibrated:
		p, err := r.calibrated(out[0])
		if err != nil {
			return err
		}
		for i, t := range in {
			if t < 0 {
				continue
			}
			if in[i], err = r.operand(t, p.scale/256); err != nil {
				return err
			}
		}
		out[0] = r.result(out[0], p)
	case ruleSame:
		a, err := r.operand(in[0], 0)
		if err != nil {
			return err
		}
		in[0] = a
		p := r.params[a]
		for i := 1; i < len(in); i++ {
			if vals, ok := r.floatConst(in[i]); ok { // PADV2's constant value
				in[i] = r.constInt8(in[i], vals, p)
			} else if in[i] >= 0 {
				in[i] = r.raw(in[i])
			}
		}
		out[0] = r.result(out[0], p)
	case ruleShared:
		p, err := r.sharedParams(in, out[0])
		if err != nil {
			return err
		}
		for i, t := range in {
			if t < 0 {
				continue
			}
			if vals, ok := r.floatConst(t); ok {
				in[i] = r.constInt8(t, vals, p)
				continue
			}
			a, err := r.operand(t, 0)
			if err != nil {
				return err
			}
			if r.params[a] != p {
				req := r.newTensor(r.ts[a].Name+"_requant", r.ts[a].Shape)
				r.setInt8(req, p)
				r.ops = append(r.ops, tflite.Operator{Op: tflite.OpQuantize, Version: 1, Inputs: []int{a}, Outputs: []int{req}})
				a = req
			}
			in[i] = a
		}
		out[0] = r.result(out[0], p)
	case ruleFixed:
		a, err := r.operand(in[0], 0)
		if err != nil {
			return err
		}
		in[0] = a
		out[0] = r.result(out[0], fixedOutput[op.Op])
	case ruleIndex:
		a, err := r.operand(in[0], 0)
		if err != nil {
			return err
		}
		in[0] = a
		for i := 1; i < len(in); i++ {
			in[i] = r.raw(in[i])
		}
	}
	q := tflite.Operator{Op: op.Op, Version: op.Version, Inputs: in, Outputs: out, Options: op.Options}
	q.Version = max(op.Version, r.int8Version(&q))
	r.ops = append(r.ops, q)
	return nil
}

// sharedParams chooses the common parameters of a ruleShared operator: those
// of its activation inputs when they agree, the output's calibrated ones
// otherwise.
func (r *rewriter) sharedParams(in []int, out int) (affine, error) {
	var common *affine
	for _, t := range in {
		a, ok := r.act[t]
		if !ok {
			continue
		}
		p := r.params[a]
		if common != nil && *common != p {
			return r.calibrated(out)
		}
		common = &p
	}
	if common != nil {
		return *common, nil
	}
	return r.calibrated(out)
}

// operand returns the int8 tensor of input t: its quantized activation, or,
// for a float constant, a per-tensor quantization of it whose scale is at
// least minScale.
func (r *rewriter) operand(t int, minScale float64) (int, error) {
	if t < 0 {
		return t, nil
	}
	if a, ok := r.act[t]; ok {
		return a, nil
	}
	if vals, ok := r.floatConst(t); ok {
		lo, hi := 0.0, 0.0
		for _, v := range vals {
			lo, hi = min(lo, float64(v)), max(hi, float64(v))
		}
		p := activationParams(lo, hi)
		if p.scale < minScale {
			// ADD and SUB rescale inputs to the output by ratios of at least
			// 2^-10: widen a tiny constant's range.
			k := minScale / p.scale
			p = activationParams(lo*k, hi*k)
		}
		return r.constInt8(t, vals, p), nil
	}
	if r.sg.Tensors[t].Type != tflite.Float32 {
		return r.raw(t), nil
	}
	return 0, fmt.Errorf("input tensor %d (%s) has no value", t, r.sg.Tensors[t].Name)
}

// weights returns the inputs of a CONV_2D, DEPTHWISE_CONV_2D or
// FULLY_CONNECTED with its filter and bias quantized. A missing bias becomes
// zeros: TFLite's quantized CONV_2D requires one, and Refine corrects it.
func (r *rewriter) weights(op *tflite.Operator, in []int) ([]int, error) {
	a, err := r.operand(in[0], 0)
	if err != nil {
		return nil, err
	}
	in[0] = a
	inScale := r.params[a].scale
	if len(in) < 2 {
		return nil, fmt.Errorf("has no weights")
	}
	f := in[1]
	w, ok := r.floatConst(f)
	if !ok {
		return nil, fmt.Errorf("weights (tensor %d, %s) are not a float constant", f, r.sg.Tensors[f].Name)
	}
	shape := r.sg.Tensors[f].Shape
	var channels, dim int
	var channelOf func(i int) int
	switch {
	case op.Op == tflite.OpDepthwiseConv2D && len(shape) == 4:
		channels, dim = shape[3], 3
		channelOf = func(i int) int { return i % channels }
	case op.Op == tflite.OpFullyConnected && !r.o.PerChannelFC && len(shape) == 2:
		channels = 1
		channelOf = func(int) int { return 0 }
	case len(shape) >= 2 && shape[0] > 0:
		channels = shape[0]
		per := len(w) / channels
		channelOf = func(i int) int { return i / per }
	default:
		return nil, fmt.Errorf("weights have shape %v", shape)
	}
	outC := shape[0]
	if op.Op == tflite.OpDepthwiseConv2D {
		outC = shape[len(shape)-1]
	}
	var bias []float32
	if len(in) > 2 && in[2] >= 0 {
		if bias, ok = r.floatConst(in[2]); !ok {
			return nil, fmt.Errorf("bias (tensor %d, %s) is not a float constant", in[2], r.sg.Tensors[in[2]].Name)
		}
		if len(bias) != outC {
			return nil, fmt.Errorf("bias has %d values for %d channels", len(bias), outC)
		}
	} else {
		bias = make([]float32, outC)
		b := r.newTensor(r.ts[f].Name+"_bias", []int{outC})
		r.ts[b].Type = tflite.Int32
		in = append(in[:min(len(in), 2)], b)
	}
	b := in[2]
	qw, scales := symmetricWeights(w, channels, channelOf, bias, inScale)
	wq := &tflite.Quantization{Dim: dim}
	for _, s := range scales {
		wq.Scale = append(wq.Scale, float32(s))
		wq.ZeroPoint = append(wq.ZeroPoint, 0)
	}
	in[1] = r.newConst(f, tflite.Int8, wq, int8Bytes(qw))
	// The bias scale is computed from the float32 scales the file stores,
	// as the runtime will.
	ws := make([]float64, len(scales))
	for i, s := range wq.Scale {
		ws[i] = float64(s)
	}
	inScale32 := float64(float32(inScale))
	qb, err := quantizeBias(bias, inScale32, ws)
	if err != nil {
		return nil, err
	}
	bq := &tflite.Quantization{}
	for _, s := range ws {
		bq.Scale = append(bq.Scale, float32(inScale32*s))
		bq.ZeroPoint = append(bq.ZeroPoint, 0)
	}
	in[2] = r.newConst(b, tflite.Int32, bq, int32Bytes(qb))
	return in, nil
}

// floatConst returns the values of t when it is a float constant.
func (r *rewriter) floatConst(t int) ([]float32, bool) {
	if t < 0 {
		return nil, false
	}
	return floatValues(r.src, t)
}

// raw gives a non-float tensor (shapes, axes, paddings) its data as it is.
func (r *rewriter) raw(t int) int {
	if t < 0 {
		return t
	}
	if data := r.src.Buffers[r.sg.Tensors[t].Buffer]; len(data) > 0 {
		r.data[t] = data
	}
	return t
}

// constInt8 returns a tensor holding float constant t quantized with p.
func (r *rewriter) constInt8(t int, vals []float32, p affine) int {
	q := make([]int8, len(vals))
	for i, v := range vals {
		q[i] = p.quantize(float64(v))
	}
	return r.newConst(t, tflite.Int8, perTensor(p.scale, p.zp), int8Bytes(q))
}

// newConst adds a constant with t's name and shape, or returns an identical
// one made before.
func (r *rewriter) newConst(t int, typ tflite.TensorType, q *tflite.Quantization, data []byte) int {
	key := fmt.Sprint(t, typ, q.Scale, q.ZeroPoint, q.Dim, string(data))
	if c, ok := r.consts[key]; ok {
		return c
	}
	c := r.newTensor(r.ts[t].Name, r.ts[t].Shape)
	r.ts[c].Type, r.ts[c].Quant = typ, q
	r.data[c] = data
	if typ == tflite.Int8 && len(q.Scale) == 1 {
		r.params[c] = affine{scale: float64(q.Scale[0]), zp: int32(q.ZeroPoint[0])}
	}
	r.consts[key] = c
	return c
}

func (r *rewriter) newTensor(name string, shape []int) int {
	r.ts = append(r.ts, tflite.TensorDef{Name: name, Type: tflite.Float32, Shape: slices.Clone(shape)})
	return len(r.ts) - 1
}

func (r *rewriter) setInt8(t int, p affine) {
	r.ts[t].Type = tflite.Int8
	r.ts[t].Quant = perTensor(p.scale, p.zp)
	r.params[t] = p
}

// perTensor makes per-tensor parameters; the scale is rounded to float32
// once, here, so that the file and every computation agree.
func perTensor(scale float64, zp int32) *tflite.Quantization {
	return &tflite.Quantization{Scale: []float32{float32(scale)}, ZeroPoint: []int64{int64(zp)}}
}

// model assembles the quantized model, one buffer per constant, without
// the tensors nothing uses.
func (r *rewriter) model() *tflite.Model {
	m := &tflite.Model{Version: 3, Description: "edgeclass quantize (full integer)", Buffers: [][]byte{nil},
		Info: r.src.Info, Files: r.src.Files}
	sg := tflite.Subgraph{Name: r.sg.Name, Tensors: r.ts, Inputs: r.sg.Inputs, Outputs: r.sg.Outputs, Operators: r.ops}
	for i := range sg.Tensors {
		if data, ok := r.data[i]; ok {
			m.Buffers = append(m.Buffers, data)
			sg.Tensors[i].Buffer = len(m.Buffers) - 1
		}
	}
	m.Subgraphs = []tflite.Subgraph{sg}
	for _, s := range r.src.Signatures {
		if s.Subgraph == 0 {
			m.Signatures = append(m.Signatures, s)
		}
	}
	return compact(m)
}

// compact returns m without the tensors no operator, input or output uses,
// nor the buffers no tensor uses (a new model: its own cache of prepared
// weights).
func compact(m *tflite.Model) *tflite.Model {
	src := m.Main()
	used := make([]bool, len(src.Tensors))
	for _, t := range append(slices.Clone(src.Inputs), src.Outputs...) {
		used[t] = true
	}
	for _, op := range src.Operators {
		for _, t := range append(slices.Clone(op.Inputs), op.Outputs...) {
			if t >= 0 {
				used[t] = true
			}
		}
	}
	out := withBuffers(m, [][]byte{nil})
	sg := tflite.Subgraph{Name: src.Name}
	index := make([]int, len(src.Tensors))
	bufIndex := map[int]int{}
	for i, t := range src.Tensors {
		index[i] = -1
		if !used[i] {
			continue
		}
		index[i] = len(sg.Tensors)
		if t.Buffer != 0 && len(m.Buffers[t.Buffer]) > 0 {
			b, ok := bufIndex[t.Buffer]
			if !ok {
				out.Buffers = append(out.Buffers, m.Buffers[t.Buffer])
				b = len(out.Buffers) - 1
				bufIndex[t.Buffer] = b
			}
			t.Buffer = b
		} else {
			t.Buffer = 0
		}
		sg.Tensors = append(sg.Tensors, t)
	}
	remap := func(ts []int) []int {
		out := make([]int, len(ts))
		for i, t := range ts {
			out[i] = t
			if t >= 0 {
				out[i] = index[t]
			}
		}
		return out
	}
	sg.Inputs, sg.Outputs = remap(src.Inputs), remap(src.Outputs)
	for _, op := range src.Operators {
		op.Inputs, op.Outputs = remap(op.Inputs), remap(op.Outputs)
		sg.Operators = append(sg.Operators, op)
	}
	out.Subgraphs = []tflite.Subgraph{sg}
	out.Metadata, out.Signatures = nil, nil
	for _, s := range m.Signatures {
		s2 := tflite.Signature{Key: s.Key, Subgraph: s.Subgraph}
		ok := true
		for _, part := range []struct{ from, to *[]tflite.SignatureTensor }{{&s.Inputs, &s2.Inputs}, {&s.Outputs, &s2.Outputs}} {
			for _, st := range *part.from {
				if index[st.Tensor] < 0 {
					ok = false
				}
				*part.to = append(*part.to, tflite.SignatureTensor{Name: st.Name, Tensor: index[st.Tensor]})
			}
		}
		if ok {
			out.Signatures = append(out.Signatures, s2)
		}
	}
	return out
}

// int8Version is the operator version TensorFlow's converter gives the int8
// form of op (tensorflow/lite/tools/versioning/op_version.cc): runtimes and
// the Edge TPU compiler check it.
func (r *rewriter) int8Version(op *tflite.Operator) int {
	in0 := r.ts[op.Inputs[0]]
	switch op.Op {
	case tflite.OpConv2D, tflite.OpDepthwiseConv2D:
		return 3
	case tflite.OpFullyConnected:
		if len(op.Inputs) < 3 || op.Inputs[2] < 0 {
			return 6
		}
		if o, ok := op.Options.(*tflite.FullyConnectedOptions); ok && o.KeepNumDims {
			return 5
		}
		return 4
	case tflite.OpMul:
		s1, s2, so := r.params[op.Inputs[0]].scale, r.params[op.Inputs[1]].scale, r.params[op.Outputs[0]].scale
		if s1*s2/so >= 1 {
			return 3
		}
		return 2
	case tflite.OpTranspose, tflite.OpPad, tflite.OpPadV2:
		if len(in0.Shape) > 4 {
			return 4
		}
		return 2
	case tflite.OpStridedSlice:
		if o, ok := op.Options.(*tflite.StridedSliceOptions); ok && o.Offset {
			return 8
		}
		if len(in0.Shape) > 4 {
			return 4
		}
		return 2
	case tflite.OpResizeBilinear:
		if o, ok := op.Options.(*tflite.ResizeOptions); ok && o.HalfPixelCenters {
			return 3
		}
		return 2
	case tflite.OpResizeNearestNeighbor:
		if o, ok := op.Options.(*tflite.ResizeOptions); ok && (o.HalfPixelCenters || o.AlignCorners) {
			return 3
		}
		return 2
	case tflite.OpSub, tflite.OpMaximum, tflite.OpMinimum:
		if len(op.Inputs) == 2 && !slices.Equal(in0.Shape, r.ts[op.Inputs[1]].Shape) &&
			max(len(in0.Shape), len(r.ts[op.Inputs[1]].Shape)) > 4 {
			return 3
		}
		return 2
	case tflite.OpAdd, tflite.OpAveragePool2D, tflite.OpMaxPool2D, tflite.OpSoftmax, tflite.OpMean,
		tflite.OpRelu, tflite.OpRelu6, tflite.OpLogistic, tflite.OpTanh, tflite.OpConcatenation,
		tflite.OpL2Normalization, tflite.OpArgMax:
		return 2
	}
	return 1
}

func int8Bytes(v []int8) []byte {
	b := make([]byte, len(v))
	for i, x := range v {
		b[i] = byte(x)
	}
	return b
}

func int32Bytes(v []int32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], uint32(x))
	}
	return b
}
