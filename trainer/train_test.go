package trainer

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/edgeclass/edgeclass/camera"
	"github.com/edgeclass/edgeclass/internal/testenv"
	"github.com/edgeclass/edgeclass/tflite"
)

// shapesConfig is a small, fast training run on the synthetic shapes.
func shapesConfig(t *testing.T, data string) Config {
	cfg := DefaultConfig()
	cfg.Data, cfg.Backbone, cfg.Out = data, smallBackbone(t), t.TempDir()
	cfg.Augment.Views = 1
	cfg.Head.Epochs = 25
	cfg.Workers = 2
	return cfg
}

// TestTrainShapes trains on coloured shapes end to end and checks that the
// model learnt, that the float model file runs in the engine and in
// Google's runtime with the same answers, and that the reports are there.
func TestTrainShapes(t *testing.T) {
	if testing.Short() {
		t.Skip("trains a model (about 20 s)")
	}
	data := makeShapes(t, t.TempDir(), 30, 1)
	cfg := shapesConfig(t, data)
	res, err := Train(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	// 3 classes: chance is 33%.
	if acc := res.Float.Test.Accuracy; acc < 0.75 {
		t.Errorf("float test accuracy %.2f, want >= 0.75 (chance 0.33)", acc)
	}
	if res.Int8.Test == nil || res.Int8.Test.Accuracy < 0.75 {
		t.Errorf("int8 test metrics %+v, want accuracy >= 0.75", res.Int8.Test)
	}
	for _, f := range []string{FloatModelFile, Int8ModelFile, "int8_confusion.png", "int8_errors.png", "labels.txt", "split.json", "split.csv", "checks.json", "checks.txt", "metrics.json",
		"model_card.json", "model_card.md", "curves.png", "float_confusion.txt", "float_confusion.png", "float_errors.png"} {
		if st, err := os.Stat(filepath.Join(cfg.Out, f)); err != nil || st.Size() == 0 {
			t.Errorf("%s: %v", f, err)
		}
	}
	m, err := tflite.LoadFile(res.Float.Path)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(m.Labels(), shapeClasses) {
		t.Errorf("model labels %v, want %v", m.Labels(), shapeClasses)
	}
	// The file, run by the engine and by Google's runtime, gives the
	// predictions the metrics were computed from.
	oracle := testenv.Oracle(t)
	ds, err := OpenDataset(context.Background(), data, 2)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ApplySplitFile(filepath.Join(cfg.Out, "split.json"), ds); err != nil {
		t.Fatal(err)
	}
	it, err := tflite.NewInterpreter(m, nil)
	if err != nil {
		t.Fatal(err)
	}
	spec, err := camera.SpecFor(m, it.Input(0))
	if err != nil {
		t.Fatal(err)
	}
	test := ds.Subset(SplitTest)
	correct := 0
	for k, i := range test {
		img, err := ds.Load(&ds.Items[i])
		if err != nil {
			t.Fatal(err)
		}
		spec.Load(it.Input(0), img)
		// The engine may reuse the input's memory during Invoke.
		input := append([]byte(nil), it.Input(0).Bytes()...)
		it.Invoke()
		ours := it.Output(0).Float32s()
		if argmax(ours) == ds.Items[i].Class {
			correct++
		}
		if k >= 4 {
			continue // the oracle takes a second per image
		}
		theirs := runOracle(t, oracle, m, input)
		for c := range ours {
			if math.Abs(float64(ours[c]-theirs[c])) > 1e-4 {
				t.Errorf("%s: our engine %v, Google's runtime %v", ds.Items[i].Rel, ours, theirs)
				break
			}
		}
	}
	if correct != res.Float.Test.Correct {
		t.Errorf("the model file gets %d test images right, the metrics say %d", correct, res.Float.Test.Correct)
	}

	// The int8 model: Google's runtime computes exactly what ours does.
	q, err := tflite.LoadFile(res.Int8.Path)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(q.Labels(), shapeClasses) {
		t.Errorf("int8 model labels %v", q.Labels())
	}
	qi, err := tflite.NewInterpreter(q, nil)
	if err != nil {
		t.Fatal(err)
	}
	qspec, err := camera.SpecFor(q, qi.Input(0))
	if err != nil {
		t.Fatal(err)
	}
	for _, i := range test[:4] {
		img, _ := ds.Load(&ds.Items[i])
		qspec.Load(qi.Input(0), img)
		input := append([]byte(nil), qi.Input(0).Bytes()...)
		qi.Invoke()
		theirs := runOracleRaw(t, oracle, q, input)
		if !bytes.Equal(theirs, qi.Output(0).Bytes()) {
			t.Errorf("%s: int8 outputs differ: ours %v, Google's runtime %v", ds.Items[i].Rel, qi.Output(0).Bytes(), theirs)
		}
	}
}

// runOracle runs a float model in Google's runtime on one input tensor.
func runOracle(t *testing.T, oracle string, m *tflite.Model, input []byte) []float32 {
	t.Helper()
	data := runOracleRaw(t, oracle, m, input)
	out := make([]float32, len(data)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(data[4*i:]))
	}
	return out
}

// runOracleRaw runs a model in Google's runtime on one input tensor and
// returns output 0's bytes.
func runOracleRaw(t *testing.T, oracle string, m *tflite.Model, input []byte) []byte {
	t.Helper()
	sg := m.Main()
	names := make([]string, len(sg.Outputs))
	for i, o := range sg.Outputs {
		names[i] = sg.Tensors[o].Name
	}
	outs, err := testenv.RunOracle(t, oracle, m.Raw(), [][]byte{input}, names)
	if err != nil {
		t.Fatal(err)
	}
	return outs[0]
}

// TestTrainReproducible trains twice with one seed and once with another:
// the same seed gives the same split and metrics, on CPU bit for bit.
func TestTrainReproducible(t *testing.T) {
	if testing.Short() {
		t.Skip("trains three models")
	}
	data := makeShapes(t, t.TempDir(), 15, 2)
	run := func(seed uint64) (split, metrics, model []byte) {
		cfg := shapesConfig(t, data)
		cfg.Seed = seed
		cfg.Head.Epochs = 8
		cfg.Int8 = false
		if _, err := Train(context.Background(), cfg); err != nil {
			t.Fatal(err)
		}
		split, _ = os.ReadFile(filepath.Join(cfg.Out, "split.json"))
		metrics, _ = os.ReadFile(filepath.Join(cfg.Out, "metrics.json"))
		model, _ = os.ReadFile(filepath.Join(cfg.Out, FloatModelFile))
		return split, metrics, model
	}
	s1, m1, f1 := run(1)
	s2, m2, f2 := run(1)
	s3, m3, _ := run(2)
	if !bytes.Equal(s1, s2) || !bytes.Equal(m1, m2) || !bytes.Equal(f1, f2) {
		t.Error("the same seed gave a different split, metrics or model")
	}
	if bytes.Equal(s1, s3) || bytes.Equal(m1, m3) {
		t.Error("seeds 1 and 2 gave the same split or metrics")
	}
	var mj map[string]any
	if err := json.Unmarshal(m1, &mj); err != nil || mj["float"] == nil || mj["history"] == nil {
		t.Errorf("metrics.json: %v %v", err, mj)
	}
}

func TestTrainBadInputs(t *testing.T) {
	data := makeShapes(t, t.TempDir(), 4, 3)
	cases := []struct {
		name string
		edit func(c *Config)
		want string
	}{
		{"no data", func(c *Config) { c.Data = "" }, "no data folder"},
		{"bad split", func(c *Config) { c.Ratios = Ratios{0.5, 0.5, 0.5} }, "must be >= 0"},
		{"no test split", func(c *Config) { c.Ratios = Ratios{0.8, 0.2, 0} }, "test split is empty"},
		{"bad augment", func(c *Config) { c.Augment.Zoom = 2 }, "zoom"},
		{"bad head", func(c *Config) { c.Head.Balance = "x" }, "balance"},
		{"backbone without feature layer", func(c *Config) { c.FeatureTensor = "input" }, "a feature vector is"},
		{"backbone is not a model", func(c *Config) { c.Backbone = filepath.Join(data, "circle", "circle_aa.png") }, "backbone"},
		{"too many fine-tune layers", func(c *Config) { c.FineTune.Layers = 99 }, "fine-tune: the backbone has"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			cfg := shapesConfig(t, data)
			c.edit(&cfg)
			_, err := Train(context.Background(), cfg)
			if err == nil || !bytes.Contains([]byte(err.Error()), []byte(c.want)) {
				t.Errorf("error %v, want one containing %q", err, c.want)
			}
		})
	}
}
