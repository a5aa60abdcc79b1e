package main

import (
	"cmp"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"

	"github.com/edgeclass/edgeclass/camera"
	"github.com/edgeclass/edgeclass/classify"
	"github.com/edgeclass/edgeclass/tflite"
)

func init() {
	register("classify", "classify images with a .tflite model", runClassify)
	register("run-model", "run a model on raw input tensors, write raw outputs", runModel)
	register("bench-model", "time a model's inference", runBenchModel)
}

func runClassify(args []string) error {
	fs := newFlags("classify", "IMAGE...")
	modelPath := fs.String("model", "", "the .tflite model (required)")
	labelsPath := fs.String("labels", "", "labels file, one per line (default: the model's metadata)")
	top := fs.Int("top", 5, "number of classes to print per image")
	threads := fs.Int("threads", 1, "inference threads")
	fit := fs.String("fit", "squash", "how images meet the input size: squash or crop")
	images, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if *modelPath == "" || len(images) == 0 {
		fs.Usage()
		return fmt.Errorf("need --model and at least one image")
	}
	m, err := tflite.LoadFile(*modelPath)
	if err != nil {
		return err
	}
	opts := classify.Options{Threads: *threads}
	if opts.Fit, err = camera.ParseFit(*fit); err != nil {
		return err
	}
	if *labelsPath != "" {
		data, err := os.ReadFile(*labelsPath)
		if err != nil {
			return err
		}
		opts.Labels = tflite.SplitLabels(data)
	}
	c, err := classify.New(m, opts)
	if err != nil {
		return err
	}
	defer c.Close()
	failed := 0
	for _, path := range images {
		img, err := camera.LoadImage(path)
		if err == nil {
			var res []classify.Result
			if res, err = c.Classify(img, *top); err == nil {
				fmt.Printf("%s:\n", path)
				for _, r := range res {
					fmt.Printf("  %.4f  %s (%d)\n", r.Score, r.Label, r.Index)
				}
				continue
			}
		}
		fmt.Fprintf(os.Stderr, "%s: %v\n", path, err)
		failed++
	}
	if failed > 0 {
		return fmt.Errorf("%d of %d images failed", failed, len(images))
	}
	return nil
}

func runModel(args []string) error {
	fs := newFlags("run-model", "MODEL IN0.bin [IN1.bin ...]")
	out := fs.String("out", "", "output prefix: output i is written to PREFIX.i.bin (required)")
	threads := fs.Int("threads", 1, "inference threads")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) < 1 || *out == "" {
		fs.Usage()
		return fmt.Errorf("need a model, its inputs and --out")
	}
	m, err := tflite.LoadFile(pos[0])
	if err != nil {
		return err
	}
	it, err := tflite.NewInterpreter(m, &tflite.Options{Threads: *threads})
	if err != nil {
		return err
	}
	defer it.Close()
	ins := pos[1:]
	if len(ins) != len(it.Inputs()) {
		return fmt.Errorf("model has %d inputs, got %d files", len(it.Inputs()), len(ins))
	}
	for i, path := range ins {
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if err := it.Input(i).CopyFrom(data); err != nil {
			return fmt.Errorf("input %d (%s): %w", i, path, err)
		}
	}
	if err := it.Invoke(); err != nil {
		return err
	}
	for i, t := range it.Outputs() {
		if err := os.WriteFile(fmt.Sprintf("%s.%d.bin", *out, i), t.Bytes(), 0o644); err != nil {
			return err
		}
	}
	return nil
}

func runBenchModel(args []string) error {
	fs := newFlags("bench-model", "MODEL")
	threads := fs.Int("threads", 1, "inference threads")
	runs := fs.Int("runs", 50, "timed runs")
	warmup := fs.Int("warmup", 5, "untimed runs first")
	perOp := fs.Bool("ops", false, "also time each operator (as many runs again) and print them, slowest first")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		fs.Usage()
		return fmt.Errorf("need one model")
	}
	m, err := tflite.LoadFile(pos[0])
	if err != nil {
		return err
	}
	st, err := tflite.Benchmark(m, tflite.BenchOptions{Threads: *threads, Runs: *runs, Warmup: *warmup, PerOp: *perOp})
	if err != nil {
		return err
	}
	fmt.Printf("median_ms=%.3f min_ms=%.3f max_ms=%.3f runs=%d threads=%d\n", st.Median, st.Min, st.Max, *runs, *threads)
	fmt.Printf("model=%s ops=%s\n", pos[0], strings.Join(st.Ops, ","))
	if *perOp {
		printOpTimes(os.Stdout, st.PerOp)
	}
	return nil
}

// printOpTimes prints per-operator medians, slowest first, with each one's
// share of their sum and the running share.
func printOpTimes(w io.Writer, ops []tflite.OpTime) {
	var sum float64
	for _, o := range ops {
		sum += o.Median
	}
	sorted := slices.Clone(ops)
	slices.SortStableFunc(sorted, func(a, b tflite.OpTime) int { return cmp.Compare(b.Median, a.Median) })
	fmt.Fprintf(w, "per operator (median of each; sum %.3f ms):\n", sum)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "op\toperator\toutput\tms\tshare\tcumulative\t")
	var cum float64
	for _, o := range sorted {
		cum += o.Median
		fmt.Fprintf(tw, "%d\t%s\t%v\t%.3f\t%.1f%%\t%.1f%%\t\n", o.Index, o.Op, o.Output, o.Median, 100*o.Median/sum, 100*cum/sum)
	}
	tw.Flush()
}
