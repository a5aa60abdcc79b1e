package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"

	"github.com/edgeclass/edgeclass/camera"
	"github.com/edgeclass/edgeclass/trainer"
)

func init() {
	register("eval", "evaluate a model on a labelled folder of photos", runEval)
}

func runEval(args []string) error {
	fs := newFlags("eval", "")
	var cfg trainer.EvalConfig
	fs.StringVar(&cfg.Model, "model", "", "the .tflite model (required)")
	fs.StringVar(&cfg.Data, "data", "", "labelled photos: DIR/<class>/*.jpg (required)")
	fs.StringVar(&cfg.Labels, "labels", "", "labels file, one per line (default: the model's metadata)")
	fs.StringVar(&cfg.SplitFile, "split-file", "", "split.json of a training run: evaluate only the images it lists")
	fs.StringVar(&cfg.Subset, "subset", "", "evaluate one split only: train, val or test (with --split-file or presplit data)")
	fit := fs.String("fit", "squash", "how images meet the input size: squash or crop")
	fs.IntVar(&cfg.Workers, "workers", 0, "parallel inferences (default: the number of CPUs)")
	fs.StringVar(&cfg.Out, "out", "", "folder for metrics.json, confusion.txt/png and errors.png")
	if _, err := parseInterspersed(fs, args); err != nil {
		return err
	}
	if cfg.Model == "" || cfg.Data == "" {
		fs.Usage()
		return fmt.Errorf("need --model and --data")
	}
	var err error
	if cfg.Fit, err = camera.ParseFit(*fit); err != nil {
		return err
	}
	cfg.Log = os.Stderr
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	res, err := trainer.Eval(ctx, cfg)
	if err != nil {
		return err
	}
	fmt.Print(res.Metrics.Text())
	return nil
}
