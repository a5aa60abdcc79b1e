package tflite

import (
	"fmt"
	"math"
	"slices"
)

// The models of the oracle tests: every operator the engine registers, in
// float32, uint8 and int8, with the variants where kernels take different
// paths.

// oracleCases lists every test model.
func oracleCases() []oracleCase {
	var cases []oracleCase
	for _, typ := range []TensorType{Float32, Uint8, Int8} {
		add := func(name string, vs []variant) {
			cases = append(cases, oracleCase{name: name + "/" + typ.String(), typ: typ, variants: vs})
		}
		add("CONV_2D", convVariants(typ, false))
		add("DEPTHWISE_CONV_2D", depthwiseVariants(typ, false))
		add("FULLY_CONNECTED", fcVariants(typ, false))
		if typ == Int8 {
			add("CONV_2D_per_axis", convVariants(typ, true))
			add("DEPTHWISE_CONV_2D_per_axis", depthwiseVariants(typ, true))
			add("FULLY_CONNECTED_per_axis", fcVariants(typ, true))
		}
		add("POOL_2D", poolVariants())
		for _, op := range []BuiltinOp{OpAdd, OpSub, OpMul} {
			add(op.String(), arithVariants(op, typ))
		}
		add("MAXIMUM_MINIMUM", maxMinVariants())
		add("SOFTMAX", softmaxVariants())
		add("ACTIVATIONS", activationVariants())
		add("RESHAPE_SQUEEZE", reshapeVariants())
		add("MEAN", meanVariants())
		add("CONCATENATION", concatVariants(typ))
		add("PAD", padVariants())
		add("TRANSPOSE", transposeVariants())
		add("STRIDED_SLICE", stridedSliceVariants())
		add("RESIZE", resizeVariants())
		add("L2_NORMALIZATION", l2normVariants())
		add("ARG_MAX", argMaxVariants())
	}
	cases = append(cases, oracleCase{name: "QUANTIZE_DEQUANTIZE/mixed", variants: quantizeVariants()})
	return cases
}

func convOut(pad Padding, in, k, s, d int) int {
	o, _, err := convOutSize(pad, in, k, s, d)
	if err != nil {
		panic(err)
	}
	return o
}

// accScale is an output scale that holds about three standard deviations
// of a sum of k products of random 8-bit values.
func accScale(inScale, wScale float32, k int) float32 {
	return inScale * wScale * 74 * 74 * float32(math.Sqrt(float64(k))) * 3 / 128
}

// weights adds a random filter of the variant's type and returns it with
// its scale(s); per-axis weights vary their scale along dim.
func (b *vb) weights(shape []int, dim int, perAxis bool) (int, []float32) {
	switch b.typ {
	case Float32:
		return b.random(Float32, shape, nil), nil
	case Uint8:
		return b.random(Uint8, shape, PerTensor(0.01, 131)), []float32{0.01}
	}
	if !perAxis {
		return b.random(Int8, shape, PerTensor(0.01, 0)), []float32{0.01}
	}
	n := shape[dim]
	q := &Quantization{Scale: make([]float32, n), ZeroPoint: make([]int64, n), Dim: dim}
	for i := range q.Scale {
		q.Scale[i] = 0.004 + 0.012*b.r.Float32()
	}
	return b.random(Int8, shape, q), q.Scale
}

// bias adds a random bias for n outputs: float, or int32 with the scales
// in*w[o].
func (b *vb) bias(n int, inScale float32, wScales []float32) int {
	if b.typ == Float32 {
		return b.random(Float32, []int{n}, nil)
	}
	q := &Quantization{Scale: make([]float32, len(wScales)), ZeroPoint: make([]int64, len(wScales))}
	for i, s := range wScales {
		q.Scale[i] = inScale * s
	}
	return b.random(Int32, []int{n}, q)
}

func meanScale(s []float32) float32 {
	var sum float32
	for _, v := range s {
		sum += v
	}
	return sum / float32(len(s))
}

type convSpec struct {
	name                       string
	in                         []int
	oc, kh, kw, sh, sw, dh, dw int
	pad                        Padding
	act                        Activation
	noBias                     bool
	depthwise                  bool // oc is then the depth multiplier
}

// conv adds a CONV_2D or DEPTHWISE_CONV_2D.
func (b *vb) conv(s convSpec, perAxis bool) {
	const inScale, inZP = 0.05, 120
	x := b.input(b.typ, s.in, qp(b.typ, inScale, inZP), 1)
	ic := s.in[3]
	oh := convOut(s.pad, s.in[1], s.kh, s.sh, s.dh)
	ow := convOut(s.pad, s.in[2], s.kw, s.sw, s.dw)
	var w, oc, k int
	var ws []float32
	if s.depthwise {
		oc, k = ic*s.oc, s.kh*s.kw
		w, ws = b.weights([]int{1, s.kh, s.kw, oc}, 3, perAxis)
	} else {
		oc, k = s.oc, s.kh*s.kw*ic
		w, ws = b.weights([]int{oc, s.kh, s.kw, ic}, 0, perAxis)
	}
	ins := []int{x, w}
	if !s.noBias {
		ins = append(ins, b.bias(oc, inScale, ws))
	}
	var outQ *Quantization
	if b.typ != Float32 {
		outQ = qp(b.typ, accScale(inScale, meanScale(ws), k), 125)
	}
	y := b.output(b.typ, []int{s.in[0], oh, ow, oc}, outQ)
	if s.depthwise {
		b.op(OpDepthwiseConv2D, &DepthwiseConv2DOptions{Padding: s.pad, StrideW: s.sw, StrideH: s.sh, DepthMultiplier: s.oc,
			Activation: s.act, DilationW: s.dw, DilationH: s.dh}, ins, y)
	} else {
		b.op(OpConv2D, &Conv2DOptions{Padding: s.pad, StrideW: s.sw, StrideH: s.sh, Activation: s.act,
			DilationW: s.dw, DilationH: s.dh}, ins, y)
	}
}

func convVariants(typ TensorType, perAxis bool) []variant {
	specs := []convSpec{
		{name: "7x5x3_k3_same_s1", in: []int{1, 7, 5, 3}, oc: 5, kh: 3, kw: 3, sh: 1, sw: 1, dh: 1, dw: 1, pad: PaddingSame},
		{name: "7x5x3_k3_valid_s2_relu", in: []int{1, 7, 5, 3}, oc: 8, kh: 3, kw: 3, sh: 2, sw: 2, dh: 1, dw: 1, pad: PaddingValid, act: ActRelu},
		{name: "9x9x17_k3_same_s2_relu6", in: []int{1, 9, 9, 17}, oc: 19, kh: 3, kw: 3, sh: 2, sw: 2, dh: 1, dw: 1, pad: PaddingSame, act: ActRelu6},
		{name: "8x8x6_k3_dil2_same_n1to1", in: []int{1, 8, 8, 6}, oc: 4, kh: 3, kw: 3, sh: 1, sw: 1, dh: 2, dw: 2, pad: PaddingSame, act: ActReluN1To1},
		{name: "1x1x9_k1", in: []int{1, 1, 1, 9}, oc: 7, kh: 1, kw: 1, sh: 1, sw: 1, dh: 1, dw: 1, pad: PaddingValid},
		{name: "batch2_5x5x16_pointwise", in: []int{2, 5, 5, 16}, oc: 33, kh: 1, kw: 1, sh: 1, sw: 1, dh: 1, dw: 1, pad: PaddingSame},
		{name: "6x7x4_k2x3_s2x1_dil1x2", in: []int{1, 6, 7, 4}, oc: 6, kh: 2, kw: 3, sh: 2, sw: 1, dh: 1, dw: 2, pad: PaddingSame, act: ActRelu},
		{name: "5x5x3_k5_valid_to_1x1", in: []int{1, 5, 5, 3}, oc: 10, kh: 5, kw: 5, sh: 1, sw: 1, dh: 1, dw: 1, pad: PaddingValid},
		{name: "12x12x8_k3_same_s2_even", in: []int{1, 12, 12, 8}, oc: 16, kh: 3, kw: 3, sh: 2, sw: 2, dh: 1, dw: 1, pad: PaddingSame, act: ActRelu6},
	}
	var vs []variant
	for _, s := range specs {
		vs = append(vs, variant{name: s.name, build: func(b *vb) { b.conv(s, perAxis) }})
	}
	// TFLite's CONV_2D insists on a bias; ours takes a missing one as zero.
	s := convSpec{name: "no_bias_refused_by_google", in: []int{1, 3, 3, 2}, oc: 3, kh: 1, kw: 1, sh: 1, sw: 1, dh: 1, dw: 1, noBias: true}
	vs = append(vs, variant{name: s.name, build: func(b *vb) { b.conv(s, perAxis) }, googleRejects: "has_bias was not true"})
	return vs
}

func depthwiseVariants(typ TensorType, perAxis bool) []variant {
	specs := []convSpec{
		{name: "7x5x3_k3_same_s1", in: []int{1, 7, 5, 3}, oc: 1, kh: 3, kw: 3, sh: 1, sw: 1, dh: 1, dw: 1, pad: PaddingSame},
		{name: "9x9x17_k3_same_s2_relu6", in: []int{1, 9, 9, 17}, oc: 1, kh: 3, kw: 3, sh: 2, sw: 2, dh: 1, dw: 1, pad: PaddingSame, act: ActRelu6},
		{name: "6x6x5_k3_mult2_valid_relu", in: []int{1, 6, 6, 5}, oc: 2, kh: 3, kw: 3, sh: 1, sw: 1, dh: 1, dw: 1, pad: PaddingValid, act: ActRelu},
		{name: "8x8x4_k3_dil2_same", in: []int{1, 8, 8, 4}, oc: 1, kh: 3, kw: 3, sh: 1, sw: 1, dh: 2, dw: 2, pad: PaddingSame},
		{name: "5x7x3_k5_mult3_s2_n1to1", in: []int{1, 5, 7, 3}, oc: 3, kh: 5, kw: 5, sh: 2, sw: 2, dh: 1, dw: 1, pad: PaddingSame, act: ActReluN1To1},
		{name: "1x1x8_k1_nobias", in: []int{1, 1, 1, 8}, oc: 1, kh: 1, kw: 1, sh: 1, sw: 1, dh: 1, dw: 1, pad: PaddingValid, noBias: true},
		{name: "batch2_4x4x16_k3_same", in: []int{2, 4, 4, 16}, oc: 1, kh: 3, kw: 3, sh: 1, sw: 1, dh: 1, dw: 1, pad: PaddingSame},
		{name: "10x10x32_k3_same_s2_relu6", in: []int{1, 10, 10, 32}, oc: 1, kh: 3, kw: 3, sh: 2, sw: 2, dh: 1, dw: 1, pad: PaddingSame, act: ActRelu6},
	}
	var vs []variant
	for _, s := range specs {
		s.depthwise = true
		vs = append(vs, variant{name: s.name, build: func(b *vb) { b.conv(s, perAxis) }})
	}
	return vs
}

func fcVariants(typ TensorType, perAxis bool) []variant {
	type spec struct {
		name     string
		in       []int
		n        int
		act      Activation
		noBias   bool
		keepDims bool
	}
	specs := []spec{
		{name: "1x16_to_10", in: []int{1, 16}, n: 10},
		{name: "batch3_17_to_5_relu", in: []int{3, 17}, n: 5, act: ActRelu},
		{name: "1x1x1x24_to_7_nobias", in: []int{1, 1, 1, 24}, n: 7, noBias: true},
		{name: "2x3x8_keepdims_to_6_relu6", in: []int{2, 3, 8}, n: 6, act: ActRelu6, keepDims: true},
		{name: "1x100_to_37", in: []int{1, 100}, n: 37},
	}
	var vs []variant
	for _, s := range specs {
		vs = append(vs, variant{name: s.name, build: func(b *vb) {
			const inScale = 0.05
			x := b.input(b.typ, s.in, qp(b.typ, inScale, 120), 1)
			k := s.in[len(s.in)-1]
			m := 1
			for _, d := range s.in {
				m *= d
			}
			m /= k
			w, ws := b.weights([]int{s.n, k}, 0, perAxis)
			ins := []int{x, w, -1}
			if !s.noBias {
				ins[2] = b.bias(s.n, inScale, ws)
			}
			var outQ *Quantization
			if b.typ != Float32 {
				outQ = qp(b.typ, accScale(inScale, meanScale(ws), k), 125)
			}
			shape := []int{m, s.n}
			if s.keepDims {
				shape = append(slices.Clone(s.in[:len(s.in)-1]), s.n)
			}
			y := b.output(b.typ, shape, outQ)
			b.op(OpFullyConnected, &FullyConnectedOptions{Activation: s.act, KeepNumDims: s.keepDims}, ins, y)
		}})
	}
	return vs
}

func poolVariants() []variant {
	type spec struct {
		name           string
		in             []int
		fh, fw, sh, sw int
		pad            Padding
		act            Activation
	}
	specs := []spec{
		{name: "7x5x3_f2_s2_valid", in: []int{1, 7, 5, 3}, fh: 2, fw: 2, sh: 2, sw: 2, pad: PaddingValid},
		{name: "7x5x3_f3_s2_same", in: []int{1, 7, 5, 3}, fh: 3, fw: 3, sh: 2, sw: 2, pad: PaddingSame},
		{name: "8x8x17_f3_s1_same_relu6", in: []int{1, 8, 8, 17}, fh: 3, fw: 3, sh: 1, sw: 1, pad: PaddingSame, act: ActRelu6},
		{name: "7x7x8_global", in: []int{1, 7, 7, 8}, fh: 7, fw: 7, sh: 1, sw: 1, pad: PaddingValid},
		{name: "5x4x150_f2_s1_same", in: []int{1, 5, 4, 150}, fh: 2, fw: 2, sh: 1, sw: 1, pad: PaddingSame}, // channels span three blocks
		{name: "batch2_5x6x4_f2x3_s1x2_same_relu", in: []int{2, 5, 6, 4}, fh: 2, fw: 3, sh: 1, sw: 2, pad: PaddingSame, act: ActRelu},
	}
	var vs []variant
	for _, op := range []BuiltinOp{OpAveragePool2D, OpMaxPool2D} {
		for _, s := range specs {
			vs = append(vs, variant{name: op.String() + "_" + s.name, build: func(b *vb) {
				q := qp(b.typ, 0.04, 100)
				x := b.input(b.typ, s.in, q, 5)
				oh := convOut(s.pad, s.in[1], s.fh, s.sh, 1)
				ow := convOut(s.pad, s.in[2], s.fw, s.sw, 1)
				y := b.output(b.typ, []int{s.in[0], oh, ow, s.in[3]}, q)
				b.op(op, &Pool2DOptions{Padding: s.pad, StrideW: s.sw, StrideH: s.sh, FilterW: s.fw, FilterH: s.fh, Activation: s.act}, []int{x}, y)
			}})
		}
	}
	return vs
}

func broadcastShape(a, b []int) []int {
	s, _, err := newBroadcast(a, b)
	if err != nil {
		panic(err)
	}
	return s
}

// arithVariants covers ADD, SUB and MUL: broadcasting, a constant operand,
// fused activations and differing input scales.
func arithVariants(op BuiltinOp, typ TensorType) []variant {
	type spec struct {
		name       string
		a, b       []int
		act        Activation
		constB     bool
		s1, s2     float32
		z1, z2, zo int
	}
	specs := []spec{
		{name: "same_shape", a: []int{1, 4, 5, 3}, b: []int{1, 4, 5, 3}, s1: 0.05, s2: 0.03, z1: 120, z2: 140, zo: 128},
		{name: "channel_vector", a: []int{1, 4, 5, 3}, b: []int{3}, s1: 0.02, s2: 0.07, z1: 100, z2: 128, zo: 110},
		{name: "two_sided", a: []int{1, 4, 1, 3}, b: []int{1, 1, 5, 1}, s1: 0.05, s2: 0.05, z1: 128, z2: 128, zo: 128},
		{name: "scalar_first", a: []int{1, 1, 1, 1}, b: []int{1, 4, 5, 3}, s1: 0.1, s2: 0.02, z1: 130, z2: 126, zo: 127},
		{name: "relu", a: []int{2, 7}, b: []int{2, 7}, act: ActRelu, s1: 0.04, s2: 0.04, z1: 128, z2: 128, zo: 0},
		{name: "relu6_const", a: []int{1, 3, 3, 5}, b: []int{1, 3, 3, 5}, act: ActRelu6, constB: true, s1: 0.06, s2: 0.03, z1: 128, z2: 128, zo: 10},
		{name: "n1to1_rank5", a: []int{2, 1, 3, 1, 4}, b: []int{1, 2, 1, 5, 1}, act: ActReluN1To1, s1: 0.02, s2: 0.02, z1: 128, z2: 128, zo: 128},
	}
	var vs []variant
	for _, s := range specs {
		vs = append(vs, variant{name: s.name, build: func(b *vb) {
			qa, qb := qp(typ, s.s1, s.z1), qp(typ, s.s2, s.z2)
			x := b.input(typ, s.a, qa, 3)
			var y int
			if s.constB {
				if typ == Float32 {
					y = b.random(Float32, s.b, nil)
				} else {
					y = b.random(typ, s.b, qb)
				}
			} else {
				y = b.input(typ, s.b, qb, 3)
			}
			var so float32
			switch op {
			case OpMul:
				so = 3 * 74 * 74 * s.s1 * s.s2 / 128
			default:
				so = (s.s1 + s.s2) * 0.9
			}
			z := b.output(typ, broadcastShape(s.a, s.b), qp(typ, so, s.zo))
			b.op(op, &ActivationOptions{Activation: s.act}, []int{x, y}, z)
		}})
	}
	return vs
}

func maxMinVariants() []variant {
	shapes := [][2][]int{
		{{1, 4, 5, 3}, {1, 4, 5, 3}},
		{{1, 4, 5, 3}, {3}},
		{{1, 4, 1, 3}, {1, 1, 5, 1}},
		{{1}, {2, 6}},
	}
	var vs []variant
	for _, op := range []BuiltinOp{OpMaximum, OpMinimum} {
		for i, sh := range shapes {
			vs = append(vs, variant{name: fmt.Sprintf("%s_%v_%v", op, sh[0], sh[1]), build: func(b *vb) {
				q := qp(b.typ, 0.05, 120+i)
				x := b.input(b.typ, sh[0], q, 3)
				y := b.input(b.typ, sh[1], q, 3)
				z := b.output(b.typ, broadcastShape(sh[0], sh[1]), q)
				b.op(op, nil, []int{x, y}, z)
			}})
		}
	}
	return vs
}

func softmaxVariants() []variant {
	type spec struct {
		name  string
		shape []int
		beta  float32
		scale float32
	}
	specs := []spec{
		{"1x10_beta1", []int{1, 10}, 1, 0.1},
		{"2x5x7_beta0.5", []int{2, 5, 7}, 0.5, 0.2},
		{"1x1001_beta1", []int{1, 1001}, 1, 0.05},
		{"1x4x4x3_beta2", []int{1, 4, 4, 3}, 2, 0.03},
	}
	var vs []variant
	for _, s := range specs {
		vs = append(vs, variant{name: s.name, build: func(b *vb) {
			x := b.input(b.typ, s.shape, qp(b.typ, s.scale, 130), 8)
			y := b.output(b.typ, s.shape, qp(b.typ, 1.0/256, 0))
			b.op(OpSoftmax, &SoftmaxOptions{Beta: s.beta}, []int{x}, y)
		}})
	}
	return vs
}

// activationVariants covers the elementwise activations; quantized ones
// use the output parameters TFLite requires where it requires some.
func activationVariants() []variant {
	type spec struct {
		op         BuiltinOp
		opts       any
		inS, outS  float32
		inZ, outZ  int
		rng        float32
		nameSuffix string
	}
	specs := []spec{
		{op: OpLogistic, inS: 0.06, inZ: 128, outS: 1.0 / 256, outZ: 0, rng: 8},
		{op: OpTanh, inS: 0.03, inZ: 120, outS: 1.0 / 128, outZ: 128, rng: 4},
		{op: OpHardSwish, inS: 0.05, inZ: 128, outS: 0.03, outZ: 20, rng: 6},
		{op: OpHardSwish, inS: 0.02, inZ: 100, outS: 0.1, outZ: 50, rng: 3, nameSuffix: "_coarse_out"},
		{op: OpHardSwish, inS: 0.3, inZ: 133, outS: 0.01, outZ: 28, rng: 30, nameSuffix: "_fine_out"},
		{op: OpLogistic, inS: 0.2, inZ: 100, outS: 1.0 / 256, outZ: 0, rng: 20, nameSuffix: "_wide_in"},
		{op: OpTanh, inS: 0.005, inZ: 128, outS: 1.0 / 128, outZ: 128, rng: 0.6, nameSuffix: "_narrow_in"},
		{op: OpRelu, inS: 0.05, inZ: 130, outS: 0.03, outZ: 5, rng: 6},
		{op: OpRelu, inS: 0.05, inZ: 130, outS: 0.05, outZ: 130, rng: 6, nameSuffix: "_same_params"},
		{op: OpRelu6, inS: 0.05, inZ: 128, outS: 0.025, outZ: 0, rng: 7},
		{op: OpReluN1To1, inS: 0.02, inZ: 128, outS: 0.01, outZ: 128, rng: 2},
		{op: OpLeakyRelu, opts: &LeakyReluOptions{Alpha: 0.2}, inS: 0.05, inZ: 128, outS: 0.04, outZ: 60, rng: 6},
		{op: OpLeakyRelu, opts: &LeakyReluOptions{Alpha: 1.5}, inS: 0.05, inZ: 128, outS: 0.08, outZ: 128, rng: 6, nameSuffix: "_alpha1.5"},
		{op: OpLeakyRelu, opts: &LeakyReluOptions{Alpha: 0.01}, inS: 0.1, inZ: 108, outS: 0.05, outZ: 131, rng: 12, nameSuffix: "_alpha0.01"},
	}
	var vs []variant
	for _, s := range specs {
		vs = append(vs, variant{name: s.op.String() + s.nameSuffix, build: func(b *vb) {
			shape := []int{1, 8, 8, 4}
			x := b.input(b.typ, shape, qp(b.typ, s.inS, s.inZ), s.rng)
			y := b.output(b.typ, shape, qp(b.typ, s.outS, s.outZ))
			b.op(s.op, s.opts, []int{x}, y)
		}})
	}
	return vs
}

func reshapeVariants() []variant {
	return []variant{
		{name: "reshape_shape_tensor", build: func(b *vb) {
			q := qp(b.typ, 0.1, 100)
			x := b.input(b.typ, []int{1, 2, 3, 4}, q, 3)
			y := b.output(b.typ, []int{4, 6}, q)
			b.op(OpReshape, &ReshapeOptions{NewShape: []int{4, 6}}, []int{x, b.ints(4, 6)}, y)
		}},
		{name: "reshape_options_only", build: func(b *vb) {
			q := qp(b.typ, 0.1, 100)
			x := b.input(b.typ, []int{1, 1, 1, 10}, q, 3)
			y := b.output(b.typ, []int{1, 10}, q)
			b.op(OpReshape, &ReshapeOptions{NewShape: []int{1, 10}}, []int{x}, y)
		}},
		{name: "squeeze_dims", build: func(b *vb) {
			q := qp(b.typ, 0.1, 100)
			x := b.input(b.typ, []int{1, 1, 1, 7}, q, 3)
			y := b.output(b.typ, []int{1, 7}, q)
			b.op(OpSqueeze, &SqueezeOptions{Dims: []int{1, 2}}, []int{x}, y)
		}},
		{name: "squeeze_all", build: func(b *vb) {
			q := qp(b.typ, 0.1, 100)
			x := b.input(b.typ, []int{1, 5, 1, 3}, q, 3)
			y := b.output(b.typ, []int{5, 3}, q)
			b.op(OpSqueeze, &SqueezeOptions{}, []int{x}, y)
		}},
	}
}

func meanVariants() []variant {
	type spec struct {
		name       string
		in         []int
		axes       []int
		keep       bool
		sameParams bool
	}
	specs := []spec{
		{"7x5x3_axes12_keep", []int{1, 7, 5, 3}, []int{1, 2}, true, false},
		{"7x5x3_axes12", []int{1, 7, 5, 3}, []int{1, 2}, false, false},
		{"7x5x3_axes12_same_params", []int{1, 7, 5, 3}, []int{1, 2}, true, true},
		{"4x4x16_axis_last_keep", []int{1, 4, 4, 16}, []int{3}, true, false},
		{"2x4x6x8_axes_0_2", []int{2, 4, 6, 8}, []int{0, 2}, false, false},
		{"3x5x7_negative_axis", []int{3, 5, 7}, []int{-2}, true, false},
		{"2x3x4x5_all_axes", []int{2, 3, 4, 5}, []int{0, 1, 2, 3}, false, false},
		{"1x12x12x32_spatial_keep", []int{1, 12, 12, 32}, []int{1, 2}, true, false},
		{"1x12x64_count12_rounding_ties", []int{1, 12, 64}, []int{1}, false, false},
	}
	var vs []variant
	for _, s := range specs {
		vs = append(vs, variant{name: s.name, build: func(b *vb) {
			x := b.input(b.typ, s.in, qp(b.typ, 0.05, 120), 4)
			red := map[int]bool{}
			for _, a := range s.axes {
				red[(a+len(s.in))%len(s.in)] = true
			}
			var shape []int
			for d, n := range s.in {
				switch {
				case !red[d]:
					shape = append(shape, n)
				case s.keep:
					shape = append(shape, 1)
				}
			}
			outQ := qp(b.typ, 0.02, 128)
			if s.sameParams {
				outQ = qp(b.typ, 0.05, 120)
			}
			y := b.output(b.typ, shape, outQ)
			b.op(OpMean, &ReducerOptions{KeepDims: s.keep}, []int{x, b.ints(s.axes...)}, y)
		}})
	}
	return vs
}

func concatVariants(typ TensorType) []variant {
	type spec struct {
		name   string
		shapes [][]int
		axis   int
		out    []int
		differ bool
	}
	specs := []spec{
		{"axis3_same_params", [][]int{{1, 3, 4, 5}, {1, 3, 4, 2}}, 3, []int{1, 3, 4, 7}, false},
		{"axis1_differing_params", [][]int{{1, 2, 4, 3}, {1, 5, 4, 3}}, 1, []int{1, 7, 4, 3}, true},
		{"axis-1_three_differing", [][]int{{2, 3}, {2, 1}, {2, 4}}, -1, []int{2, 8}, true},
		{"axis0_batch", [][]int{{1, 2, 2, 3}, {2, 2, 2, 3}}, 0, []int{3, 2, 2, 3}, false},
		{"axis3_differing", [][]int{{1, 3, 3, 4}, {1, 3, 3, 4}}, 3, []int{1, 3, 3, 8}, true},
	}
	var vs []variant
	for _, s := range specs {
		var rejects string
		if typ == Int8 && s.differ {
			// XNNPACK claims the node, then fails to build it.
			rejects = "failed to delegate CONCATENATION"
		}
		vs = append(vs, variant{name: s.name, googleRejects: rejects, build: func(b *vb) {
			var ins []int
			for i, sh := range s.shapes {
				q := qp(b.typ, 0.05, 120)
				if s.differ {
					q = qp(b.typ, 0.03+0.02*float32(i), 100+20*i)
				}
				ins = append(ins, b.input(b.typ, sh, q, 3))
			}
			y := b.output(b.typ, s.out, qp(b.typ, 0.05, 120))
			b.op(OpConcatenation, &ConcatenationOptions{Axis: s.axis}, ins, y)
		}})
	}
	return vs
}

func padVariants() []variant {
	type spec struct {
		name  string
		op    BuiltinOp
		in    []int
		pads  []int
		value float32 // PADV2 only
	}
	specs := []spec{
		{"pad_spatial", OpPad, []int{1, 5, 5, 3}, []int{0, 0, 1, 2, 2, 1, 0, 0}, 0},
		{"pad_channels", OpPad, []int{1, 3, 3, 5}, []int{0, 0, 0, 0, 0, 0, 1, 3}, 0},
		{"pad_rank2", OpPad, []int{3, 4}, []int{2, 0, 1, 1}, 0},
		{"padv2_constant", OpPadV2, []int{1, 4, 5, 3}, []int{0, 0, 2, 1, 1, 2, 0, 0}, 1.5},
		{"padv2_negative_constant", OpPadV2, []int{1, 3, 3, 2}, []int{0, 1, 1, 1, 1, 1, 0, 0}, -2},
	}
	var vs []variant
	for _, s := range specs {
		vs = append(vs, variant{name: s.name, build: func(b *vb) {
			q := qp(b.typ, 0.05, 120)
			x := b.input(b.typ, s.in, q, 3)
			out := make([]int, len(s.in))
			for i := range out {
				out[i] = s.in[i] + s.pads[2*i] + s.pads[2*i+1]
			}
			pads := make([]int32, len(s.pads))
			for i, p := range s.pads {
				pads[i] = int32(p)
			}
			ins := []int{x, b.constant(Int32, []int{len(s.in), 2}, nil, ToBytes(pads))}
			if s.op == OpPadV2 {
				var v []byte
				switch b.typ {
				case Float32:
					v = ToBytes([]float32{s.value})
				case Uint8:
					v = []byte{byte(QuantizeValue(s.value, 0.05, 120, 0, 255))}
				case Int8:
					v = []byte{byte(QuantizeValue(s.value, 0.05, -8, -128, 127))}
				}
				ins = append(ins, b.constant(b.typ, []int{1}, q, v))
			}
			y := b.output(b.typ, out, q)
			b.op(s.op, nil, ins, y)
		}})
	}
	return vs
}

func transposeVariants() []variant {
	type spec struct {
		in, perm []int
	}
	specs := []spec{
		{[]int{1, 4, 5, 3}, []int{0, 3, 1, 2}},
		{[]int{2, 3, 4}, []int{2, 0, 1}},
		{[]int{3, 7}, []int{1, 0}},
		{[]int{2, 3, 4, 5}, []int{3, 2, 1, 0}},
	}
	var vs []variant
	for _, s := range specs {
		vs = append(vs, variant{name: fmt.Sprintf("%v_perm%v", s.in, s.perm), build: func(b *vb) {
			q := qp(b.typ, 0.05, 120)
			x := b.input(b.typ, s.in, q, 3)
			out := make([]int, len(s.in))
			for i, p := range s.perm {
				out[i] = s.in[p]
			}
			y := b.output(b.typ, out, q)
			b.op(OpTranspose, nil, []int{x, b.ints(s.perm...)}, y)
		}})
	}
	return vs
}

func stridedSliceVariants() []variant {
	type spec struct {
		name                string
		in                  []int
		begin, end, strides []int
		opts                StridedSliceOptions
		out                 []int
	}
	specs := []spec{
		{"basic_stride2", []int{1, 7, 5, 3}, []int{0, 1, 1, 0}, []int{1, 6, 5, 3}, []int{1, 2, 1, 1}, StridedSliceOptions{}, []int{1, 3, 4, 3}},
		{"begin_end_masks", []int{1, 7, 5, 3}, []int{0, 5, 2, 1}, []int{0, 4, 4, 0}, []int{1, 1, 1, 1},
			StridedSliceOptions{BeginMask: 0b0011, EndMask: 0b1001}, []int{1, 4, 2, 2}},
		{"negative_strides", []int{1, 7, 5, 3}, []int{0, -1, -1, 0}, []int{1, -8, -6, 3}, []int{1, -2, -1, 1},
			StridedSliceOptions{}, []int{1, 4, 5, 3}},
		{"shrink_axis", []int{1, 7, 5, 3}, []int{0, 2, 0, 0}, []int{1, 3, 5, 3}, []int{1, 1, 1, 1},
			StridedSliceOptions{ShrinkAxisMask: 0b0011}, []int{5, 3}},
		{"negative_indices", []int{4, 9}, []int{-3, -7}, []int{-1, -1}, []int{1, 3}, StridedSliceOptions{}, []int{2, 2}},
		{"reverse_with_masks", []int{2, 6}, []int{0, 0}, []int{0, 0}, []int{1, -1},
			StridedSliceOptions{BeginMask: 0b11, EndMask: 0b11}, []int{2, 6}},
		{"clamped_out_of_range", []int{3, 5}, []int{-10, 1}, []int{10, 100}, []int{2, 2}, StridedSliceOptions{}, []int{2, 2}},
	}
	var vs []variant
	for _, s := range specs {
		vs = append(vs, variant{name: s.name, build: func(b *vb) {
			q := qp(b.typ, 0.05, 120)
			x := b.input(b.typ, s.in, q, 3)
			y := b.output(b.typ, s.out, q)
			b.op(OpStridedSlice, &s.opts, []int{x, b.ints(s.begin...), b.ints(s.end...), b.ints(s.strides...)}, y)
		}})
	}
	return vs
}

func resizeVariants() []variant {
	type spec struct {
		name string
		in   []int
		h, w int
		opts ResizeOptions
	}
	specs := []spec{
		{"up_5x7_to_9x11", []int{1, 5, 7, 3}, 9, 11, ResizeOptions{}},
		{"up_align_corners", []int{1, 5, 7, 3}, 9, 11, ResizeOptions{AlignCorners: true}},
		{"up_half_pixel", []int{1, 5, 7, 3}, 9, 11, ResizeOptions{HalfPixelCenters: true}},
		{"down_9x9_to_4x5", []int{1, 9, 9, 4}, 4, 5, ResizeOptions{}},
		{"down_half_pixel", []int{1, 9, 9, 4}, 4, 5, ResizeOptions{HalfPixelCenters: true}},
		{"down_align_corners", []int{1, 9, 9, 4}, 4, 5, ResizeOptions{AlignCorners: true}},
		{"x2_batch2", []int{2, 3, 4, 5}, 6, 8, ResizeOptions{}},
		{"to_1x1_align_corners", []int{1, 4, 4, 2}, 1, 1, ResizeOptions{AlignCorners: true}},
	}
	var vs []variant
	for _, op := range []BuiltinOp{OpResizeBilinear, OpResizeNearestNeighbor} {
		for _, s := range specs {
			vs = append(vs, variant{name: op.String() + "_" + s.name, build: func(b *vb) {
				q := qp(b.typ, 0.05, 120)
				x := b.input(b.typ, s.in, q, 3)
				y := b.output(b.typ, []int{s.in[0], s.h, s.w, s.in[3]}, q)
				b.op(op, &s.opts, []int{x, b.ints(s.h, s.w)}, y)
			}})
		}
	}
	return vs
}

func l2normVariants() []variant {
	var vs []variant
	for _, shape := range [][]int{{1, 10}, {2, 3, 17}, {1, 4, 4, 8}} {
		vs = append(vs, variant{name: fmt.Sprint(shape), build: func(b *vb) {
			x := b.input(b.typ, shape, qp(b.typ, 0.05, 120), 3)
			y := b.output(b.typ, shape, qp(b.typ, 1.0/128, 128))
			b.op(OpL2Normalization, &ActivationOptions{}, []int{x}, y)
		}})
	}
	return vs
}

func argMaxVariants() []variant {
	type spec struct {
		in   []int
		axis int
		out  TensorType
	}
	specs := []spec{
		{[]int{1, 10}, 1, Int32},
		{[]int{2, 5, 7}, 1, Int64},
		{[]int{1, 4, 4, 5}, 3, Int32},
		{[]int{3, 4}, 0, Int64},
		{[]int{2, 3, 6}, -1, Int32},
	}
	var vs []variant
	for _, s := range specs {
		vs = append(vs, variant{name: fmt.Sprintf("%v_axis%d_%s", s.in, s.axis, s.out), build: func(b *vb) {
			x := b.input(b.typ, s.in, qp(b.typ, 0.05, 120), 3)
			a := (s.axis + len(s.in)) % len(s.in)
			shape := slices.Delete(slices.Clone(s.in), a, a+1)
			y := b.output(s.out, shape, nil)
			b.op(OpArgMax, &ArgMaxOptions{OutputType: s.out}, []int{x, b.ints(s.axis)}, y)
		}})
	}
	return vs
}

// quantizeVariants covers QUANTIZE and DEQUANTIZE between all types.
func quantizeVariants() []variant {
	shape := []int{1, 5, 6, 7}
	conv := func(name string, from, to TensorType, qin, qout *Quantization, rng float32) variant {
		return variant{name: name, build: func(b *vb) {
			x := b.input(from, shape, qin, rng)
			op := OpQuantize
			if to == Float32 {
				op = OpDequantize
			}
			b.op(op, nil, []int{x}, b.output(to, shape, qout))
		}}
	}
	vs := []variant{
		conv("QUANTIZE_float_to_int8", Float32, Int8, nil, PerTensor(0.05, -3), 8),
		conv("QUANTIZE_float_to_uint8", Float32, Uint8, nil, PerTensor(0.03, 130), 5),
		conv("QUANTIZE_int8_to_uint8", Int8, Uint8, PerTensor(0.05, -3), PerTensor(0.05, 125), 0),
		conv("QUANTIZE_uint8_to_int8", Uint8, Int8, PerTensor(0.05, 128), PerTensor(0.05, 0), 0),
		conv("QUANTIZE_int8_rescale", Int8, Int8, PerTensor(0.05, -3), PerTensor(0.07, 10), 0),
		conv("QUANTIZE_uint8_rescale", Uint8, Uint8, PerTensor(0.05, 120), PerTensor(0.03, 100), 0),
		conv("DEQUANTIZE_uint8", Uint8, Float32, PerTensor(0.05, 120), nil, 0),
		conv("DEQUANTIZE_int8", Int8, Float32, PerTensor(0.037, -5), nil, 0),
		{name: "DEQUANTIZE_float16_const", build: func(b *vb) {
			h := make([]uint16, 2*3*4)
			for i := range h {
				// Random finite halves: any sign, exponents 0..29, any mantissa.
				h[i] = uint16(b.r.IntN(2))<<15 | uint16(b.r.IntN(30))<<10 | uint16(b.r.IntN(1024))
			}
			c := b.constant(Float16, []int{2, 3, 4}, nil, ToBytes(h))
			f := b.tensor(Float32, []int{2, 3, 4}, nil)
			b.op(OpDequantize, nil, []int{c}, f)
			x := b.input(Float32, []int{2, 3, 4}, nil, 1)
			b.op(OpAdd, &ActivationOptions{}, []int{f, x}, b.output(Float32, []int{2, 3, 4}, nil))
		}},
	}
	return vs
}
