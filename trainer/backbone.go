package trainer

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math"
	"os"
	"slices"
	"strings"

	"github.com/edgeclass/edgeclass/camera"
	"github.com/edgeclass/edgeclass/tflite"
)

// Backbone is an image classifier cut before its classifier: a float graph
// whose one output is the feature vector a new head is trained on.
type Backbone struct {
	// Model is the float graph: input image, output the feature tensor.
	// Quantized weights of the source model are dequantized into it.
	Model *tflite.Model
	// Feature names the feature tensor (as in the source model).
	Feature string
	// Dim is the length of the feature vector.
	Dim int
	// Spec preprocesses images for Model's input, with the normalization
	// the source model expects.
	Spec camera.InputSpec
	// Hash identifies the source file, the cut and the preprocessing; the
	// feature cache is keyed by it.
	Hash string
	// Source describes the source model for reports.
	Source BackboneInfo
}

// BackboneInfo describes the model a backbone was cut from.
type BackboneInfo struct {
	Path        string `json:"path"`
	SHA256      string `json:"sha256"`
	InputType   string `json:"input_type"`
	Quantized   bool   `json:"quantized"`
	Feature     string `json:"feature_tensor"`
	FeatureDim  int    `json:"feature_dim"`
	Operators   int    `json:"operators"` // in the cut float graph
	InputWidth  int    `json:"input_width"`
	InputHeight int    `json:"input_height"`
}

// LoadBackbone reads an image classifier or feature extractor and cuts it at
// its feature layer: featureTensor names the tensor, or "" finds the input of
// the final classifier (or takes the output of an extractor) automatically.
func LoadBackbone(path, featureTensor string, fit camera.Fit) (*Backbone, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("backbone: %w", err)
	}
	src, err := tflite.Load(data)
	if err != nil {
		return nil, fmt.Errorf("backbone %s: %w", path, err)
	}
	sg := src.Main()
	if len(sg.Inputs) != 1 {
		return nil, fmt.Errorf("backbone %s: has %d inputs, an image model has 1", path, len(sg.Inputs))
	}
	var feat int
	if featureTensor != "" {
		if feat = tensorByName(sg, featureTensor); feat < 0 {
			return nil, fmt.Errorf("backbone %s: no tensor named %q; candidates: %s", path, featureTensor, candidates(sg))
		}
		if !isFeatureShape(sg.Tensors[feat].Shape) {
			return nil, fmt.Errorf("backbone %s: tensor %q has shape %v, a feature vector is [1,C] or [1,1,1,C]", path, featureTensor, sg.Tensors[feat].Shape)
		}
	} else if feat, err = findFeature(sg); err != nil {
		return nil, fmt.Errorf("backbone %s: %w", path, err)
	}
	spec, err := sourceSpec(src)
	if err != nil {
		return nil, fmt.Errorf("backbone %s: %w", path, err)
	}
	spec.Fit = fit
	fm, err := floatGraph(src, feat, spec)
	if err != nil {
		return nil, fmt.Errorf("backbone %s: %w", path, err)
	}
	// The float graph must run: check it now rather than on the first image.
	it, err := tflite.NewInterpreter(fm, nil)
	if err != nil {
		return nil, fmt.Errorf("backbone %s: the float graph does not run: %w", path, err)
	}
	it.Close()
	fspec, err := camera.SpecFor(fm, it.Input(0))
	if err != nil {
		return nil, fmt.Errorf("backbone %s: %w", path, err)
	}
	fspec.Fit = fit
	sum := sha256.Sum256(data)
	def := sg.Tensors[feat]
	dim := 1
	for _, d := range def.Shape {
		dim *= d
	}
	h := sha256.New()
	fmt.Fprintf(h, "backbone v1\x00%x\x00%s\x00%d\x00%v\x00%v\x00%d", sum, def.Name, fit, fspec.Mean, fspec.Std, fspec.Width)
	in := sg.Tensors[sg.Inputs[0]]
	return &Backbone{
		Model: fm, Feature: def.Name, Dim: dim, Spec: fspec, Hash: hex.EncodeToString(h.Sum(nil)),
		Source: BackboneInfo{
			Path: path, SHA256: hex.EncodeToString(sum[:]), InputType: in.Type.String(),
			Quantized: in.Quant != nil || def.Quant != nil, Feature: def.Name, FeatureDim: dim,
			Operators: len(fm.Main().Operators), InputWidth: fspec.Width, InputHeight: fspec.Height,
		},
	}, nil
}

// withModel returns the backbone with another float graph of the same
// shape (stage 2's trained weights).
func (b *Backbone) withModel(m *tflite.Model) *Backbone {
	c := *b
	c.Model = m
	return &c
}

// topElems is the number of elements of tensor t of m's main graph.
func topElems(m *tflite.Model, t int) int {
	n := 1
	for _, d := range m.Main().Tensors[t].Shape {
		n *= d
	}
	return n
}

func hashString(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

// withOutputs returns a new model sharing m's graph and constants, with
// other outputs. (A new Model, not a copy: a model caches state derived
// from its constants.)
func withOutputs(m *tflite.Model, outputs []int) *tflite.Model {
	g := *m.Main()
	g.Outputs = slices.Clone(outputs)
	return &tflite.Model{Version: m.Version, Description: m.Description, Subgraphs: []tflite.Subgraph{g},
		Buffers: slices.Clone(m.Buffers), Info: m.Info, Files: m.Files}
}

// tensorByName finds a tensor by its name or, since converters join the
// names of fused operations with ';', by one unique part of its name.
func tensorByName(sg *tflite.Subgraph, name string) int {
	part := -1
	for i, t := range sg.Tensors {
		if t.Name == name {
			return i
		}
		if slices.Contains(strings.Split(t.Name, ";"), name) {
			if part >= 0 {
				part = -2 // ambiguous
			} else if part == -1 {
				part = i
			}
		}
	}
	return max(part, -1)
}

// isFeatureShape reports whether a shape is a pooled or flattened vector.
func isFeatureShape(s []int) bool {
	switch len(s) {
	case 2:
		return s[0] == 1 && s[1] > 1
	case 4:
		return s[0] == 1 && s[1] == 1 && s[2] == 1 && s[3] > 1
	}
	return false
}

// candidates lists the tensors that could serve as the feature layer.
func candidates(sg *tflite.Subgraph) string {
	var names []string
	for _, op := range sg.Operators {
		for _, t := range op.Outputs {
			if isFeatureShape(sg.Tensors[t].Shape) {
				names = append(names, fmt.Sprintf("%q %v", sg.Tensors[t].Name, sg.Tensors[t].Shape))
			}
		}
	}
	if len(names) == 0 {
		return "none (no tensor has shape [1,C] or [1,1,1,C])"
	}
	return fmt.Sprint(names)
}

// findFeature walks back from output 0 over the classifier's tail (softmax,
// reshapes, requantization) to the 1x1 convolution or fully connected layer
// that computes the logits, and returns its input. A graph that ends in a
// feature vector without a classifier (an embedding extractor) is cut at its
// output.
func findFeature(sg *tflite.Subgraph) (int, error) {
	producer := make(map[int]*tflite.Operator)
	for i := range sg.Operators {
		for _, t := range sg.Operators[i].Outputs {
			producer[t] = &sg.Operators[i]
		}
	}
	if len(sg.Outputs) == 0 {
		return 0, fmt.Errorf("the graph has no output")
	}
	t := sg.Outputs[0]
	for steps := 0; steps < len(sg.Operators); steps++ {
		op := producer[t]
		if op == nil {
			break
		}
		switch op.Op {
		case tflite.OpSoftmax, tflite.OpLogistic, tflite.OpReshape, tflite.OpSqueeze, tflite.OpQuantize, tflite.OpDequantize:
			t = op.Inputs[0]
			continue
		case tflite.OpFullyConnected:
			return op.Inputs[0], nil
		case tflite.OpConv2D:
			in := sg.Tensors[op.Inputs[0]].Shape
			w := sg.Tensors[op.Inputs[1]].Shape
			if isFeatureShape(in) && len(w) == 4 && w[1] == 1 && w[2] == 1 {
				return op.Inputs[0], nil
			}
		}
		break
	}
	if isFeatureShape(sg.Tensors[t].Shape) && t != sg.Inputs[0] {
		return t, nil
	}
	return 0, fmt.Errorf("no usable feature layer: the graph does not end in a classifier (1x1 convolution or fully connected layer on a [1,C] or [1,1,1,C] vector) nor in a feature vector; name one with --feature-tensor (candidates: %s)", candidates(sg))
}

// sourceSpec is the preprocessing of the source model.
func sourceSpec(m *tflite.Model) (camera.InputSpec, error) {
	it, err := tflite.NewInterpreter(m, nil)
	if err != nil {
		return camera.InputSpec{}, err
	}
	defer it.Close()
	return camera.SpecFor(m, it.Input(0))
}

// floatGraph builds the float graph from the source model's input to
// tensor feat: ops after feat are dropped, QUANTIZE and DEQUANTIZE become
// the identity, quantized and float16 constants become float32, and the
// input becomes float32 with normalization metadata that gives the real
// values the source model saw.
func floatGraph(src *tflite.Model, feat int, spec camera.InputSpec) (*tflite.Model, error) {
	sg := src.Main()
	producer := make(map[int]int)
	for i, op := range sg.Operators {
		for _, t := range op.Outputs {
			producer[t] = i
		}
	}
	// Operators feat depends on, in graph order.
	need := make([]bool, len(sg.Operators))
	stack := []int{feat}
	for len(stack) > 0 {
		t := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		p, ok := producer[t]
		if !ok || need[p] {
			continue
		}
		need[p] = true
		for _, in := range sg.Operators[p].Inputs {
			if in >= 0 {
				stack = append(stack, in)
			}
		}
	}
	same := make(map[int]int) // output -> input of identity ops
	alias := func(t int) int {
		for {
			s, ok := same[t]
			if !ok {
				return t
			}
			t = s
		}
	}
	var ops []tflite.Operator
	for i, op := range sg.Operators {
		if !need[i] {
			continue
		}
		if op.Op == tflite.OpQuantize || op.Op == tflite.OpDequantize {
			same[op.Outputs[0]] = op.Inputs[0]
			continue
		}
		ops = append(ops, op)
	}
	if len(ops) == 0 {
		return nil, fmt.Errorf("feature tensor %q is the input; the backbone computes nothing", sg.Tensors[feat].Name)
	}
	out := &tflite.Model{Version: 3, Description: "float backbone cut at " + sg.Tensors[feat].Name, Buffers: [][]byte{nil}}
	g := tflite.Subgraph{Name: sg.Name}
	index := make(map[int]int)
	var convErr error
	mapT := func(t int) int {
		if t < 0 {
			return t
		}
		t = alias(t)
		if j, ok := index[t]; ok {
			return j
		}
		def := sg.Tensors[t]
		nd := tflite.TensorDef{Name: def.Name, Type: def.Type, Shape: slices.Clone(def.Shape), ShapeSignature: slices.Clone(def.ShapeSignature)}
		data := src.Buffers[def.Buffer]
		isReal := def.Type == tflite.Uint8 || def.Type == tflite.Int8 || def.Type == tflite.Int16 || def.Type == tflite.Float16 ||
			(def.Type == tflite.Int32 && def.Quant != nil && len(def.Quant.Scale) > 0)
		if isReal {
			nd.Type = tflite.Float32
		}
		if len(data) > 0 {
			if isReal {
				f, err := dequantize(def, data)
				if err != nil && convErr == nil {
					convErr = fmt.Errorf("tensor %q: %w", def.Name, err)
				}
				data = tflite.ToBytes(f)
			}
			nd.Buffer = len(out.Buffers)
			out.Buffers = append(out.Buffers, data)
		}
		index[t] = len(g.Tensors)
		g.Tensors = append(g.Tensors, nd)
		return index[t]
	}
	in := mapT(sg.Inputs[0])
	g.Inputs = []int{in}
	for _, op := range ops {
		nop := op
		nop.Options = impliedActivation(op, sg)
		nop.Inputs = make([]int, len(op.Inputs))
		for k, t := range op.Inputs {
			nop.Inputs[k] = mapT(t)
		}
		nop.Outputs = make([]int, len(op.Outputs))
		for k, t := range op.Outputs {
			nop.Outputs[k] = mapT(t)
		}
		g.Operators = append(g.Operators, nop)
	}
	if convErr != nil {
		return nil, convErr
	}
	g.Outputs = []int{mapT(feat)}
	out.Subgraphs = []tflite.Subgraph{g}
	// Normalization: the float input holds the real values the source's
	// input held.
	// uint8 inputs take raw pixels (camera.SpecFor), as do int8 inputs
	// whose quantization is the identity on pixels (fed as p-128); others
	// take the normalization of the metadata.
	mean, std := spec.Mean, spec.Std
	if q := sg.Tensors[sg.Inputs[0]].Quant; spec.Type != tflite.Float32 && q != nil && len(q.Scale) == 1 {
		zp, s := float32(q.ZeroPoint[0]), q.Scale[0]
		if spec.Type == tflite.Int8 {
			zp += 128
		}
		identity := true
		for c := range mean {
			identity = identity && math.Abs(float64(s*std[c]-1)) <= 0.01 && math.Abs(float64(zp-mean[c])) <= 1
		}
		if spec.Type == tflite.Uint8 || identity {
			for c := range mean {
				mean[c], std[c] = zp, 1/s
			}
		}
	}
	out.Info = &tflite.ModelInfo{
		Name:   "backbone",
		Inputs: []tflite.TensorInfo{{Name: "image", Mean: mean[:spec.Channels], Std: std[:spec.Channels]}},
	}
	return out, nil
}

// impliedActivation returns op's options, copied with a ReLU (or ReLU6)
// when the op fuses no activation but its quantized output cannot hold
// negative values: converters express activations that way, and the float
// graph must clamp where the quantized one did.
func impliedActivation(op tflite.Operator, sg *tflite.Subgraph) any {
	if len(op.Outputs) != 1 {
		return op.Options
	}
	out := sg.Tensors[op.Outputs[0]]
	q := out.Quant
	if q == nil || len(q.Scale) != 1 || len(q.ZeroPoint) != 1 {
		return op.Options
	}
	lo := int64(0)
	if out.Type == tflite.Int8 {
		lo = -128
	} else if out.Type != tflite.Uint8 {
		return op.Options
	}
	if q.ZeroPoint[0] != lo {
		return op.Options
	}
	act := tflite.ActRelu
	if hi := float64(q.Scale[0]) * float64(255); hi <= 6*1.01 {
		act = tflite.ActRelu6
	}
	set := func(a *tflite.Activation) {
		if *a == tflite.ActNone {
			*a = act
		}
	}
	switch o := op.Options.(type) {
	case *tflite.Conv2DOptions:
		c := *o
		set(&c.Activation)
		return &c
	case *tflite.DepthwiseConv2DOptions:
		c := *o
		set(&c.Activation)
		return &c
	case *tflite.FullyConnectedOptions:
		c := *o
		set(&c.Activation)
		return &c
	case *tflite.ActivationOptions:
		if op.Op == tflite.OpL2Normalization {
			return o
		}
		c := *o
		set(&c.Activation)
		return &c
	}
	return op.Options
}

// dequantize returns the real values of constant tensor def.
func dequantize(def tflite.TensorDef, data []byte) ([]float32, error) {
	n := 1
	for _, d := range def.Shape {
		n *= d
	}
	if n*def.Type.Size() != len(data) {
		return nil, fmt.Errorf("holds %d bytes, %s %v needs %d", len(data), def.Type, def.Shape, n*def.Type.Size())
	}
	out := make([]float32, n)
	if def.Type == tflite.Float16 {
		for i := range out {
			out[i] = tflite.Float16ToFloat32(binary.LittleEndian.Uint16(data[2*i:]))
		}
		return out, nil
	}
	q := def.Quant
	if q == nil || len(q.Scale) == 0 {
		return nil, fmt.Errorf("%s constant without quantization parameters", def.Type)
	}
	// Element i belongs to channel (i / inner) % channels along q.Dim.
	channels, inner := 1, 1
	if len(q.Scale) > 1 {
		if q.Dim < 0 || q.Dim >= len(def.Shape) || def.Shape[q.Dim] != len(q.Scale) || len(q.ZeroPoint) != len(q.Scale) {
			return nil, fmt.Errorf("per-axis quantization with %d scales does not fit shape %v along %d", len(q.Scale), def.Shape, q.Dim)
		}
		channels = len(q.Scale)
		for _, d := range def.Shape[q.Dim+1:] {
			inner *= d
		}
	}
	zeroPoint := func(c int) float32 {
		if c < len(q.ZeroPoint) {
			return float32(q.ZeroPoint[c])
		}
		return 0
	}
	for i := range out {
		c := (i / inner) % channels
		var v float32
		switch def.Type {
		case tflite.Uint8:
			v = float32(data[i])
		case tflite.Int8:
			v = float32(int8(data[i]))
		case tflite.Int16:
			v = float32(int16(binary.LittleEndian.Uint16(data[2*i:])))
		case tflite.Int32:
			v = float32(int32(binary.LittleEndian.Uint32(data[4*i:])))
		default:
			return nil, fmt.Errorf("cannot dequantize %s", def.Type)
		}
		out[i] = q.Scale[c] * (v - zeroPoint(c))
	}
	return out, nil
}
