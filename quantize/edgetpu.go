package quantize

import (
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/edgeclass/edgeclass/tflite"
)

// The Edge TPU compiler maps a quantized model's operators to the Edge TPU
// when they appear in Coral's table of supported operations and meet its
// limits; the rest run on the CPU. The table below is our reading of that
// documentation ("Supported operations" in
// https://coral.ai/docs/edgetpu/models-intro/, compiler 16; the same table is
// reproduced for Axis ARTPEC-7 devices, which use the Edge TPU, at
// https://developer.axis.com/computer-vision/on-device/system-on-chip/artpec-7/supported-ops/),
// restricted to the operators our quantizer writes. The same page sets the
// model-wide rules CheckEdgeTPU applies: 8-bit tensors (int32 only for
// biases and shape parameters), static shapes, and tensors of at most three
// dimensions larger than 1 (the innermost three) among activations. It also says the compiler
// cuts the graph once: from the first operator it cannot map, everything
// after it runs on the CPU.
//
//	operator                 Edge TPU  limits checked
//	ADD, SUB, MUL            yes
//	AVERAGE_POOL_2D          yes       no fused activation
//	CONCATENATION            yes       no fused activation; a constant input only as one of two, all zeros
//	CONV_2D                  yes       same dilation in x and y
//	DEPTHWISE_CONV_2D        yes       same dilation in x and y
//	FULLY_CONNECTED          yes       default weights format; output one-dimensional
//	L2_NORMALIZATION         yes
//	LOGISTIC, TANH           yes
//	MAXIMUM, MINIMUM         yes
//	MAX_POOL_2D              yes       no fused activation
//	MEAN                     yes       not over the batch; over channels only if their count is a multiple of 4
//	PAD                      yes       not in the batch dimension
//	QUANTIZE                 yes       8-bit input (a float input is left to the CPU)
//	RELU, RELU6, RELU_N1_TO_1 yes
//	RESHAPE                  yes
//	RESIZE_BILINEAR          yes       3-D input and output (may still be left to the CPU for precision)
//	RESIZE_NEAREST_NEIGHBOR  yes       as RESIZE_BILINEAR
//	SOFTMAX                  yes       1-D input of at most 16000 elements
//	SQUEEZE                  yes       only leading dimensions of size 1 removed
//	STRIDED_SLICE            yes       all strides 1, no ellipsis or new-axis mask
//	TRANSPOSE                yes
//	ARG_MAX, DEQUANTIZE, HARD_SWISH, LEAKY_RELU, PADV2: not in the table.

// EdgeTPUFallback is an operator the Edge TPU compiler would leave to the
// CPU, and why.
type EdgeTPUFallback struct {
	Op     int    `json:"op"` // position in the graph
	Name   string `json:"name"`
	Reason string `json:"reason"`
}

// edgeTPUOps are the operators of Coral's table, with a check of their
// documented limits (nil: none).
var edgeTPUOps = map[tflite.BuiltinOp]func(m *tflite.Model, op *tflite.Operator) string{
	tflite.OpAdd: nil, tflite.OpSub: nil, tflite.OpMul: nil,
	tflite.OpL2Normalization: nil, tflite.OpLogistic: nil, tflite.OpTanh: nil,
	tflite.OpMaximum: nil, tflite.OpMinimum: nil, tflite.OpRelu: nil, tflite.OpRelu6: nil,
	tflite.OpReluN1To1: nil, tflite.OpReshape: nil, tflite.OpTranspose: nil,
	tflite.OpAveragePool2D: poolLimits, tflite.OpMaxPool2D: poolLimits,
	tflite.OpConcatenation:   concatLimits,
	tflite.OpConv2D:          dilationLimits,
	tflite.OpDepthwiseConv2D: dilationLimits,
	tflite.OpFullyConnected:  fullyConnectedLimits,
	tflite.OpMean:            meanLimits,
	tflite.OpPad:             padLimits,
	tflite.OpQuantize: func(m *tflite.Model, op *tflite.Operator) string {
		if m.Main().Tensors[op.Inputs[0]].Type == tflite.Float32 {
			return "quantizes a float input (make the model's input int8 or uint8)"
		}
		return ""
	},
	tflite.OpResizeBilinear:        resizeLimits,
	tflite.OpResizeNearestNeighbor: resizeLimits,
	tflite.OpSoftmax:               softmaxLimits,
	tflite.OpSqueeze:               squeezeLimits,
	tflite.OpStridedSlice:          stridedSliceLimits,
}

// CheckEdgeTPU lists the operators of quantized model m that the Edge TPU
// compiler would leave to the CPU, in graph order; nil when it would map
// them all.
func CheckEdgeTPU(m *tflite.Model) []EdgeTPUFallback {
	sg := m.Main()
	var out []EdgeTPUFallback
	cut := -1
	for i := range sg.Operators {
		op := &sg.Operators[i]
		reason := edgeTPUReason(m, op)
		if reason == "" && cut >= 0 {
			reason = fmt.Sprintf("comes after operator %d, which runs on the CPU (the compiler maps one segment)", cut)
		}
		if reason != "" {
			if cut < 0 {
				cut = i
			}
			out = append(out, EdgeTPUFallback{Op: i, Name: op.Op.String(), Reason: reason})
		}
	}
	return out
}

func edgeTPUReason(m *tflite.Model, op *tflite.Operator) string {
	limits, ok := edgeTPUOps[op.Op]
	if !ok {
		return "not supported by the Edge TPU"
	}
	sg := m.Main()
	for _, t := range append(slices.Clone(op.Inputs), op.Outputs...) {
		if t < 0 {
			continue
		}
		def := &sg.Tensors[t]
		if slices.Contains(def.ShapeSignature, -1) {
			return fmt.Sprintf("tensor %s has a dynamic shape %v", def.Name, def.ShapeSignature)
		}
		if len(m.Buffers[def.Buffer]) > 0 {
			continue // weights, biases and shape parameters
		}
		switch def.Type {
		case tflite.Int8, tflite.Uint8:
		default:
			if op.Op != tflite.OpQuantize {
				return fmt.Sprintf("tensor %s is %s, not 8-bit", def.Name, def.Type)
			}
		}
		if len(def.Shape) > 3 {
			for _, d := range def.Shape[:len(def.Shape)-3] {
				if d > 1 {
					return fmt.Sprintf("tensor %s has shape %v: only its 3 innermost dimensions may exceed 1", def.Name, def.Shape)
				}
			}
		}
	}
	if limits != nil {
		return limits(m, op)
	}
	return ""
}

func shapeOf(m *tflite.Model, t int) []int { return m.Main().Tensors[t].Shape }

func poolLimits(_ *tflite.Model, op *tflite.Operator) string {
	if o, ok := op.Options.(*tflite.Pool2DOptions); ok && o.Activation != tflite.ActNone {
		return fmt.Sprintf("fused activation %s", o.Activation)
	}
	return ""
}

func concatLimits(m *tflite.Model, op *tflite.Operator) string {
	if o, ok := op.Options.(*tflite.ConcatenationOptions); ok && o.Activation != tflite.ActNone {
		return fmt.Sprintf("fused activation %s", o.Activation)
	}
	for _, t := range op.Inputs {
		data := m.Buffers[m.Main().Tensors[t].Buffer]
		if len(data) == 0 {
			continue
		}
		zp := byte(0)
		if q := m.Main().Tensors[t].Quant; q != nil && len(q.ZeroPoint) == 1 {
			zp = byte(q.ZeroPoint[0])
		}
		if len(op.Inputs) != 2 || slices.ContainsFunc(data, func(b byte) bool { return b != zp }) {
			return "has a constant input that is not the all-zero half of a two-input concatenation"
		}
	}
	return ""
}

func dilationLimits(_ *tflite.Model, op *tflite.Operator) string {
	dw, dh := 1, 1
	switch o := op.Options.(type) {
	case *tflite.Conv2DOptions:
		dw, dh = o.DilationW, o.DilationH
	case *tflite.DepthwiseConv2DOptions:
		dw, dh = o.DilationW, o.DilationH
	}
	if dw != dh {
		return fmt.Sprintf("dilations differ in x (%d) and y (%d)", dw, dh)
	}
	return ""
}

func fullyConnectedLimits(m *tflite.Model, op *tflite.Operator) string {
	if o, ok := op.Options.(*tflite.FullyConnectedOptions); ok && o.WeightsFormat != 0 {
		return "weights are not in the default format"
	}
	s := shapeOf(m, op.Outputs[0])
	for _, d := range s[:max(len(s)-1, 0)] {
		if d > 1 {
			return fmt.Sprintf("output shape %v is not one-dimensional", s)
		}
	}
	return ""
}

func meanLimits(m *tflite.Model, op *tflite.Operator) string {
	in := shapeOf(m, op.Inputs[0])
	for _, a := range constInts(m, op.Inputs[1]) {
		if a < 0 {
			a += len(in)
		}
		if a == 0 && len(in) == 4 {
			return "reduces over the batch dimension"
		}
		if a == len(in)-1 && in[a]%4 != 0 {
			return fmt.Sprintf("reduces over %d channels, not a multiple of 4", in[a])
		}
	}
	return ""
}

func padLimits(m *tflite.Model, op *tflite.Operator) string {
	if p := constInts(m, op.Inputs[1]); len(p) >= 2 && (p[0] != 0 || p[1] != 0) {
		return "pads the batch dimension"
	}
	return ""
}

// constInts reads an int32 or int64 constant.
func constInts(m *tflite.Model, t int) []int {
	def := &m.Main().Tensors[t]
	data := m.Buffers[def.Buffer]
	var out []int
	switch def.Type {
	case tflite.Int32:
		for i := 0; i+4 <= len(data); i += 4 {
			out = append(out, int(int32(binary.LittleEndian.Uint32(data[i:]))))
		}
	case tflite.Int64:
		for i := 0; i+8 <= len(data); i += 8 {
			out = append(out, int(int64(binary.LittleEndian.Uint64(data[i:]))))
		}
	}
	return out
}

func resizeLimits(m *tflite.Model, op *tflite.Operator) string {
	if s := shapeOf(m, op.Inputs[0]); len(s) == 4 && s[0] != 1 {
		return fmt.Sprintf("input shape %v is not 3-dimensional (batch 1)", s)
	}
	return ""
}

func softmaxLimits(m *tflite.Model, op *tflite.Operator) string {
	s := shapeOf(m, op.Inputs[0])
	n := 1
	for i, d := range s {
		n *= d
		if i < len(s)-1 && d > 1 {
			return fmt.Sprintf("input shape %v is not one-dimensional", s)
		}
	}
	if n > 16000 {
		return fmt.Sprintf("input has %d elements, more than 16000", n)
	}
	return ""
}

func squeezeLimits(m *tflite.Model, op *tflite.Operator) string {
	in := shapeOf(m, op.Inputs[0])
	var dims []int
	if o, ok := op.Options.(*tflite.SqueezeOptions); ok {
		dims = o.Dims
	}
	if len(dims) == 0 {
		for i, d := range in {
			if d == 1 {
				dims = append(dims, i)
			}
		}
	}
	for _, d := range dims {
		if d < 0 {
			d += len(in)
		}
		for _, e := range in[:max(d, 0)] {
			if e != 1 {
				return fmt.Sprintf("removes dimension %d of %v, after a dimension larger than 1 (needs a relayout)", d, in)
			}
		}
	}
	return ""
}

func stridedSliceLimits(m *tflite.Model, op *tflite.Operator) string {
	if o, ok := op.Options.(*tflite.StridedSliceOptions); ok && (o.EllipsisMask != 0 || o.NewAxisMask != 0) {
		return "uses an ellipsis or new-axis mask"
	}
	for _, st := range constInts(m, op.Inputs[3]) {
		if st != 1 {
			return "has a stride other than 1"
		}
	}
	return ""
}
