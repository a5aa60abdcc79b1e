package trainer

import (
	"fmt"
	"math"
	"os"
	"slices"
	"strings"

	"github.com/edgeclass/edgeclass/camera"
	"github.com/edgeclass/edgeclass/quantize"
	"github.com/edgeclass/edgeclass/tflite"
)

// floatClassifier joins the float backbone and the head into one graph:
// image -> backbone -> FULLY_CONNECTED -> SOFTMAX, with the backbone's
// input normalization and the class labels in the metadata.
func floatClassifier(bb *Backbone, h *Head, classes []string) (*tflite.Model, error) {
	if h.Dim != bb.Dim || h.Classes != len(classes) {
		return nil, fmt.Errorf("export: head is %dx%d, backbone gives %d features for %d classes", h.Classes, h.Dim, bb.Dim, len(classes))
	}
	src := bb.Model.Main()
	g := tflite.Subgraph{
		Name:      "classifier",
		Tensors:   slices.Clone(src.Tensors),
		Inputs:    slices.Clone(src.Inputs),
		Operators: slices.Clone(src.Operators),
	}
	m := &tflite.Model{Version: 3, Buffers: slices.Clone(bb.Model.Buffers)}
	addConst := func(name string, shape []int, data []float32) int {
		m.Buffers = append(m.Buffers, tflite.ToBytes(data))
		g.Tensors = append(g.Tensors, tflite.TensorDef{Name: name, Type: tflite.Float32, Shape: shape, Buffer: len(m.Buffers) - 1})
		return len(g.Tensors) - 1
	}
	addTensor := func(name string, shape []int) int {
		g.Tensors = append(g.Tensors, tflite.TensorDef{Name: name, Type: tflite.Float32, Shape: shape})
		return len(g.Tensors) - 1
	}
	feat := src.Outputs[0]
	w := addConst("head/dense/weights", []int{h.Classes, h.Dim}, h.W)
	b := addConst("head/dense/bias", []int{h.Classes}, h.B)
	logits := addTensor("head/logits", []int{1, h.Classes})
	probs := addTensor("probabilities", []int{1, h.Classes})
	g.Operators = append(g.Operators,
		tflite.Operator{Op: tflite.OpFullyConnected, Version: 1, Inputs: []int{feat, w, b}, Outputs: []int{logits},
			Options: &tflite.FullyConnectedOptions{}},
		tflite.Operator{Op: tflite.OpSoftmax, Version: 1, Inputs: []int{logits}, Outputs: []int{probs},
			Options: &tflite.SoftmaxOptions{Beta: 1}},
	)
	g.Outputs = []int{probs}
	m.Subgraphs = []tflite.Subgraph{g}
	in := bb.Model.Info.Inputs[0]
	m.Description = fmt.Sprintf("edgeclass classifier (%s) on a backbone cut at %s", strings.Join(classes, ", "), bb.Feature)
	m.Info = &tflite.ModelInfo{
		Name:        "edgeclass image classifier",
		Description: fmt.Sprintf("Classifies images into %d classes: %s.", len(classes), strings.Join(classes, ", ")),
		Version:     "1",
		Author:      "edgeclass trainer",
		Inputs:      []tflite.TensorInfo{{Name: "image", Description: "RGB image", Mean: in.Mean, Std: in.Std}},
		Outputs:     []tflite.TensorInfo{{Name: "probabilities", Description: "class probabilities"}},
	}
	return m, nil
}

// verifyExport runs the exported graph through the engine on a few test
// images (items, whose features are ex) and checks that it gives the
// probabilities the head gives on the features: the float metrics are
// computed from the latter.
func verifyExport(m *tflite.Model, bb *Backbone, h *Head, ds *Dataset, items []int, ex examples) error {
	it, err := tflite.NewInterpreter(m, nil)
	if err != nil {
		return fmt.Errorf("export: the float model does not run: %w", err)
	}
	defer it.Close()
	want := make([]float32, h.Classes)
	const checks = 3
	for k, i := range items[:min(checks, len(items))] {
		item := &ds.Items[i]
		img, err := ds.Load(item)
		if err != nil {
			return err
		}
		if err := bb.Spec.Load(it.Input(0), img); err != nil {
			return err
		}
		if err := it.Invoke(); err != nil {
			return err
		}
		h.Probs(ex.x[k][0], want)
		got := it.Output(0).Float32s()
		for k := range want {
			if math.Abs(float64(got[k]-want[k])) > 1e-4 {
				return fmt.Errorf("export: the float model gives %v on %s, the trained head %v", got, item.Rel, want)
			}
		}
	}
	return nil
}

// writeModel serializes m and checks that the engine reads it back.
func writeModel(path string, m *tflite.Model) error {
	data, err := m.Marshal()
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if _, err := tflite.Load(data); err != nil {
		return fmt.Errorf("write %s: the serialized model does not load: %w", path, err)
	}
	return os.WriteFile(path, data, 0o644)
}

// quantizeInt8 turns the float classifier into a full-integer one with the
// quantize package, calibrated on the given training images (fed as the
// agent feeds camera frames), with int8 input and output, min/max ranges
// and the least-squares refit of pointwise layers (the defaults of
// `edgeclass quantize`).
func quantizeInt8(m *tflite.Model, ds *Dataset, calib []int, fit camera.Fit, threads int) (*tflite.Model, error) {
	set := &quantize.ImageSet{Fit: fit}
	for _, i := range calib {
		set.Paths = append(set.Paths, ds.Path(&ds.Items[i]))
	}
	st, err := quantize.Calibrate(m, set, quantize.CalibrateOptions{Threads: threads})
	if err != nil {
		return nil, err
	}
	q, err := quantize.Quantize(m, st, quantize.Options{Method: quantize.MinMax, Input: tflite.Int8, Output: tflite.Int8})
	if err != nil {
		return nil, err
	}
	return quantize.Refine(m, q, set, quantize.RefineOptions{Threads: threads})
}
