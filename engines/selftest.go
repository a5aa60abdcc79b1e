package engines

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/edgeclass/edgeclass/classify"
	"github.com/edgeclass/edgeclass/tflite"
)

// SelfTestOptions configure SelfTest.
type SelfTestOptions struct {
	// TestData holds golden/manifest.jsonl and the models it names: a copy
	// of the shared test data's golden/ and models/ folders.
	TestData string
	// Engines are checked beside the pure-Go engine, which comes first.
	Engines []Config
	// Models keeps only the golden cases of these model files (base
	// names); empty keeps all.
	Models []string
	// Extra are models without golden outputs (one compiled for the Edge
	// TPU, say): every engine that can run one runs it on a fixed random
	// input and is compared with the first engine that could.
	Extra []string
	// Threads is each engine's thread count; Runs the number of timed
	// invocations per model and engine (10 when 0).
	Threads, Runs int
	Log           *slog.Logger
}

// SelfTestReport is what SelfTest found.
type SelfTestReport struct {
	Engines []Column
	Models  []Row
}

// Column is one engine.
type Column struct {
	Name string // go, tflite-c, tflite-c/xnnpack, ...
	Info Info
	Err  string // why the engine is not available here
	make classify.NewEngineFunc
}

// Row is one model on every engine.
type Row struct {
	Model  string
	Golden bool // compared with golden outputs (else: with the first engine that ran it)
	Cells  []Cell
}

// Cell is one model on one engine.
type Cell struct {
	Err string // the engine could not load or run the model
	// Passed of Cases agree with the reference within the tolerances
	// (Agreement.Within); Identical are byte-identical to the pure-Go
	// engine's outputs.
	Cases, Passed, Identical int
	Top1Differs              int // cases whose largest output is another class
	MaxDiff                  float64
	Steps                    int64
	Latency                  time.Duration // median of the timed runs
	Placement                string
}

type goldenCase struct {
	Model, Image, Input, Output0 string
}

// SelfTest runs every golden case on every engine and times each model:
// the check a user runs on a device after installing the C library and its
// delegates (scripts/selftest-tflite-c.sh).
func SelfTest(o SelfTestOptions) (*SelfTestReport, error) {
	if o.Log == nil {
		o.Log = slog.Default()
	}
	if o.Runs <= 0 {
		o.Runs = 10
	}
	o.Threads = max(o.Threads, 1)
	cases, models, err := readManifest(o.TestData, o.Models)
	if err != nil {
		return nil, err
	}
	r := &SelfTestReport{}
	for _, cfg := range append([]Config{DefaultConfig()}, o.Engines...) {
		col := Column{Name: cfg.Backend}
		if d := cfg.delegate(); d != "none" {
			col.Name += "/" + d
		}
		col.make, col.Info, err = Select(cfg, o.Log)
		if err != nil {
			col.Err = err.Error()
		}
		r.Engines = append(r.Engines, col)
	}
	for _, name := range models {
		m, err := tflite.LoadFile(filepath.Join(o.TestData, name))
		if err != nil {
			return nil, err
		}
		row := Row{Model: filepath.Base(name), Golden: true}
		var goOuts [][]byte
		for j, col := range r.Engines {
			cell, outs := o.runGolden(col, m, cases[name], goOuts)
			if j == 0 {
				goOuts = outs
			}
			row.Cells = append(row.Cells, cell)
		}
		r.Models = append(r.Models, row)
	}
	for _, path := range o.Extra {
		m, err := tflite.LoadFile(path)
		if err != nil {
			return nil, err
		}
		row := Row{Model: filepath.Base(path)}
		var ref []byte
		for _, col := range r.Engines {
			cell, out := o.runExtra(col, m, ref)
			if ref == nil {
				ref = out
			}
			row.Cells = append(row.Cells, cell)
		}
		r.Models = append(r.Models, row)
	}
	return r, nil
}

// readManifest groups the manifest's cases by model, in file order.
func readManifest(dir string, only []string) (map[string][]goldenCase, []string, error) {
	f, err := os.Open(filepath.Join(dir, "golden", "manifest.jsonl"))
	if err != nil {
		return nil, nil, fmt.Errorf("golden cases: %w (copy the shared test data's golden/ and models/ folders there)", err)
	}
	defer f.Close()
	cases := map[string][]goldenCase{}
	var models []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var c goldenCase
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			return nil, nil, fmt.Errorf("golden/manifest.jsonl: %w", err)
		}
		if len(only) > 0 && !slices.Contains(only, filepath.Base(c.Model)) {
			continue
		}
		if cases[c.Model] == nil {
			models = append(models, c.Model)
		}
		cases[c.Model] = append(cases[c.Model], c)
	}
	if err := sc.Err(); err != nil {
		return nil, nil, err
	}
	if len(models) == 0 {
		return nil, nil, fmt.Errorf("golden/manifest.jsonl has no cases for %v", only)
	}
	return cases, models, nil
}

// start makes col's engine for m, or returns nil and a cell that says why
// it could not.
func (o *SelfTestOptions) start(col Column, m *tflite.Model) (classify.Engine, Cell) {
	var cell Cell
	if col.Err != "" {
		cell.Err = "unavailable"
		return nil, cell
	}
	e, err := col.make(m, o.Threads)
	if err != nil {
		cell.Err = err.Error()
		return nil, cell
	}
	if p, ok := PlacementOf(e); ok {
		cell.Placement = p.Text
	}
	return e, cell
}

// runGolden runs a model's golden cases on one engine and returns the
// outputs too.
func (o *SelfTestOptions) runGolden(col Column, m *tflite.Model, cases []goldenCase, goOuts [][]byte) (Cell, [][]byte) {
	e, cell := o.start(col, m)
	if e == nil {
		return cell, nil
	}
	defer e.Close()
	out := e.Outputs()[0]
	def := &m.Main().Tensors[out.Index()]
	var outs [][]byte
	for i, c := range cases {
		in, err := os.ReadFile(filepath.Join(o.TestData, "golden", c.Input))
		if err == nil {
			err = e.Inputs()[0].CopyFrom(in)
		}
		if err == nil {
			err = e.Invoke()
		}
		var golden []byte
		if err == nil {
			golden, err = os.ReadFile(filepath.Join(o.TestData, "golden", c.Output0))
		}
		var ag Agreement
		if err == nil {
			ag, err = Compare(def, out.Bytes(), golden)
		}
		if err != nil {
			cell.Err = fmt.Sprintf("%s: %v", c.Input, err)
			return cell, nil
		}
		cell.Cases++
		if ag.Within(def) {
			cell.Passed++
		}
		if ag.Top1[0] != ag.Top1[1] {
			cell.Top1Differs++
		}
		cell.MaxDiff, cell.Steps = max(cell.MaxDiff, ag.MaxDiff), max(cell.Steps, ag.Steps)
		got := bytes.Clone(out.Bytes())
		if goOuts != nil && bytes.Equal(got, goOuts[i]) {
			cell.Identical++
		}
		outs = append(outs, got)
	}
	lat, err := o.time(e)
	if err != nil {
		cell.Err = err.Error()
	}
	cell.Latency = lat
	return cell, outs
}

// runExtra runs a model without golden outputs on a fixed random input and
// compares with ref, the first engine's output, unless this is the first.
func (o *SelfTestOptions) runExtra(col Column, m *tflite.Model, ref []byte) (Cell, []byte) {
	e, cell := o.start(col, m)
	if e == nil {
		return cell, nil
	}
	defer e.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	for _, in := range e.Inputs() {
		if f := in.Float32s(); f != nil {
			for i := range f {
				f[i] = rng.Float32()
			}
			continue
		}
		for i := range in.Bytes() {
			in.Bytes()[i] = byte(rng.Uint32())
		}
	}
	lat, err := o.time(e)
	if err != nil {
		cell.Err = err.Error()
		return cell, nil
	}
	cell.Latency = lat
	out := e.Outputs()[0]
	got := bytes.Clone(out.Bytes())
	if ref != nil {
		def := &m.Main().Tensors[out.Index()]
		ag, err := Compare(def, got, ref)
		if err != nil {
			cell.Err = err.Error()
			return cell, got
		}
		cell.Cases = 1
		if ag.Within(def) {
			cell.Passed = 1
		}
		cell.MaxDiff, cell.Steps = ag.MaxDiff, ag.Steps
	}
	return cell, got
}

// time invokes Runs times and returns the median.
func (o *SelfTestOptions) time(e classify.Engine) (time.Duration, error) {
	ds := make([]time.Duration, o.Runs)
	for i := range ds {
		start := time.Now()
		if err := e.Invoke(); err != nil {
			return 0, err
		}
		ds[i] = time.Since(start)
	}
	slices.Sort(ds)
	return ds[len(ds)/2], nil
}

// OK reports whether every available engine passed every golden case and
// ran every model it could load. Engines missing on the device do not fail
// the test; the report names them.
func (r *SelfTestReport) OK() bool {
	for _, row := range r.Models {
		for j, c := range row.Cells {
			if r.Engines[j].Err != "" {
				continue
			}
			if c.Passed < c.Cases || (row.Golden && c.Err != "") {
				return false
			}
		}
	}
	return true
}

// Write prints the engines, a table of results and latencies with one
// column per engine, and where each engine ran each model's operators.
func (r *SelfTestReport) Write(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "engines:")
	for _, c := range r.Engines {
		what := c.Info.String()
		if c.Err != "" {
			what = "not available: " + c.Err
		}
		fmt.Fprintf(tw, "  %s\t%s\n", c.Name, what)
	}
	fmt.Fprintln(tw)
	fmt.Fprint(tw, "model")
	for _, c := range r.Engines {
		fmt.Fprintf(tw, "\t%s", c.Name)
	}
	fmt.Fprintln(tw, "\t")
	for _, row := range r.Models {
		fmt.Fprint(tw, row.Model)
		for _, c := range row.Cells {
			fmt.Fprintf(tw, "\t%s", c.summary())
		}
		fmt.Fprintln(tw, "\t")
	}
	fmt.Fprintln(tw)
	fmt.Fprintln(tw, "cells: cases within tolerance of the golden output (extra models: of the first engine's), median latency, cases byte-identical to the go engine (=N)")
	if err := tw.Flush(); err != nil {
		return err
	}
	var notes []string
	for _, row := range r.Models {
		for j, c := range row.Cells {
			if c.Placement != "" || (c.Err != "" && c.Err != "unavailable") {
				note := c.Placement
				if c.Err != "" {
					note = strings.TrimPrefix(note+"; error: "+c.Err, "; ")
				}
				if c.Cases > 0 {
					note += fmt.Sprintf("; largest difference %.4g (%d steps)", c.MaxDiff, c.Steps)
				}
				if c.Top1Differs > 0 {
					note += fmt.Sprintf("; top-1 class differs in %d of %d cases", c.Top1Differs, c.Cases)
				}
				notes = append(notes, fmt.Sprintf("  %s on %s: %s", row.Model, r.Engines[j].Name, note))
			}
		}
	}
	if len(notes) > 0 {
		fmt.Fprintf(w, "\ndetails:\n%s\n", strings.Join(notes, "\n"))
	}
	verdict := "PASS"
	if !r.OK() {
		verdict = "FAIL"
	}
	_, err := fmt.Fprintln(w, "\n"+verdict)
	return err
}

func (c Cell) summary() string {
	switch {
	case c.Err == "unavailable":
		return "-"
	case c.Err != "":
		return "error"
	}
	s := fmt.Sprintf("%.2fms", float64(c.Latency)/float64(time.Millisecond))
	if c.Cases > 0 {
		s = fmt.Sprintf("%d/%d %s", c.Passed, c.Cases, s)
	}
	if c.Identical > 0 {
		s += fmt.Sprintf(" =%d", c.Identical)
	}
	return s
}
