package main

import (
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgeclass/edgeclass/quantize"
	"github.com/edgeclass/edgeclass/tflite"
)

// TestQuantizeCommand runs edgeclass quantize end to end on a small float
// image classifier and random PNG photos in two class folders.
func TestQuantizeCommand(t *testing.T) {
	dir := t.TempDir()
	r := rand.New(rand.NewPCG(1, 2))
	g := tflite.NewGraphBuilder()
	weights := func(shape []int) int {
		n := 1
		for _, d := range shape {
			n *= d
		}
		v := make([]float32, n)
		for i := range v {
			v[i] = r.Float32() - 0.5
		}
		return g.AddConst(fmt.Sprintf("w%d", n), tflite.Float32, shape, nil, tflite.ToBytes(v))
	}
	in := g.AddTensor("image", tflite.Float32, []int{1, 8, 8, 3}, nil)
	x := g.AddTensor("features", tflite.Float32, []int{1, 4, 4, 4}, nil)
	g.AddOp(tflite.OpConv2D, &tflite.Conv2DOptions{Padding: tflite.PaddingSame, StrideW: 2, StrideH: 2, Activation: tflite.ActRelu6, DilationW: 1, DilationH: 1},
		[]int{in, weights([]int{4, 3, 3, 3}), weights([]int{4})}, []int{x})
	p := g.AddTensor("pooled", tflite.Float32, []int{1, 1, 1, 4}, nil)
	g.AddOp(tflite.OpAveragePool2D, &tflite.Pool2DOptions{Padding: tflite.PaddingValid, StrideW: 4, StrideH: 4, FilterW: 4, FilterH: 4}, []int{x}, []int{p})
	f := g.AddTensor("flat", tflite.Float32, []int{1, 4}, nil)
	shape := g.AddConst("shape", tflite.Int32, []int{2}, nil, tflite.ToBytes([]int32{1, 4}))
	g.AddOp(tflite.OpReshape, &tflite.ReshapeOptions{NewShape: []int{1, 4}}, []int{p, shape}, []int{f})
	l := g.AddTensor("logits", tflite.Float32, []int{1, 2}, nil)
	g.AddOp(tflite.OpFullyConnected, &tflite.FullyConnectedOptions{}, []int{f, weights([]int{2, 4}), weights([]int{2})}, []int{l})
	y := g.AddTensor("probabilities", tflite.Float32, []int{1, 2}, nil)
	g.AddOp(tflite.OpSoftmax, &tflite.SoftmaxOptions{Beta: 1}, []int{l}, []int{y})
	g.SetInputs(in)
	g.SetOutputs(y)
	g.Model().SetLabels([]string{"dark", "light"})
	data, err := g.Model().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	modelPath := filepath.Join(dir, "float.tflite")
	if err := os.WriteFile(modelPath, data, 0o644); err != nil {
		t.Fatal(err)
	}
	photos := filepath.Join(dir, "photos")
	for i := 0; i < 24; i++ {
		class, base := "dark", 40
		if i%2 == 1 {
			class, base = "light", 200
		}
		img := image.NewRGBA(image.Rect(0, 0, 20, 16))
		for p := 0; p < len(img.Pix); p += 4 {
			v := uint8(base + r.IntN(50) - 25)
			img.Pix[p], img.Pix[p+1], img.Pix[p+2], img.Pix[p+3] = v, v, uint8(r.IntN(256)), 255
		}
		path := filepath.Join(photos, class, fmt.Sprintf("%d.png", i))
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		fh, err := os.Create(path)
		if err != nil {
			t.Fatal(err)
		}
		if err := png.Encode(fh, img); err != nil {
			t.Fatal(err)
		}
		fh.Close()
	}

	out, report := filepath.Join(dir, "int8.tflite"), filepath.Join(dir, "report.json")
	err = runQuantize([]string{"--model", modelPath, "--calibration", photos, "--max-images", "12", "--out", out,
		"--eval", photos, "--report", report, "--edgetpu", "--method", "mse", "--threads", "1"})
	if err != nil {
		t.Fatal(err)
	}
	qm, err := tflite.LoadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if in := qm.Main().Tensors[qm.Main().Inputs[0]]; in.Type != tflite.Uint8 {
		t.Errorf("--edgetpu model input is %s, want uint8", in.Type)
	}
	if got := strings.Join(qm.Labels(), ","); got != "dark,light" {
		t.Errorf("labels %q were not carried over", got)
	}
	var rep quantize.Report
	j, err := os.ReadFile(report)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(j, &rep); err != nil {
		t.Fatal(err)
	}
	if rep.CalibrationSamples != 12 || rep.Eval == nil || rep.Eval.Samples != 12 || rep.Eval.Labels != "folders" ||
		len(rep.Layers) == 0 || len(rep.Ranges) == 0 || !rep.EdgeTPUChecked || rep.QuantBytes == 0 || rep.Method != "mse" {
		t.Errorf("report: %s", j)
	}

	// Clear, early errors.
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--model", modelPath, "--calibration", photos, "--out", out, "--max-images", "5"}, "5 images, at least 10"},
		{[]string{"--model", modelPath, "--calibration", photos, "--out", out, "--input-type", "int16"}, "int16"},
		{[]string{"--model", modelPath, "--calibration", photos, "--out", out, "--refine", "all"}, "--refine"},
		{[]string{"--model", filepath.Join(dir, "missing.tflite"), "--calibration", photos, "--out", out}, "missing.tflite"},
	} {
		if err := runQuantize(c.args); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: error %v, want one saying %q", c.args, err, c.want)
		}
	}
}
