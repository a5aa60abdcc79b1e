package main

import (
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"strings"

	"github.com/edgeclass/edgeclass/engines"
)

func init() {
	register("selftest", "check the engines (TensorFlow Lite C library and its delegates) against the pure-Go one on golden cases", runSelfTest)
}

func runSelfTest(args []string) error {
	fs := newFlags("selftest", "")
	testdata := fs.String("testdata", os.Getenv("EDGECLASS_TESTDATA"), "folder with golden/manifest.jsonl and models/ (env EDGECLASS_TESTDATA; see docs/tflite-c.md)")
	delegates := fs.String("delegates", "none,xnnpack,gpu,edgetpu", "delegates of the TensorFlow Lite C library to check, comma-separated (none: its CPU kernels); unavailable ones are reported, not failed")
	device := fs.String("edgetpu-device", "", "Edge TPU to use: empty (the first found), usb, usb:N, pci, pci:N or :N")
	models := fs.String("models", "", "only these golden models (file names, comma-separated)")
	threads := fs.Int("threads", 1, "inference threads")
	runs := fs.Int("runs", 10, "timed invocations per model and engine (the median is printed)")
	var extra stringList
	fs.Var(&extra, "model", "another .tflite file to time and compare across engines, e.g. one compiled for the Edge TPU (repeatable)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %v", fs.Args())
	}
	if *testdata == "" {
		fs.Usage()
		return errors.New("need --testdata (or EDGECLASS_TESTDATA)")
	}
	opts := engines.SelfTestOptions{TestData: *testdata, Threads: *threads, Runs: *runs, Extra: extra,
		Log: slog.New(slog.NewTextHandler(os.Stderr, nil))}
	for _, d := range splitList(*delegates) {
		cfg := engines.Config{Backend: engines.TFLiteC, Delegate: d, OnMissing: "error"}
		if d == "edgetpu" {
			cfg.EdgeTPUDevice = *device
		}
		opts.Engines = append(opts.Engines, cfg)
	}
	opts.Models = splitList(*models)
	report, err := engines.SelfTest(opts)
	if err != nil {
		return err
	}
	if err := report.Write(os.Stdout); err != nil {
		return err
	}
	if !report.OK() {
		return errors.New("some engines disagree with the golden outputs (see above)")
	}
	return nil
}

func splitList(s string) []string {
	var out []string
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// stringList is a repeatable string flag.
type stringList []string

func (l *stringList) String() string { return strings.Join(*l, ",") }
func (l *stringList) Set(s string) error {
	*l = append(*l, s)
	return nil
}

var _ flag.Value = (*stringList)(nil)
