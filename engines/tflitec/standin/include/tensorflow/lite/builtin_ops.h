/* Stand-in header written for edgeclass's tests (see docs/tflite-c.md).
 * Builtin operator codes, numbered as in the TensorFlow Lite flatbuffer
 * schema. Only the codes this project's code and stand-in refer to are
 * listed; the type is what the C API's declarations need. */
#ifndef EDGECLASS_STANDIN_BUILTIN_OPS_H
#define EDGECLASS_STANDIN_BUILTIN_OPS_H

typedef enum {
  kTfLiteBuiltinAdd = 0,
  kTfLiteBuiltinAveragePool2d = 1,
  kTfLiteBuiltinConcatenation = 2,
  kTfLiteBuiltinConv2d = 3,
  kTfLiteBuiltinDepthwiseConv2d = 4,
  kTfLiteBuiltinFullyConnected = 9,
  kTfLiteBuiltinLogistic = 14,
  kTfLiteBuiltinMaxPool2d = 17,
  kTfLiteBuiltinMul = 18,
  kTfLiteBuiltinRelu = 19,
  kTfLiteBuiltinRelu6 = 21,
  kTfLiteBuiltinReshape = 22,
  kTfLiteBuiltinSoftmax = 25,
  kTfLiteBuiltinCustom = 32,
  kTfLiteBuiltinPad = 34,
  kTfLiteBuiltinMean = 40,
  kTfLiteBuiltinSub = 41,
  kTfLiteBuiltinSqueeze = 43,
  kTfLiteBuiltinDelegate = 51,
  kTfLiteBuiltinQuantize = 114,
  kTfLiteBuiltinHardSwish = 117,
} TfLiteBuiltinOperator;

#endif
