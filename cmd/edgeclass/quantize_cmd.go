package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"runtime"

	"github.com/edgeclass/edgeclass/camera"
	"github.com/edgeclass/edgeclass/internal/progress"
	"github.com/edgeclass/edgeclass/quantize"
	"github.com/edgeclass/edgeclass/tflite"
)

func init() {
	register("quantize", "quantize a float .tflite model to full integer (int8)", runQuantize)
}

func runQuantize(args []string) error {
	fs := newFlags("quantize", "")
	modelPath := fs.String("model", "", "the float .tflite model (required)")
	calDir := fs.String("calibration", "", "folder of representative images, flat or one subfolder per class (required)")
	outPath := fs.String("out", "", "where to write the quantized model (required)")
	method := fs.String("method", "minmax", "how calibrated values become ranges: minmax, percentile or mse")
	pct := fs.Float64("percentile", quantize.DefaultPercentile, "percentile of the percentile method")
	minImages := fs.Int("min-images", quantize.DefaultMinSamples, "fewest calibration images accepted")
	maxImages := fs.Int("max-images", 0, "use at most this many calibration images, a seeded random subset (0: all)")
	seed := fs.Uint64("seed", 1, "seed of the random subsets")
	inType := fs.String("input-type", "", "type of the model's input: int8, uint8 or float32 (default int8; uint8 with --edgetpu)")
	outType := fs.String("output-type", "", "type of the model's output: int8, uint8 or float32 (default as --input-type)")
	perChannelFC := fs.Bool("per-channel-fc", false, "quantize FULLY_CONNECTED weights per output channel")
	refine := fs.String("refine", "refit", "lower the error on the calibration set: refit (pointwise weights and biases), bias (biases only) or off")
	edgeTPU := fs.Bool("edgetpu", false, "target the Edge TPU: 8-bit ends, and list the operators its compiler would leave to the CPU")
	evalDir := fs.String("eval", "", "folder of images to compare the models on, less the calibration images: class subfolders (labels) or flat (the float model's predictions are the labels)")
	evalMax := fs.Int("eval-max", 0, "compare on at most this many images, a seeded random subset (0: all)")
	labelsPath := fs.String("labels", "", "labels file of the model's output, to match class folders (default: the model's metadata)")
	reportPath := fs.String("report", "", "also write the report as JSON to this file")
	showRanges := fs.Bool("report-ranges", false, "print every activation's calibrated range and parameters")
	layers := fs.Int("layers", 10, "rows of the per-layer error table")
	threads := fs.Int("threads", runtime.NumCPU(), "inference threads")
	fit := fs.String("fit", "squash", "how images meet the input size: squash or crop")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if *modelPath == "" || *calDir == "" || *outPath == "" || len(pos) > 0 {
		fs.Usage()
		return fmt.Errorf("need --model, --calibration and --out, and no other arguments")
	}
	o := quantize.Options{Percentile: *pct, PerChannelFC: *perChannelFC}
	if o.Method, err = quantize.ParseMethod(*method); err != nil {
		return err
	}
	if o.Input, o.Output, err = endTypes(*inType, *outType, *edgeTPU); err != nil {
		return err
	}
	switch *refine {
	case "refit", "bias", "off":
	default:
		return fmt.Errorf("--refine %q: want refit, bias or off", *refine)
	}
	fitMode, err := camera.ParseFit(*fit)
	if err != nil {
		return err
	}

	// Everything that can be checked is checked before the long work.
	fm, err := tflite.LoadFile(*modelPath)
	if err != nil {
		return err
	}
	if err := quantize.Check(fm); err != nil {
		return fmt.Errorf("%s: %w", *modelPath, err)
	}
	cal, err := imageSet(*calDir, *maxImages, *seed, fitMode, nil)
	if err != nil {
		return fmt.Errorf("calibration: %w", err)
	}
	if cal.Len() < *minImages {
		return fmt.Errorf("calibration: %s has %d images, at least %d are needed (--min-images)", *calDir, cal.Len(), *minImages)
	}
	var ev *quantize.ImageSet
	var outputOfClass []int
	if *evalDir != "" {
		if ev, err = imageSet(*evalDir, *evalMax, *seed+1, fitMode, cal); err != nil {
			return fmt.Errorf("eval: %w", err)
		}
		if outputOfClass, err = classOutputs(fm, ev, *labelsPath); err != nil {
			return err
		}
	}

	bar := progress.New(os.Stderr, "calibrating", cal.Len())
	st, err := quantize.Calibrate(fm, cal, quantize.CalibrateOptions{MinSamples: *minImages, Threads: *threads,
		Progress: func(int, int) { bar.Add(1, "") }})
	bar.Finish("") // also on an error, so it starts its own line
	if err != nil {
		return err
	}
	qm, err := quantize.Quantize(fm, st, o)
	if err != nil {
		return err
	}
	if *refine != "off" {
		fmt.Fprintf(os.Stderr, "refining (%s) on the calibration set\n", *refine)
		if qm, err = quantize.Refine(fm, qm, cal, quantize.RefineOptions{Threads: *threads, BiasOnly: *refine == "bias"}); err != nil {
			return err
		}
	}
	data, err := qm.Marshal()
	if err != nil {
		return fmt.Errorf("write quantized model: %w", err)
	}
	// What is written must read back and run.
	if qm, err = tflite.Load(data); err != nil {
		return fmt.Errorf("the quantized model does not read back: %w", err)
	}
	if it, err := tflite.NewInterpreter(qm, nil); err != nil {
		return fmt.Errorf("the quantized model does not run: %w", err)
	} else {
		it.Close()
	}
	if err := os.WriteFile(*outPath, data, 0o644); err != nil {
		return err
	}

	rep := &quantize.Report{Model: *modelPath, Output: *outPath, Method: o.Method.String(), Refine: *refine,
		InputType: o.Input.String(), OutputType: o.Output.String(), CalibrationSamples: cal.Len(),
		FloatBytes: len(fm.Raw()), QuantBytes: len(data), SizeRatio: float64(len(data)) / float64(len(fm.Raw())),
		Ranges: quantize.Ranges(fm, qm, st, o), EdgeTPUChecked: *edgeTPU}
	if o.Method == quantize.Percentile {
		rep.Percentile = *pct
	}
	if *edgeTPU {
		rep.EdgeTPUFallbacks = quantize.CheckEdgeTPU(qm)
	}
	if ev != nil {
		fmt.Fprintf(os.Stderr, "comparing on %d images\n", ev.Len())
		c, err := quantize.Compare(fm, qm, ev, quantize.CompareOptions{Threads: *threads, OutputOfClass: outputOfClass})
		if err != nil {
			return err
		}
		rep.Eval, rep.Layers = &c.Eval, c.Layers
	}
	rep.WriteText(os.Stdout, *layers, *showRanges)
	if *reportPath != "" {
		j, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(*reportPath, append(j, '\n'), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// endTypes resolves --input-type and --output-type.
func endTypes(in, out string, edgeTPU bool) (tflite.TensorType, tflite.TensorType, error) {
	if in == "" {
		in = "int8"
		if edgeTPU {
			in = "uint8"
		}
	}
	if out == "" {
		out = in
	}
	var types [2]tflite.TensorType
	for i, s := range []string{in, out} {
		t, err := tflite.ParseTensorType(s)
		if err == nil && t != tflite.Int8 && t != tflite.Uint8 && t != tflite.Float32 {
			err = errors.New("want int8, uint8 or float32")
		}
		if err != nil {
			return 0, 0, fmt.Errorf("end type %q: %w", s, err)
		}
		if edgeTPU && t == tflite.Float32 {
			return 0, 0, fmt.Errorf("--edgetpu needs int8 or uint8 ends: the compiler leaves float conversions to the CPU")
		}
		types[i] = t
	}
	return types[0], types[1], nil
}

// imageSet lists a folder's images, leaves out those of without (when not
// nil), takes a seeded subset of at most max (0: all) and decodes them all,
// so that a broken file stops the run early.
func imageSet(dir string, max int, seed uint64, fit camera.Fit, without *quantize.ImageSet) (*quantize.ImageSet, error) {
	s, err := quantize.LoadImageSet(dir)
	if err != nil {
		return nil, err
	}
	if without != nil {
		if s = s.Without(without); s.Len() == 0 {
			return nil, fmt.Errorf("%s holds only calibration images", dir)
		}
	}
	s = s.Shuffle(seed)
	if max > 0 {
		s = s.Slice(0, max)
	}
	s.Fit = fit
	if err := s.Check(); err != nil {
		return nil, err
	}
	return s, nil
}

// classOutputs maps a labelled eval set's class folders to the model's
// outputs by label; nil (labels from the float model) for flat folders or
// when the folders are not the model's classes.
func classOutputs(m *tflite.Model, ev *quantize.ImageSet, labelsPath string) ([]int, error) {
	if ev.Labels == nil {
		return nil, nil
	}
	labels := m.Labels()
	if labelsPath != "" {
		data, err := os.ReadFile(labelsPath)
		if err != nil {
			return nil, err
		}
		labels = tflite.SplitLabels(data)
	}
	if labels == nil {
		fmt.Fprintf(os.Stderr, "eval: the model has no labels (give --labels); the float model's predictions are the labels\n")
		return nil, nil
	}
	out, err := quantize.MatchClasses(ev.Classes, labels)
	if err != nil {
		fmt.Fprintf(os.Stderr, "eval: %v; the float model's predictions are the labels\n", err)
		return nil, nil
	}
	return out, nil
}
