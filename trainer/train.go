// Package trainer makes an image classifier for a camera from a folder of
// labelled photos: transfer learning from an ImageNet backbone (.tflite),
// a new head trained on its cached features, export to a float .tflite and
// an int8 one, and reports (metrics, confusion matrix, curves, mistakes,
// model card).
//
// The path of a run (Train): OpenDataset -> CheckData -> SplitData ->
// LoadBackbone -> extractFeatures (cached) -> trainHead -> export ->
// evaluate -> reports.
package trainer

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/edgeclass/edgeclass/camera"
	"github.com/edgeclass/edgeclass/tflite"
)

// Names of the models in the output folder.
const (
	FloatModelFile = "model_float.tflite"
	Int8ModelFile  = "model_int8.tflite"
)

// Config is a training run.
type Config struct {
	Data     string // DIR/<class>/*.jpg, or DIR/{train,val,test}/<class>/*.jpg
	Backbone string // an image classifier or feature extractor .tflite
	Out      string // output folder (created)

	FeatureTensor string     // the backbone's feature tensor; "" finds it
	Fit           camera.Fit // how images meet the input size (as on the device)
	Seed          uint64     // split, augmentation, shuffling, dropout
	Ratios        Ratios     // split shares, unless the data is presplit
	SplitFile     string     // reuse the split.json of an earlier run
	NearDuplicate int        // largest hash distance of near duplicates; <0 off
	Augment       Augment
	Head          HeadConfig
	FineTune      FineTuneConfig
	Int8          bool // also write the int8 model
	Workers       int  // parallel backbone runs; 0 means the number of CPUs
	Log           io.Writer
}

// DefaultConfig returns the defaults of every setting but the paths.
func DefaultConfig() Config {
	return Config{
		Seed:          1,
		Ratios:        Ratios{Train: 0.7, Val: 0.15, Test: 0.15},
		NearDuplicate: DefaultNearDuplicate,
		Augment:       Augment{Views: 2, Flip: true, Rotate: 15, Zoom: 0.2, Brightness: 0.2, Contrast: 0.2},
		Head:          DefaultHead,
		FineTune:      DefaultFineTune,
		Int8:          true,
	}
}

// Result is what a run produced.
type Result struct {
	Out       string
	Classes   []string
	Checks    *Checks
	Backbone  BackboneInfo
	History   []Epoch
	BestEpoch int
	// Stage 2, when run, and the metrics of the stage-1 head before it.
	FineTuneHistory []Epoch
	FineTuneBest    int
	HeadOnly        ModelMetrics
	// Float is the float model's metrics (computed on the cached features
	// of the same float graph); Int8 the int8 model's, run by the engine.
	Float, Int8 ModelMetrics
	Files       []OutputFile
	Durations   map[string]float64 // seconds per stage
}

// ModelMetrics are a model's metrics on the validation and test splits.
type ModelMetrics struct {
	Path string   `json:"path,omitempty"`
	Val  *Metrics `json:"val,omitempty"`
	Test *Metrics `json:"test,omitempty"`
}

// OutputFile is a file of the output folder with its checksum.
type OutputFile struct {
	Name   string `json:"name"`
	Bytes  int64  `json:"bytes"`
	SHA256 string `json:"sha256"`
}

func (c *Config) check() error {
	switch {
	case c.Data == "":
		return fmt.Errorf("no data folder given")
	case c.Backbone == "":
		return fmt.Errorf("no backbone model given")
	case c.Out == "":
		return fmt.Errorf("no output folder given")
	}
	if c.SplitFile == "" {
		if err := c.Ratios.Check(); err != nil {
			return err
		}
	}
	if err := c.Augment.Check(); err != nil {
		return err
	}
	if err := c.FineTune.Check(); err != nil {
		return err
	}
	return c.Head.Check()
}

// Train runs the whole recipe and writes the models and reports into
// cfg.Out.
func Train(ctx context.Context, cfg Config) (*Result, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	if cfg.Workers <= 0 {
		cfg.Workers = runtime.NumCPU()
	}
	log := cfg.Log
	if log == nil {
		log = io.Discard
	}
	if err := os.MkdirAll(cfg.Out, 0o755); err != nil {
		return nil, err
	}
	res := &Result{Out: cfg.Out, Durations: map[string]float64{}}
	stage := time.Now()
	lap := func(name string) {
		res.Durations[name] = time.Since(stage).Seconds()
		stage = time.Now()
	}

	// Data, checks, split.
	fmt.Fprintf(log, "reading %s\n", cfg.Data)
	ds, err := OpenDataset(ctx, cfg.Data, cfg.Workers)
	if err != nil {
		return nil, err
	}
	res.Classes = ds.Classes
	res.Checks = CheckData(ds, cfg.NearDuplicate)
	if err := writeJSON(filepath.Join(cfg.Out, "checks.json"), res.Checks); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(cfg.Out, "checks.txt"), []byte(res.Checks.Summary()), 0o644); err != nil {
		return nil, err
	}
	fmt.Fprint(log, res.Checks.brief())
	if cfg.SplitFile != "" {
		var missing []string
		if missing, err = ApplySplitFile(cfg.SplitFile, ds); err == nil && len(missing) > 0 {
			err = fmt.Errorf("split file %s does not list %d images of the data, e.g. %s", cfg.SplitFile, len(missing), missing[0])
		}
	} else {
		err = SplitData(ds, res.Checks, cfg.Ratios, cfg.Seed)
	}
	if err != nil {
		return nil, err
	}
	if err := WriteSplit(cfg.Out, ds, cfg.Ratios, cfg.Seed); err != nil {
		return nil, fmt.Errorf("write split: %w", err)
	}
	fmt.Fprint(log, splitTable(ds))
	// Before the features, which take minutes.
	if len(ds.Subset(SplitTest)) == 0 {
		return nil, fmt.Errorf("split: the test split is empty; give it a share (--split) or a test/ folder")
	}
	lap("data")

	// Backbone and features.
	bb, err := LoadBackbone(cfg.Backbone, cfg.FeatureTensor, cfg.Fit)
	if err != nil {
		return nil, err
	}
	res.Backbone = bb.Source
	fmt.Fprintf(log, "backbone: %s, cut at %q (%d features, %d operators, input %dx%d)\n",
		filepath.Base(cfg.Backbone), bb.Feature, bb.Dim, bb.Source.Operators, bb.Spec.Width, bb.Spec.Height)
	// The tensors to compute once per image and view: the features, and
	// for stage 2 the input of the top part that is trained.
	tensors := []int{bb.Model.Main().Outputs[0]}
	var top *topNet
	if cfg.FineTune.Layers > 0 {
		if top, err = newTopNet(bb.Model, cfg.FineTune.Layers); err != nil {
			return nil, err
		}
		tensors = append(tensors, top.cut)
		fmt.Fprintf(log, "fine-tune: %d convolution layers above %q (%d values per image)\n",
			top.trains, bb.Model.Main().Tensors[top.cut].Name, top.elems(top.cut))
	}
	var caches []*featureCache
	for k, t := range tensors {
		key := bb.Hash
		if k > 0 {
			key = hashString(bb.Hash + "\x00" + bb.Model.Main().Tensors[t].Name)
		}
		c, err := openCache(filepath.Join(cfg.Out, "cache"), key, topElems(bb.Model, t))
		if err != nil {
			return nil, err
		}
		caches = append(caches, c)
	}
	vals, err := extractFeatures(ctx, bb, tensors, caches, ds, cfg.Augment, cfg.Seed, cfg.Workers, log)
	for _, c := range caches {
		if cerr := c.close(); err == nil && cerr != nil {
			err = fmt.Errorf("feature cache: %w", cerr)
		}
	}
	if err != nil {
		return nil, err
	}
	lap("features")

	// Stage 1: the head on the features.
	split := func(f *Features, name string) (examples, []int) {
		idx := ds.Subset(name)
		ex := examples{}
		for _, i := range idx {
			ex.x = append(ex.x, f.Vec[i])
			ex.y = append(ex.y, ds.Items[i].Class)
		}
		return ex, idx
	}
	train, _ := split(vals[0], SplitTrain)
	val, _ := split(vals[0], SplitVal)
	test, testIdx := split(vals[0], SplitTest)
	head, hist, best, err := trainHead(train, val, len(ds.Classes), cfg.Head, cfg.Seed, log)
	if err != nil {
		return nil, err
	}
	res.History, res.BestEpoch = hist, best
	lap("train")

	// Stage 2: the top of the backbone with the head.
	if top != nil {
		res.HeadOnly.Val, _ = headMetrics(head, ds, val, nil)
		res.HeadOnly.Test, _ = headMetrics(head, ds, test, nil)
		fmt.Fprintf(log, "stage 1 (head only): %s\n", accuracies(res.HeadOnly))
		ctrain, _ := split(vals[1], SplitTrain)
		cval, _ := split(vals[1], SplitVal)
		ctest, _ := split(vals[1], SplitTest)
		m, h2, hist2, best2, err := fineTune(top, head, ctrain, cval, cfg.FineTune, cfg.Head, cfg.Seed, log)
		if err != nil {
			return nil, err
		}
		head, res.FineTuneHistory, res.FineTuneBest = h2, hist2, best2
		bb = bb.withModel(m)
		// The features of the evaluated images change with the backbone.
		val.x = wrapViews(top.features(cval, cfg.Head.BatchSize))
		test.x = wrapViews(top.features(ctest, cfg.Head.BatchSize))
		lap("fine-tune")
	}

	valM, _ := headMetrics(head, ds, val, nil)
	testM, testPreds := headMetrics(head, ds, test, testIdx)
	res.Float = ModelMetrics{Val: valM, Test: testM}
	fmt.Fprintf(log, "float model: %s\n", accuracies(res.Float))

	// Export and int8.
	floatModel, err := floatClassifier(bb, head, ds.Classes)
	if err != nil {
		return nil, err
	}
	if err := verifyExport(floatModel, bb, head, ds, testIdx, test); err != nil {
		return nil, err
	}
	floatModel.SetLabels(ds.Classes)
	res.Float.Path = filepath.Join(cfg.Out, FloatModelFile)
	if err := writeModel(res.Float.Path, floatModel); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(cfg.Out, "labels.txt"), []byte(strings.Join(ds.Classes, "\n")+"\n"), 0o644); err != nil {
		return nil, err
	}
	lap("export")

	var int8Res *EvalResult
	if cfg.Int8 {
		calib := calibrationItems(ds, cfg.Seed)
		fmt.Fprintf(log, "int8: quantizing with %d training images for calibration\n", len(calib))
		q, err := quantizeInt8(floatModel, ds, calib, cfg.Fit, cfg.Workers)
		if err != nil {
			return nil, fmt.Errorf("int8: %w", err)
		}
		res.Int8.Path = filepath.Join(cfg.Out, Int8ModelFile)
		if err := writeModel(res.Int8.Path, q); err != nil {
			return nil, err
		}
		// Evaluate the file as written, as the device will run it.
		qm, err := tflite.LoadFile(res.Int8.Path)
		if err != nil {
			return nil, fmt.Errorf("int8: the written model does not load: %w", err)
		}
		if int8Res, err = EvaluateModel(ctx, qm, nil, ds, testIdx, cfg.Fit, cfg.Workers, log); err != nil {
			return nil, fmt.Errorf("int8: %w", err)
		}
		// The float model was measured on every test image; so must be this one.
		if s := int8Res.Skipped; len(s) > 0 {
			return nil, fmt.Errorf("int8: %d test images can no longer be decoded (e.g. %s: %s)", len(s), s[0].Path, s[0].Reason)
		}
		res.Int8.Test = &int8Res.Metrics
		lap("int8")
	}

	// Reports.
	if err := writeTrainReports(&cfg, ds, res, &EvalResult{Metrics: *testM, Predictions: testPreds}, int8Res); err != nil {
		return nil, fmt.Errorf("reports: %w", err)
	}
	lap("reports")
	fmt.Fprint(log, summaryTable(res))
	return res, nil
}

// calibrationItems picks up to 200 training images at random (seeded) for
// int8 calibration; a shuffle of a stratified split keeps the class mix.
func calibrationItems(ds *Dataset, seed uint64) []int {
	idx := ds.Subset(SplitTrain)
	rng := rand.New(rand.NewPCG(seed, 0x63616c6962))
	rng.Shuffle(len(idx), func(i, j int) { idx[i], idx[j] = idx[j], idx[i] })
	return idx[:min(len(idx), 200)]
}

// accuracies is a one-line account of a model's metrics.
func accuracies(m ModelMetrics) string {
	var parts []string
	for _, s := range []struct {
		name string
		m    *Metrics
	}{{SplitVal, m.Val}, {SplitTest, m.Test}} {
		if s.m != nil {
			parts = append(parts, fmt.Sprintf("%s accuracy %.2f%% (%d images)", s.name, 100*s.m.Accuracy, s.m.N))
		}
	}
	return strings.Join(parts, ", ")
}

// headMetrics evaluates the head on view 0 of the examples; idx (when not
// nil) names their items, for the predictions.
func headMetrics(h *Head, ds *Dataset, ex examples, idx []int) (*Metrics, []Prediction) {
	if len(ex.y) == 0 {
		return nil, nil
	}
	p := make([]float32, h.Classes)
	truth := make([]int, len(ex.y))
	pred := make([]int, len(ex.y))
	var preds []Prediction
	for i, y := range ex.y {
		h.Probs(ex.x[i][0], p)
		truth[i], pred[i] = y, argmax(p)
		if idx != nil {
			preds = append(preds, Prediction{Path: ds.Items[idx[i]].Rel, Truth: y, Pred: pred[i], Label: ds.Classes[pred[i]], Score: p[pred[i]]})
		}
	}
	m := ComputeMetrics(ds.Classes, truth, pred)
	return &m, preds
}
