package tflite

import "fmt"

// TensorType is the element type of a tensor (schema enum TensorType).
type TensorType int8

// Tensor types of schema v3.
const (
	Float32 TensorType = 0
	Float16 TensorType = 1
	Int32   TensorType = 2
	Uint8   TensorType = 3
	Int64   TensorType = 4
	String  TensorType = 5
	Bool    TensorType = 6
	Int16   TensorType = 7
	Int8    TensorType = 9
	Float64 TensorType = 10
)

var typeNames = map[TensorType]string{
	Float32: "float32", Float16: "float16", Int32: "int32", Uint8: "uint8", Int64: "int64",
	String: "string", Bool: "bool", Int16: "int16", Int8: "int8", Float64: "float64",
}

func (t TensorType) String() string {
	if s, ok := typeNames[t]; ok {
		return s
	}
	return fmt.Sprintf("type(%d)", int8(t))
}

// Size is the number of bytes of one element, or 0 for types the engine
// cannot hold in memory (string and unknown types).
func (t TensorType) Size() int {
	switch t {
	case Uint8, Int8, Bool:
		return 1
	case Float16, Int16:
		return 2
	case Float32, Int32:
		return 4
	case Int64, Float64:
		return 8
	}
	return 0
}

// ParseTensorType is the inverse of TensorType.String.
func ParseTensorType(s string) (TensorType, error) {
	for t, name := range typeNames {
		if name == s {
			return t, nil
		}
	}
	return 0, fmt.Errorf("unknown tensor type %q", s)
}

// BuiltinOp is a builtin operator code (schema enum BuiltinOperator).
type BuiltinOp int32

// The builtin operators this package knows by name. The engine runs the
// ones registered in ops.go; the rest are named in errors.
const (
	OpAdd                   BuiltinOp = 0
	OpAveragePool2D         BuiltinOp = 1
	OpConcatenation         BuiltinOp = 2
	OpConv2D                BuiltinOp = 3
	OpDepthwiseConv2D       BuiltinOp = 4
	OpDepthToSpace          BuiltinOp = 5
	OpDequantize            BuiltinOp = 6
	OpFloor                 BuiltinOp = 8
	OpFullyConnected        BuiltinOp = 9
	OpL2Normalization       BuiltinOp = 11
	OpL2Pool2D              BuiltinOp = 12
	OpLocalResponseNorm     BuiltinOp = 13
	OpLogistic              BuiltinOp = 14
	OpLSTM                  BuiltinOp = 16
	OpMaxPool2D             BuiltinOp = 17
	OpMul                   BuiltinOp = 18
	OpRelu                  BuiltinOp = 19
	OpReluN1To1             BuiltinOp = 20
	OpRelu6                 BuiltinOp = 21
	OpReshape               BuiltinOp = 22
	OpResizeBilinear        BuiltinOp = 23
	OpSoftmax               BuiltinOp = 25
	OpSpaceToDepth          BuiltinOp = 26
	OpTanh                  BuiltinOp = 28
	OpCall                  BuiltinOp = 31
	OpCustom                BuiltinOp = 32
	OpPad                   BuiltinOp = 34
	OpGather                BuiltinOp = 36
	OpTranspose             BuiltinOp = 39
	OpMean                  BuiltinOp = 40
	OpSub                   BuiltinOp = 41
	OpDiv                   BuiltinOp = 42
	OpSqueeze               BuiltinOp = 43
	OpStridedSlice          BuiltinOp = 45
	OpExp                   BuiltinOp = 47
	OpSplit                 BuiltinOp = 49
	OpLogSoftmax            BuiltinOp = 50
	OpCast                  BuiltinOp = 53
	OpPrelu                 BuiltinOp = 54
	OpMaximum               BuiltinOp = 55
	OpArgMax                BuiltinOp = 56
	OpMinimum               BuiltinOp = 57
	OpPadV2                 BuiltinOp = 60
	OpSlice                 BuiltinOp = 65
	OpTransposeConv         BuiltinOp = 67
	OpExpandDims            BuiltinOp = 70
	OpSum                   BuiltinOp = 74
	OpRsqrt                 BuiltinOp = 76
	OpShape                 BuiltinOp = 77
	OpReduceMax             BuiltinOp = 82
	OpPack                  BuiltinOp = 83
	OpResizeNearestNeighbor BuiltinOp = 97
	OpLeakyRelu             BuiltinOp = 98
	OpMirrorPad             BuiltinOp = 100
	OpQuantize              BuiltinOp = 114
	OpHardSwish             BuiltinOp = 117
	OpIf                    BuiltinOp = 118
	OpWhile                 BuiltinOp = 119
	OpBatchMatMul           BuiltinOp = 126
	OpPlaceholderForGreater BuiltinOp = 127
	OpGelu                  BuiltinOp = 150
)

var opNames = map[BuiltinOp]string{
	OpAdd: "ADD", OpAveragePool2D: "AVERAGE_POOL_2D", OpConcatenation: "CONCATENATION",
	OpConv2D: "CONV_2D", OpDepthwiseConv2D: "DEPTHWISE_CONV_2D", OpDepthToSpace: "DEPTH_TO_SPACE",
	OpDequantize: "DEQUANTIZE", OpFloor: "FLOOR", OpFullyConnected: "FULLY_CONNECTED",
	OpL2Normalization: "L2_NORMALIZATION", OpL2Pool2D: "L2_POOL_2D",
	OpLocalResponseNorm: "LOCAL_RESPONSE_NORMALIZATION", OpLogistic: "LOGISTIC", OpLSTM: "LSTM",
	OpMaxPool2D: "MAX_POOL_2D", OpMul: "MUL", OpRelu: "RELU", OpReluN1To1: "RELU_N1_TO_1",
	OpRelu6: "RELU6", OpReshape: "RESHAPE", OpResizeBilinear: "RESIZE_BILINEAR",
	OpSoftmax: "SOFTMAX", OpSpaceToDepth: "SPACE_TO_DEPTH", OpTanh: "TANH", OpCall: "CALL",
	OpCustom: "CUSTOM", OpPad: "PAD", OpGather: "GATHER", OpTranspose: "TRANSPOSE", OpMean: "MEAN",
	OpSub: "SUB", OpDiv: "DIV", OpSqueeze: "SQUEEZE", OpStridedSlice: "STRIDED_SLICE", OpExp: "EXP",
	OpSplit: "SPLIT", OpLogSoftmax: "LOG_SOFTMAX", OpCast: "CAST", OpPrelu: "PRELU",
	OpMaximum: "MAXIMUM", OpArgMax: "ARG_MAX", OpMinimum: "MINIMUM", OpPadV2: "PADV2",
	OpSlice: "SLICE", OpTransposeConv: "TRANSPOSE_CONV", OpExpandDims: "EXPAND_DIMS", OpSum: "SUM",
	OpRsqrt: "RSQRT", OpShape: "SHAPE", OpReduceMax: "REDUCE_MAX", OpPack: "PACK",
	OpResizeNearestNeighbor: "RESIZE_NEAREST_NEIGHBOR", OpLeakyRelu: "LEAKY_RELU",
	OpMirrorPad: "MIRROR_PAD", OpQuantize: "QUANTIZE", OpHardSwish: "HARD_SWISH", OpIf: "IF",
	OpWhile: "WHILE", OpBatchMatMul: "BATCH_MATMUL", OpGelu: "GELU",
}

func (op BuiltinOp) String() string {
	if s, ok := opNames[op]; ok {
		return s
	}
	return fmt.Sprintf("BUILTIN_%d", int32(op))
}

// Padding is the padding scheme of convolutions and pools.
type Padding uint8

// Paddings of schema enum Padding.
const (
	PaddingSame  Padding = 0
	PaddingValid Padding = 1
)

func (p Padding) String() string {
	switch p {
	case PaddingSame:
		return "SAME"
	case PaddingValid:
		return "VALID"
	}
	return fmt.Sprintf("padding(%d)", uint8(p))
}

// Activation is a fused activation function (schema ActivationFunctionType).
type Activation uint8

// Fused activations.
const (
	ActNone      Activation = 0
	ActRelu      Activation = 1
	ActReluN1To1 Activation = 2
	ActRelu6     Activation = 3
	ActTanh      Activation = 4
	ActSignBit   Activation = 5
)

func (a Activation) String() string {
	switch a {
	case ActNone:
		return "NONE"
	case ActRelu:
		return "RELU"
	case ActReluN1To1:
		return "RELU_N1_TO_1"
	case ActRelu6:
		return "RELU6"
	case ActTanh:
		return "TANH"
	case ActSignBit:
		return "SIGN_BIT"
	}
	return fmt.Sprintf("activation(%d)", uint8(a))
}

// Union type ids of schema union BuiltinOptions that this package reads and
// writes.
const (
	optConv2D                = 1
	optDepthwiseConv2D       = 2
	optPool2D                = 5
	optFullyConnected        = 8
	optSoftmax               = 9
	optConcatenation         = 10
	optAdd                   = 11
	optL2Norm                = 12
	optResizeBilinear        = 15
	optReshape               = 17
	optMul                   = 21
	optPad                   = 22
	optTranspose             = 26
	optReducer               = 27
	optSub                   = 28
	optSqueeze               = 30
	optStridedSlice          = 32
	optDequantize            = 38
	optMaximumMinimum        = 39
	optArgMax                = 40
	optPadV2                 = 43
	optResizeNearestNeighbor = 74
	optLeakyRelu             = 75
	optQuantize              = 89
	optHardSwish             = 91
)
