package trainer

import (
	"encoding/binary"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgeclass/edgeclass/camera"
	"github.com/edgeclass/edgeclass/internal/testenv"
	"github.com/edgeclass/edgeclass/tflite"
)

func TestFindFeature(t *testing.T) {
	cases := []struct {
		model, feature string
		dim            int
	}{
		{"mobilenet_v2_1.0_224_quant.tflite", "MobilenetV2/Logits/AvgPool", 1280},
		{"tf2_mobilenet_v2_1.0_224_ptq.tflite", "MobileNetV2/top/GlobalPool/Mean", 1280},
		{"mobilenet_v1_0.25_128_quant.tflite", "MobilenetV1/Logits/AvgPool_1a/AvgPool", 256},
		{"mobilenet_v1_0.25_224_float.tflite", "MobilenetV1/Logits/AvgPool_1a/AvgPool", 256},
		{"mobilenet_v1_1.0_224_quant_embedding_extractor.tflite", "", 1024}, // its output
		{"automl_labeler_model.tflite", "MobilenetV2/Logits/AvgPool", 1280},
	}
	for _, c := range cases {
		t.Run(c.model, func(t *testing.T) {
			bb, err := LoadBackbone(testenv.TestData(t, "models/"+c.model), "", camera.Squash)
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(bb.Feature, c.feature) || bb.Dim != c.dim {
				t.Errorf("cut at %q (%d features), want %q (%d)", bb.Feature, bb.Dim, c.feature, c.dim)
			}
			sg := bb.Model.Main()
			for i, td := range sg.Tensors {
				if td.Type != tflite.Float32 && td.Type != tflite.Int32 {
					t.Errorf("tensor %d %q is %s in the float graph", i, td.Name, td.Type)
				}
			}
			for _, op := range sg.Operators {
				if op.Op == tflite.OpQuantize || op.Op == tflite.OpDequantize || op.Op == tflite.OpSoftmax {
					t.Errorf("float graph keeps a %s", op.Op)
				}
			}
		})
	}
}

// TestFloatGraphMatchesQuantized runs the dequantized float graph of whole
// quantized classifiers (cut at their output) beside the originals: the
// top class must agree. The AutoML model expresses its ReLU6 activations
// only through quantization ranges, which the float graph must restore.
func TestFloatGraphMatchesQuantized(t *testing.T) {
	images := []string{"grace_hopper.bmp", "cat.bmp", "bird.bmp", "parrot.jpg", "hot_dog.jpg", "sunflower.bmp", "burger.jpg"}
	for _, name := range []string{"mobilenet_v1_0.25_128_quant.tflite", "automl_labeler_model.tflite"} {
		t.Run(name, func(t *testing.T) {
			src, err := tflite.LoadFile(testenv.TestData(t, "models/"+name))
			if err != nil {
				t.Fatal(err)
			}
			spec, err := sourceSpec(src)
			if err != nil {
				t.Fatal(err)
			}
			fm, err := floatGraph(src, src.Main().Outputs[0], spec)
			if err != nil {
				t.Fatal(err)
			}
			fi, err := tflite.NewInterpreter(fm, nil)
			if err != nil {
				t.Fatal(err)
			}
			qi, err := tflite.NewInterpreter(src, nil)
			if err != nil {
				t.Fatal(err)
			}
			fspec, err := camera.SpecFor(fm, fi.Input(0))
			if err != nil {
				t.Fatal(err)
			}
			var l1 float64
			for _, im := range images {
				img, err := camera.LoadImage(testenv.TestData(t, "images/"+im))
				if err != nil {
					t.Fatal(err)
				}
				rgba := fspec.Resize(img)
				if err := fspec.Fill(fi.Input(0), rgba); err != nil {
					t.Fatal(err)
				}
				// The quantized model takes the pixels themselves (its
				// input quantization is the normalization).
				q := qi.Input(0).Uint8s()
				for i := 0; i < len(q)/3; i++ {
					copy(q[3*i:3*i+3], rgba.Pix[4*i:4*i+3])
				}
				fi.Invoke()
				qi.Invoke()
				fp, qp := fi.Output(0).Float32s(), qi.Output(0).Dequantized()
				if argmax(fp) != argmax(qp) {
					t.Errorf("%s: float graph says class %d (%.3f), quantized model %d (%.3f)", im, argmax(fp), fp[argmax(fp)], argmax(qp), qp[argmax(qp)])
				}
				for i := range fp {
					l1 += math.Abs(float64(fp[i] - qp[i]))
				}
			}
			// Probabilities sum to 1; quantization error moves a few percent.
			if l1 /= float64(len(images)); l1 > 0.3 {
				t.Errorf("mean L1 distance of the probabilities %.3f, want < 0.3", l1)
			}
		})
	}
}

func TestLoadBackboneErrors(t *testing.T) {
	v1 := testenv.TestData(t, "models/mobilenet_v1_0.25_128_quant.tflite")
	cases := []struct {
		path, feature, want string
	}{
		{v1, "no/such/tensor", `no tensor named "no/such/tensor"; candidates: ["MobilenetV1/Logits/AvgPool_1a/AvgPool"`},
		{v1, "MobilenetV1/MobilenetV1/Conv2d_13_pointwise/Relu6", "a feature vector is [1,C] or [1,1,1,C]"},
		{testenv.TestData(t, "models/mobilenet_quant_v1_224_head_layers.tflite"), "", "want [1, height, width, 3 or 1]"},
		{filepath.Join(t.TempDir(), "missing.tflite"), "", "no such file"},
	}
	for _, c := range cases {
		_, err := LoadBackbone(c.path, c.feature, camera.Squash)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %q: error %v, want one containing %q", filepath.Base(c.path), c.feature, err, c.want)
		}
	}
}

// TestFindFeatureWithoutClassifier checks the error for a graph that
// neither ends in a classifier nor in a feature vector.
func TestFindFeatureWithoutClassifier(t *testing.T) {
	sg := &tflite.Subgraph{
		Tensors: []tflite.TensorDef{
			{Name: "in", Type: tflite.Float32, Shape: []int{1, 8, 8, 3}},
			{Name: "w", Type: tflite.Float32, Shape: []int{4, 3, 3, 3}, Buffer: 1},
			{Name: "out", Type: tflite.Float32, Shape: []int{1, 8, 8, 4}},
		},
		Inputs: []int{0}, Outputs: []int{2},
		Operators: []tflite.Operator{{Op: tflite.OpConv2D, Inputs: []int{0, 1, -1}, Outputs: []int{2}, Options: &tflite.Conv2DOptions{StrideW: 1, StrideH: 1}}},
	}
	_, err := findFeature(sg)
	if err == nil || !strings.Contains(err.Error(), "no usable feature layer") || !strings.Contains(err.Error(), "--feature-tensor") {
		t.Errorf("error %v", err)
	}
}

func TestDequantize(t *testing.T) {
	perAxis := tflite.TensorDef{Type: tflite.Int8, Shape: []int{2, 1, 1, 3},
		Quant: &tflite.Quantization{Scale: []float32{0.5, 2}, ZeroPoint: []int64{0, 1}, Dim: 0}}
	got, err := dequantize(perAxis, []byte{2, 0xfe, 4, 1, 3, 0xff})
	want := []float32{1, -1, 2, 0, 4, -4}
	if err != nil || !equalF(got, want) {
		t.Errorf("per-axis int8: %v %v, want %v", got, err, want)
	}
	u8 := tflite.TensorDef{Type: tflite.Uint8, Shape: []int{3}, Quant: &tflite.Quantization{Scale: []float32{0.25}, ZeroPoint: []int64{128}}}
	if got, _ := dequantize(u8, []byte{128, 132, 0}); !equalF(got, []float32{0, 1, -32}) {
		t.Errorf("uint8: %v", got)
	}
	bias := tflite.TensorDef{Type: tflite.Int32, Shape: []int{2}, Quant: &tflite.Quantization{Scale: []float32{0.5}, ZeroPoint: []int64{0}}}
	b := make([]byte, 8)
	binary.LittleEndian.PutUint32(b, 10)
	binary.LittleEndian.PutUint32(b[4:], uint32(0xfffffffa)) // -6
	if got, _ := dequantize(bias, b); !equalF(got, []float32{5, -3}) {
		t.Errorf("int32 bias: %v", got)
	}
	half := tflite.TensorDef{Type: tflite.Float16, Shape: []int{5}}
	h := []byte{0x00, 0x3c, 0x00, 0xc0, 0xff, 0x7b, 0x01, 0x00, 0x00, 0x80}
	if got, _ := dequantize(half, h); !equalF(got, []float32{1, -2, 65504, 1.0 / (1 << 24), 0}) || !math.Signbit(float64(got[4])) {
		t.Errorf("float16: %v", got)
	}
	if _, err := dequantize(u8, []byte{1, 2}); err == nil {
		t.Error("short data accepted")
	}
	bad := perAxis
	bad.Quant = &tflite.Quantization{Scale: []float32{1, 1, 1}, ZeroPoint: []int64{0, 0, 0}, Dim: 0}
	if _, err := dequantize(bad, make([]byte, 6)); err == nil {
		t.Error("per-axis scales that do not fit the shape accepted")
	}
}

func equalF(a, b []float32) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
