// Package gomlxbench builds the top of a float backbone (the layers the
// trainer fine-tunes in stage 2) as a GoMLX graph, so that a GoMLX training
// step can be timed against the trainer's plain-Go one on the same network
// and the same weights. It lives in its own module so the main module does
// not depend on GoMLX.
package gomlxbench

import (
	"fmt"
	"slices"
	"unsafe"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/simplego"
	. "github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/edgeclass/edgeclass/tflite"
	"github.com/edgeclass/edgeclass/trainer"
)

// Top is the part of a float graph above a cut tensor: the operators that
// compute the feature tensor from it, and their trainable constants.
type Top struct {
	model  *tflite.Model
	Cut    int // tensor index of the top's only non-constant input
	Feat   int // tensor index of the features
	First  int // index of the top's first operator
	ops    []tflite.Operator
	Params []Param // kernels and biases of the convolutions, in operator order
}

// Param is one trainable constant in the layout the GoMLX graph uses:
// 1x1 convolution kernels [out, in] (TFLite OHWI with H=W=1), depthwise
// kernels [kh, kw, C] (TFLite [1, kh, kw, C]), biases [C]. Both keep
// TFLite's memory order, so Values is the tensor's data as stored.
type Param struct {
	Tensor int
	Shape  []int
	Values []float32
}

// NewTop takes the top `layers` convolution layers of m's main graph. The
// input of the lowest one must be the only non-constant tensor the top
// reads (true for MobileNetV2's top 4 layers, whose block has no residual
// addition).
func NewTop(m *tflite.Model, layers int) (*Top, error) {
	sg := m.Main()
	var convs []int
	for i, op := range sg.Operators {
		if op.Op == tflite.OpConv2D || op.Op == tflite.OpDepthwiseConv2D {
			convs = append(convs, i)
		}
	}
	if layers < 1 || layers > len(convs) {
		return nil, fmt.Errorf("top: %d layers requested, the graph has %d convolution layers", layers, len(convs))
	}
	first := convs[len(convs)-layers]
	t := &Top{model: m, Cut: sg.Operators[first].Inputs[0], Feat: sg.Outputs[0], First: first, ops: sg.Operators[first:]}
	known := map[int]bool{t.Cut: true}
	for _, op := range t.ops {
		if err := t.check(sg, op, known); err != nil {
			return nil, fmt.Errorf("top: operator %s: %w", op.Op, err)
		}
		if op.Op == tflite.OpConv2D || op.Op == tflite.OpDepthwiseConv2D {
			for _, in := range op.Inputs[1:] {
				if in < 0 {
					continue
				}
				def := sg.Tensors[in]
				shape := def.Shape
				switch {
				case len(shape) == 1: // bias
				case op.Op == tflite.OpConv2D:
					shape = []int{shape[0], shape[3]}
				default:
					shape = shape[1:]
				}
				t.Params = append(t.Params, Param{Tensor: in, Shape: shape, Values: slices.Clone(floats(m.Buffers[def.Buffer]))})
			}
		}
		known[op.Outputs[0]] = true
	}
	if !known[t.Feat] {
		return nil, fmt.Errorf("top: the operators above tensor %d do not compute the output", t.Cut)
	}
	return t, nil
}

// check accepts what the graph builder implements: the operators of a
// MobileNetV2 top, each reading only the cut, constants and earlier outputs.
func (t *Top) check(sg *tflite.Subgraph, op tflite.Operator, known map[int]bool) error {
	for i, in := range op.Inputs {
		if in < 0 || (i > 0 && len(t.model.Buffers[sg.Tensors[in].Buffer]) > 0) {
			continue
		}
		if !known[in] {
			return fmt.Errorf("reads tensor %d from below the cut", in)
		}
	}
	if err := trainer.CheckTopOp(sg, op); err != nil {
		return err
	}
	// The graph builder writes the depthwise convolution out by hand, for
	// MobileNet's shape only.
	if op.Op == tflite.OpDepthwiseConv2D {
		o := op.Options.(*tflite.DepthwiseConv2DOptions)
		if w := sg.Tensors[op.Inputs[1]].Shape; w[1] != 3 || w[2] != 3 || o.StrideW != 1 || o.StrideH != 1 || o.Padding != tflite.PaddingSame {
			return fmt.Errorf("only 3x3 SAME depthwise convolutions with stride 1 are supported")
		}
	}
	return nil
}

// CutShape is the shape of one example's cut activation (H, W, C).
func (t *Top) CutShape() []int { return t.model.Main().Tensors[t.Cut].Shape[1:] }

// Forward builds the features [batch, C] of x [batch, H, W, C] given the
// parameters (in Params order).
func (t *Top) Forward(x *Node, params []*Node) *Node {
	vals := map[int]*Node{t.Cut: x}
	byT := map[int]*Node{}
	for i, p := range t.Params {
		byT[p.Tensor] = params[i]
	}
	bn := x.Shape().Dimensions[0]
	for _, op := range t.ops {
		in := vals[op.Inputs[0]]
		var y *Node
		switch op.Op {
		case tflite.OpConv2D:
			// A 1x1 convolution is a matrix product over the channels.
			w := byT[op.Inputs[1]]
			d := in.Shape().Dimensions
			flat := Reshape(in, -1, d[3])
			y = DotGeneral(flat, []int{1}, nil, w, []int{1}, nil)
			y = Reshape(y, d[0], d[1], d[2], w.Shape().Dimensions[0])
			y = activate(addBias(y, op, byT), op.Options.(*tflite.Conv2DOptions).Activation)
		case tflite.OpDepthwiseConv2D:
			y = depthwise3x3(in, byT[op.Inputs[1]])
			y = activate(addBias(y, op, byT), op.Options.(*tflite.DepthwiseConv2DOptions).Activation)
		case tflite.OpAdd:
			y = activate(Add(in, vals[op.Inputs[1]]), op.Options.(*tflite.ActivationOptions).Activation)
		case tflite.OpAveragePool2D:
			y = activate(ReduceMean(in, 1, 2), op.Options.(*tflite.Pool2DOptions).Activation)
		case tflite.OpMean:
			y = ReduceMean(in, 1, 2)
		case tflite.OpReshape, tflite.OpSqueeze:
			y = in
		}
		vals[op.Outputs[0]] = y
	}
	f := vals[t.Feat]
	return Reshape(f, bn, -1)
}

// depthwise3x3 is a 3x3 depthwise convolution with SAME padding and stride
// 1, written as 9 shifted multiply-adds over the zero-padded input:
// simplego's grouped convolution has no usable gradient (its VJP splits
// into one convolution per channel and needs Reverse, which simplego lacks).
func depthwise3x3(x, w *Node) *Node {
	g := x.Graph()
	d := x.Shape().Dimensions // [b, h, w, c]
	zrow := Zeros(g, shapes.Make(x.DType(), d[0], 1, d[2], d[3]))
	p := Concatenate([]*Node{zrow, x, zrow}, 1)
	zcol := Zeros(g, shapes.Make(x.DType(), d[0], d[1]+2, 1, d[3]))
	p = Concatenate([]*Node{zcol, p, zcol}, 2)
	var y *Node
	for ky := 0; ky < 3; ky++ {
		for kx := 0; kx < 3; kx++ {
			s := Slice(p, AxisRange(), AxisRange(ky, ky+d[1]), AxisRange(kx, kx+d[2]), AxisRange())
			k := Reshape(Slice(w, AxisRange(ky, ky+1), AxisRange(kx, kx+1), AxisRange()), 1, 1, 1, d[3])
			if term := Mul(s, k); y == nil {
				y = term
			} else {
				y = Add(y, term)
			}
		}
	}
	return y
}

func addBias(y *Node, op tflite.Operator, byT map[int]*Node) *Node {
	if len(op.Inputs) < 3 || op.Inputs[2] < 0 {
		return y
	}
	b := byT[op.Inputs[2]]
	return Add(y, Reshape(b, 1, 1, 1, b.Shape().Dimensions[0]))
}

// activate uses Max/Min (Clamp has no gradient in GoMLX v0.26.0).
func activate(y *Node, a tflite.Activation) *Node {
	g := y.Graph()
	switch a {
	case tflite.ActRelu:
		return Max(y, ScalarZero(g, y.DType()))
	case tflite.ActRelu6:
		return Min(Max(y, ScalarZero(g, y.DType())), Scalar(g, y.DType(), 6))
	}
	return y
}

// Step builds one training step: the features of x, then the gradients of
// sum(features * gFeat) with respect to every parameter, i.e. the backward
// pass of an output gradient gFeat. Arguments: x, gFeat, the parameters.
func (t *Top) Step(args []*Node) []*Node {
	x, gFeat, params := args[0], args[1], args[2:]
	f := t.Forward(x, params)
	return Gradient(ReduceAllSum(Mul(f, gFeat)), params...)
}

// ParamTensors returns the parameters as GoMLX tensors.
func (t *Top) ParamTensors() []*tensors.Tensor {
	out := make([]*tensors.Tensor, len(t.Params))
	for i, p := range t.Params {
		out[i] = tensors.FromFlatDataAndDimensions(slices.Clone(p.Values), p.Shape...)
	}
	return out
}

// Backend is simplego (pure Go) with the one operation the gradients here
// need and v0.26.0 lacks: Pad, the gradient of Slice.
func Backend() (backends.Backend, error) {
	b, err := simplego.New("")
	if err != nil {
		return nil, fmt.Errorf("simplego: %w", err)
	}
	return padBackend{b}, nil
}

type padBackend struct{ backends.Backend }

func (b padBackend) Builder(name string) backends.Builder {
	return padBuilder{b.Backend.Builder(name)}
}

type padBuilder struct{ backends.Builder }

// Pad pads with edge padding only (no interior padding), by concatenating
// blocks of the fill value along each axis.
func (b padBuilder) Pad(x, fill backends.Op, axes ...backends.PadAxis) (backends.Op, error) {
	for axis, pa := range axes {
		if pa.Interior != 0 || pa.Start < 0 || pa.End < 0 {
			return nil, fmt.Errorf("pad: only non-negative edge padding is implemented, axis %d has %+v", axis, pa)
		}
		if pa.Start == 0 && pa.End == 0 {
			continue
		}
		shape, err := b.OpShape(x)
		if err != nil {
			return nil, err
		}
		parts := []backends.Op{}
		for _, n := range []int{pa.Start, -1, pa.End} {
			if n == -1 {
				parts = append(parts, x)
				continue
			}
			if n == 0 {
				continue
			}
			s := shape.Clone()
			s.Dimensions[axis] = n
			block, err := b.BroadcastInDim(fill, s, nil)
			if err != nil {
				return nil, err
			}
			parts = append(parts, block)
		}
		if x, err = b.Concatenate(axis, parts...); err != nil {
			return nil, err
		}
	}
	return x, nil
}

// floats views little-endian float32 bytes (the constants of a float graph
// are 16-byte aligned).
func floats(b []byte) []float32 {
	if len(b) == 0 {
		return nil
	}
	return unsafe.Slice((*float32)(unsafe.Pointer(&b[0])), len(b)/4)
}
