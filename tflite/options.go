package tflite

// Typed builtin options. Field names follow schema.fbs; the reader fills the
// defaults the schema declares, and the builder writes every field.

// Conv2DOptions configures CONV_2D.
type Conv2DOptions struct {
	Padding          Padding
	StrideW, StrideH int
	Activation       Activation
	DilationW        int
	DilationH        int
}

// DepthwiseConv2DOptions configures DEPTHWISE_CONV_2D.
type DepthwiseConv2DOptions struct {
	Padding          Padding
	StrideW, StrideH int
	DepthMultiplier  int
	Activation       Activation
	DilationW        int
	DilationH        int
}

// Pool2DOptions configures AVERAGE_POOL_2D and MAX_POOL_2D.
type Pool2DOptions struct {
	Padding          Padding
	StrideW, StrideH int
	FilterW, FilterH int
	Activation       Activation
}

// FullyConnectedOptions configures FULLY_CONNECTED.
type FullyConnectedOptions struct {
	Activation    Activation
	WeightsFormat int // 0 = DEFAULT; the shuffled format is refused
	KeepNumDims   bool
}

// SoftmaxOptions configures SOFTMAX.
type SoftmaxOptions struct{ Beta float32 }

// ConcatenationOptions configures CONCATENATION.
type ConcatenationOptions struct {
	Axis       int
	Activation Activation
}

// ActivationOptions configures ops whose only option is a fused activation:
// ADD, SUB, MUL and L2_NORMALIZATION.
type ActivationOptions struct{ Activation Activation }

// ReshapeOptions configures RESHAPE (when the shape is not an input).
type ReshapeOptions struct{ NewShape []int }

// ResizeOptions configures RESIZE_BILINEAR and RESIZE_NEAREST_NEIGHBOR.
type ResizeOptions struct {
	AlignCorners     bool
	HalfPixelCenters bool
}

// SqueezeOptions configures SQUEEZE.
type SqueezeOptions struct{ Dims []int }

// StridedSliceOptions configures STRIDED_SLICE.
type StridedSliceOptions struct {
	BeginMask, EndMask, EllipsisMask, NewAxisMask, ShrinkAxisMask int
	Offset                                                        bool
}

// ReducerOptions configures MEAN and the other reductions.
type ReducerOptions struct{ KeepDims bool }

// LeakyReluOptions configures LEAKY_RELU.
type LeakyReluOptions struct{ Alpha float32 }

// ArgMaxOptions configures ARG_MAX.
type ArgMaxOptions struct{ OutputType TensorType }

// parseOptions reads the builtin options table of union type typ.
func parseOptions(r *fbReader, typ uint8, t fbTable) any {
	switch typ {
	case optConv2D:
		return &Conv2DOptions{
			Padding: Padding(r.u8(t, 0, 0)), StrideW: int(r.i32(t, 1, 0)), StrideH: int(r.i32(t, 2, 0)),
			Activation: Activation(r.u8(t, 3, 0)),
			DilationW:  int(r.i32(t, 4, 1)), DilationH: int(r.i32(t, 5, 1)),
		}
	case optDepthwiseConv2D:
		return &DepthwiseConv2DOptions{
			Padding: Padding(r.u8(t, 0, 0)), StrideW: int(r.i32(t, 1, 0)), StrideH: int(r.i32(t, 2, 0)),
			DepthMultiplier: int(r.i32(t, 3, 0)), Activation: Activation(r.u8(t, 4, 0)),
			DilationW: int(r.i32(t, 5, 1)), DilationH: int(r.i32(t, 6, 1)),
		}
	case optPool2D:
		return &Pool2DOptions{
			Padding: Padding(r.u8(t, 0, 0)), StrideW: int(r.i32(t, 1, 0)), StrideH: int(r.i32(t, 2, 0)),
			FilterW: int(r.i32(t, 3, 0)), FilterH: int(r.i32(t, 4, 0)), Activation: Activation(r.u8(t, 5, 0)),
		}
	case optFullyConnected:
		return &FullyConnectedOptions{
			Activation: Activation(r.u8(t, 0, 0)), WeightsFormat: int(r.u8(t, 1, 0)), KeepNumDims: r.boolean(t, 2),
		}
	case optSoftmax:
		return &SoftmaxOptions{Beta: r.f32(t, 0, 0)}
	case optConcatenation:
		return &ConcatenationOptions{Axis: int(r.i32(t, 0, 0)), Activation: Activation(r.u8(t, 1, 0))}
	case optAdd, optSub, optMul, optL2Norm:
		return &ActivationOptions{Activation: Activation(r.u8(t, 0, 0))}
	case optReshape:
		return &ReshapeOptions{NewShape: r.ints(t, 0)}
	case optResizeBilinear:
		return &ResizeOptions{AlignCorners: r.boolean(t, 2), HalfPixelCenters: r.boolean(t, 3)}
	case optResizeNearestNeighbor:
		return &ResizeOptions{AlignCorners: r.boolean(t, 0), HalfPixelCenters: r.boolean(t, 1)}
	case optSqueeze:
		return &SqueezeOptions{Dims: r.ints(t, 0)}
	case optStridedSlice:
		return &StridedSliceOptions{
			BeginMask: int(r.i32(t, 0, 0)), EndMask: int(r.i32(t, 1, 0)), EllipsisMask: int(r.i32(t, 2, 0)),
			NewAxisMask: int(r.i32(t, 3, 0)), ShrinkAxisMask: int(r.i32(t, 4, 0)), Offset: r.boolean(t, 5),
		}
	case optReducer:
		return &ReducerOptions{KeepDims: r.boolean(t, 0)}
	case optLeakyRelu:
		return &LeakyReluOptions{Alpha: r.f32(t, 0, 0)}
	case optArgMax:
		return &ArgMaxOptions{OutputType: TensorType(r.u8(t, 0, 0))}
	}
	return nil
}
