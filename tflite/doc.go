// Package tflite reads TensorFlow Lite models (.tflite files, schema v3)
// and runs them in pure Go, without cgo.
//
// A model is loaded once (LoadFile, Load). The flatbuffer is parsed into
// plain Go values (Model, Subgraph, TensorDef, Operator) and
// validated against Limits before anything runs, so a corrupt or hostile
// file gets an error that names the problem, never a crash. An Interpreter
// then plans all tensor memory, prepares one kernel per operator (packing
// weights once, for the matrix kernels of internal/kern) and, on Invoke,
// runs the kernels in order without allocating. Create one Interpreter per
// goroutine; they may share a Model. Options.Threads splits each kernel's
// work over a small pool of goroutines.
//
// Quantized kernels compute what Google's runtime computes on a CPU, bit
// for bit (see Options.Requantization). Models can also be made and written
// (GraphBuilder, Model.Marshal): the quantizer and the trainer build theirs
// that way.
//
// Where things are:
//
//   - flatbuf.go, parse.go, schema.go: the bounds-checked flatbuffer reader
//     and the schema's types; validate.go: the checks after parsing;
//     metadata.go: TFLITE_METADATA, labels and associated files.
//   - builder.go, builder_flatbuf.go: GraphBuilder and Model.Marshal.
//   - interpreter.go, tensor.go: memory planning, Invoke and tensor access;
//     workers.go: the thread pool.
//   - ops.go: the registry of supported operators; one file per family
//     (conv.go, depthwise.go, fully_connected.go, pooling.go,
//     elementwise.go, activations.go, reduce.go, resize.go, shape_ops.go,
//     quantize_ops.go); quant.go: the quantization spec's helpers.
//   - internal/kern: the hot loops (GEMM, im2col, depthwise, requantization)
//     in portable Go, with AVX-512 VNNI, AVX2 and NEON assembly chosen at
//     run time by CPU feature.
//   - bench.go: Benchmark, the timing behind edgeclass bench-model.
package tflite
