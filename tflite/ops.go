package tflite

import (
	"fmt"
	"slices"
)

// prepareFunc checks an operator against its tensors and returns its
// kernel. It must reject everything the kernel cannot compute safely.
type prepareFunc func(c *opContext) (kernel, error)

// registry maps each supported builtin operator to its preparation.
var registry map[BuiltinOp]prepareFunc

func init() {
	registry = map[BuiltinOp]prepareFunc{
		OpConv2D:                prepareConv,
		OpDepthwiseConv2D:       prepareDepthwise,
		OpFullyConnected:        prepareFullyConnected,
		OpAveragePool2D:         preparePool,
		OpMaxPool2D:             preparePool,
		OpAdd:                   prepareBinary,
		OpSub:                   prepareBinary,
		OpMul:                   prepareBinary,
		OpMaximum:               prepareBinary,
		OpMinimum:               prepareBinary,
		OpSoftmax:               prepareSoftmax,
		OpLogistic:              prepareUnary,
		OpTanh:                  prepareUnary,
		OpHardSwish:             prepareUnary,
		OpRelu:                  prepareUnary,
		OpRelu6:                 prepareUnary,
		OpReluN1To1:             prepareUnary,
		OpLeakyRelu:             prepareUnary,
		OpReshape:               prepareReshape,
		OpSqueeze:               prepareReshape,
		OpMean:                  prepareMean,
		OpQuantize:              prepareQuantize,
		OpDequantize:            prepareDequantize,
		OpConcatenation:         prepareConcat,
		OpPad:                   preparePad,
		OpPadV2:                 preparePad,
		OpTranspose:             prepareTranspose,
		OpStridedSlice:          prepareStridedSlice,
		OpResizeBilinear:        prepareResize,
		OpResizeNearestNeighbor: prepareResize,
		OpL2Normalization:       prepareL2Norm,
		OpArgMax:                prepareArgMax,
	}
}

// SupportedOps lists the builtin operators the engine runs.
func SupportedOps() []BuiltinOp {
	var ops []BuiltinOp
	for op := range registry {
		ops = append(ops, op)
	}
	slices.Sort(ops)
	return ops
}

func prepare(c *opContext) (kernel, error) {
	return registry[c.op.Op](c)
}

// opContext is what an operator's preparation sees.
type opContext struct {
	it    *Interpreter
	op    *Operator
	index int
}

// in returns input i, or nil when it is omitted.
func (c *opContext) in(i int) *Tensor {
	if i >= len(c.op.Inputs) || c.op.Inputs[i] < 0 {
		return nil
	}
	return c.it.tensors[c.op.Inputs[i]]
}

func (c *opContext) out(i int) *Tensor { return c.it.tensors[c.op.Outputs[i]] }

// isConst reports whether t holds constant data from the file.
func (c *opContext) isConst(t *Tensor) bool {
	return len(c.it.model.Buffers[t.def.Buffer]) > 0
}

// cached builds per-model state for this operator once.
func (c *opContext) cached(build func() (any, error)) (any, error) {
	return c.it.model.cached(c.index, build)
}

func (c *opContext) pool() *pool { return c.it.pool }

// reserve takes n bytes of the interpreter's memory limit for memory the
// kernel allocates itself, so that a small file cannot ask for index maps
// far larger than its tensors.
func (c *opContext) reserve(n int64) error {
	if n > c.it.spare {
		return fmt.Errorf("needs %d bytes of working memory, %d are left under the memory limit", n, c.it.spare)
	}
	c.it.spare -= n
	return nil
}

// arity checks the number of inputs (at least minIn, at most maxIn, counting
// omitted optional ones) and outputs, and that required inputs are present.
func (c *opContext) arity(minIn, maxIn, outs int) error {
	n := len(c.op.Inputs)
	if n < minIn || n > maxIn {
		if minIn == maxIn {
			return fmt.Errorf("has %d inputs, want %d", n, minIn)
		}
		return fmt.Errorf("has %d inputs, want %d to %d", n, minIn, maxIn)
	}
	for i := 0; i < minIn; i++ {
		if c.op.Inputs[i] < 0 {
			return fmt.Errorf("required input %d is omitted", i)
		}
	}
	if len(c.op.Outputs) != outs {
		return fmt.Errorf("has %d outputs, want %d", len(c.op.Outputs), outs)
	}
	return nil
}

// constInput returns input i, which must be a constant.
func (c *opContext) constInput(i int, what string) (*Tensor, error) {
	t := c.in(i)
	if t == nil || !c.isConst(t) {
		return nil, fmt.Errorf("%s (input %d) must be a constant tensor", what, i)
	}
	return t, nil
}

// options returns the operator's options as *T, or a zero *T when the file
// gives none and allowDefault is set.
func options[T any](c *opContext, allowDefault bool) (*T, error) {
	if o, ok := c.op.Options.(*T); ok {
		return o, nil
	}
	if c.op.Options == nil && allowDefault {
		return new(T), nil
	}
	var z T
	return nil, fmt.Errorf("options are %T, want %T", c.op.Options, &z)
}

// checkShape checks that tensor t has the computed shape.
func checkShape(t *Tensor, want []int) error {
	if !slices.Equal(t.def.Shape, want) {
		return fmt.Errorf("tensor %q has shape %v, the operator produces %v", t.def.Name, t.def.Shape, want)
	}
	return nil
}

// checkTypes checks that every tensor has one of the allowed types and all
// have the same type.
func checkTypes(allowed []TensorType, ts ...*Tensor) error {
	typ := ts[0].def.Type
	if !slices.Contains(allowed, typ) {
		return fmt.Errorf("tensor %q has type %s; supported: %v", ts[0].def.Name, typ, allowed)
	}
	for _, t := range ts[1:] {
		if t.def.Type != typ {
			return fmt.Errorf("tensor %q has type %s, want %s", t.def.Name, t.def.Type, typ)
		}
	}
	return nil
}

var (
	floatOrQuant = []TensorType{Float32, Uint8, Int8}
	quantTypes   = []TensorType{Uint8, Int8}
)

// perTensor returns the single scale and zero point of a quantized 8-bit
// tensor.
func perTensor(t *Tensor) (qparams, error) {
	q := t.def.Quant
	if q == nil || len(q.Scale) != 1 {
		return qparams{}, fmt.Errorf("tensor %q needs per-tensor quantization parameters", t.def.Name)
	}
	if !(q.Scale[0] > 0) {
		return qparams{}, fmt.Errorf("tensor %q has scale %v, want > 0", t.def.Name, q.Scale[0])
	}
	return qparams{scale: float64(q.Scale[0]), zp: int32(q.ZeroPoint[0])}, nil
}

// inOutQuant returns the per-tensor parameters of an 8-bit input and output.
func inOutQuant(in, out *Tensor) (qparams, qparams, error) {
	inQ, err := perTensor(in)
	if err != nil {
		return qparams{}, qparams{}, err
	}
	outQ, err := perTensor(out)
	return inQ, outQ, err
}

// unaryIO checks an operator that maps one input to one output of the same
// shape and type (float32, uint8 or int8) and returns them.
func (c *opContext) unaryIO() (in, out *Tensor, err error) {
	if err := c.arity(1, 1, 1); err != nil {
		return nil, nil, err
	}
	in, out = c.in(0), c.out(0)
	if err := checkTypes(floatOrQuant, in, out); err != nil {
		return nil, nil, err
	}
	if err := checkShape(out, in.def.Shape); err != nil {
		return nil, nil, err
	}
	return in, out, nil
}

func isQuant(t *Tensor) bool { return t.def.Type == Uint8 || t.def.Type == Int8 }

// rank4 checks that t is 4-D (NHWC) and returns its dimensions.
func rank4(t *Tensor) (n, h, w, ch int, err error) {
	s := t.def.Shape
	if len(s) != 4 {
		return 0, 0, 0, 0, fmt.Errorf("tensor %q has shape %v, want 4 dimensions (NHWC)", t.def.Name, s)
	}
	return s[0], s[1], s[2], s[3], nil
}

// convOutSize computes an output size and the leading padding of a
// convolution or pool along one axis, as TFLite does.
func convOutSize(pad Padding, in, filter, stride, dilation int) (out, before int, err error) {
	if stride < 1 || dilation < 1 || filter < 1 {
		return 0, 0, fmt.Errorf("stride %d, dilation %d and filter size %d must be positive", stride, dilation, filter)
	}
	eff := (filter-1)*dilation + 1
	switch pad {
	case PaddingSame:
		out = (in + stride - 1) / stride
	case PaddingValid:
		out = (in - eff + stride) / stride
	default:
		return 0, 0, fmt.Errorf("unknown padding %d", pad)
	}
	if out < 1 {
		return 0, 0, fmt.Errorf("input size %d is smaller than the filter's reach %d", in, eff)
	}
	total := (out-1)*stride + eff - in
	if total < 0 {
		total = 0
	}
	return out, total / 2, nil
}
