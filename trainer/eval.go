package trainer

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"

	"github.com/edgeclass/edgeclass/camera"
	"github.com/edgeclass/edgeclass/classify"
	"github.com/edgeclass/edgeclass/internal/progress"
	"github.com/edgeclass/edgeclass/quantize"
	"github.com/edgeclass/edgeclass/tflite"
)

// Prediction is a model's answer for one image.
type Prediction struct {
	Path  string  `json:"path"`
	Truth int     `json:"truth"` // class index
	Pred  int     `json:"pred"`  // class index, -1 for a label the data does not have
	Label string  `json:"label"` // the model's label of its top output
	Score float32 `json:"score"`
}

// EvalResult is the evaluation of a model on labelled images.
type EvalResult struct {
	Metrics     Metrics      `json:"metrics"`
	Predictions []Prediction `json:"predictions"`
	// Skipped are the images that could not be read or decoded; the
	// metrics leave them out.
	Skipped []Skipped `json:"skipped,omitempty"`
}

// MatchLabels maps each data class to the model output with the same label
// (as quantize.MatchClasses matches them). labels may omit a leading
// background class (one label fewer than outputs). It fails naming the
// classes the model does not know.
func MatchLabels(classes, labels []string, outputs int) ([]int, error) {
	if len(labels) == 0 {
		return nil, fmt.Errorf("the model has no labels (metadata or labels.txt); pass a labels file")
	}
	if len(labels) != outputs && len(labels) != outputs-1 {
		return nil, fmt.Errorf("%d labels for %d model outputs", len(labels), outputs)
	}
	out, err := quantize.MatchClasses(classes, labels)
	if err != nil {
		return nil, err
	}
	for c := range out {
		out[c] += outputs - len(labels)
	}
	return out, nil
}

// EvaluateModel classifies the given items (indices into ds.Items) with
// model m, using labels (nil: the model's own) to match outputs to the
// data's classes. Each worker runs its own single-threaded classifier.
func EvaluateModel(ctx context.Context, m *tflite.Model, labels []string, ds *Dataset, items []int, fit camera.Fit, workers int, log io.Writer) (*EvalResult, error) {
	if labels == nil {
		labels = m.Labels()
	}
	workers = max(1, min(workers, len(items)))
	cls := make([]*classify.Classifier, workers)
	for w := range cls {
		c, err := classify.New(m, classify.Options{Threads: 1, Labels: labels, Fit: fit})
		if err != nil {
			return nil, err
		}
		defer c.Close()
		cls[w] = c
	}
	outputs := len(cls[0].Scores())
	toClass, err := MatchLabels(ds.Classes, labels, outputs)
	if err != nil {
		return nil, err
	}
	fromOutput := make([]int, outputs)
	for i := range fromOutput {
		fromOutput[i] = -1
	}
	for c, o := range toClass {
		fromOutput[o] = c
	}
	preds := make([]Prediction, len(items))
	unusable := make([]error, len(items))
	errs := make([]error, len(items))
	prog := progress.New(log, "evaluate", len(items))
	err = forEach(ctx, len(items), workers, func(w, k int) {
		it := &ds.Items[items[k]]
		img, err := ds.Load(it)
		if err != nil {
			unusable[k] = err
			prog.Add(1, "")
			return
		}
		top, err := cls[w].Classify(img, 1)
		if err != nil {
			errs[k] = fmt.Errorf("%s: %w", it.Rel, err)
			return
		}
		preds[k] = Prediction{Path: it.Rel, Truth: it.Class, Pred: fromOutput[top[0].Index], Label: top[0].Label, Score: top[0].Score}
		prog.Add(1, "")
	})
	if err != nil {
		return nil, err
	}
	prog.Finish("")
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("evaluate: %w", err)
	}
	res := &EvalResult{}
	for k, p := range preds {
		if unusable[k] != nil {
			res.Skipped = append(res.Skipped, Skipped{ds.Items[items[k]].Rel, unusable[k].Error()})
			continue
		}
		res.Predictions = append(res.Predictions, p)
	}
	if len(res.Predictions) == 0 {
		return nil, fmt.Errorf("evaluate: none of the %d images could be decoded (e.g. %s: %s)", len(items), res.Skipped[0].Path, res.Skipped[0].Reason)
	}
	truth := make([]int, len(res.Predictions))
	pred := make([]int, len(res.Predictions))
	for k, p := range res.Predictions {
		truth[k], pred[k] = p.Truth, p.Pred
	}
	res.Metrics = ComputeMetrics(ds.Classes, truth, pred)
	return res, nil
}

// EvalConfig is an evaluation of a model on a labelled folder.
type EvalConfig struct {
	Model  string // .tflite
	Data   string // DIR/<class>/*.jpg (or presplit)
	Labels string // labels file; "" uses the model's metadata
	// SplitFile and Subset restrict the evaluation to one split of an
	// earlier training run (e.g. its split.json and "test"); with Subset
	// alone on presplit data, that folder's images.
	SplitFile string
	Subset    string
	Fit       camera.Fit
	Workers   int
	Out       string // when set, reports are written there
	Log       io.Writer
}

// Eval evaluates a model on a labelled folder and, when cfg.Out is set,
// writes metrics.json, confusion.txt, confusion.png and errors.png there.
func Eval(ctx context.Context, cfg EvalConfig) (*EvalResult, error) {
	if cfg.Model == "" || cfg.Data == "" {
		return nil, fmt.Errorf("need a model and a data folder")
	}
	if cfg.Workers <= 0 {
		cfg.Workers = runtime.NumCPU()
	}
	m, err := tflite.LoadFile(cfg.Model)
	if err != nil {
		return nil, err
	}
	var labels []string
	if cfg.Labels != "" {
		data, err := os.ReadFile(cfg.Labels)
		if err != nil {
			return nil, err
		}
		labels = tflite.SplitLabels(data)
	}
	ds, err := ScanDataset(ctx, cfg.Data, cfg.Workers)
	if err != nil {
		return nil, err
	}
	if cfg.Log != nil && len(ds.Skipped) > 0 {
		fmt.Fprintf(cfg.Log, "skipped %d files that are not usable images (e.g. %s: %s)\n", len(ds.Skipped), ds.Skipped[0].Path, ds.Skipped[0].Reason)
	}
	if cfg.SplitFile != "" {
		missing, err := ApplySplitFile(cfg.SplitFile, ds)
		if err != nil {
			return nil, err
		}
		if cfg.Log != nil && len(missing) > 0 {
			fmt.Fprintf(cfg.Log, "%d images are not in %s and are left out (e.g. %s)\n", len(missing), cfg.SplitFile, missing[0])
		}
	}
	var items []int
	for i, it := range ds.Items {
		if cfg.Subset == "" && (cfg.SplitFile == "" || it.Split != "") || cfg.Subset != "" && it.Split == cfg.Subset {
			items = append(items, i)
		}
	}
	if len(items) == 0 {
		return nil, fmt.Errorf("no images to evaluate (subset %q)", cfg.Subset)
	}
	res, err := EvaluateModel(ctx, m, labels, ds, items, cfg.Fit, cfg.Workers, cfg.Log)
	if err != nil {
		return nil, err
	}
	if cfg.Log != nil && len(res.Skipped) > 0 {
		fmt.Fprintf(cfg.Log, "left out %d images that could not be decoded (e.g. %s: %s)\n", len(res.Skipped), res.Skipped[0].Path, res.Skipped[0].Reason)
	}
	if cfg.Out != "" {
		if err := os.MkdirAll(cfg.Out, 0o755); err != nil {
			return nil, err
		}
		if err := writeJSON(filepath.Join(cfg.Out, "metrics.json"), res); err != nil {
			return nil, err
		}
		title := filepath.Base(cfg.Model) + " on " + filepath.Base(cfg.Data)
		if err := writeEvalReport(cfg.Out, "", title, ds, res); err != nil {
			return nil, err
		}
	}
	return res, nil
}
