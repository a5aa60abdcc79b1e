package tflite

import (
	"bufio"
	"bytes"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/edgeclass/edgeclass/internal/testenv"
)

// goldenCase is one case of the shared golden outputs of Google's runtime.
type goldenCase struct {
	Model    string `json:"model"`
	Image    string `json:"image"`
	Input    string `json:"input"`
	Output0  string `json:"output0"`
	InDtype  string `json:"in_dtype"`
	OutDtype string `json:"out_dtype"`
	OutShape []int  `json:"out_shape"`
}

// readGoldenManifest returns the golden folder and its cases.
func readGoldenManifest(t *testing.T) (string, []goldenCase) {
	t.Helper()
	dir := testenv.TestData(t, "golden")
	f, err := os.Open(filepath.Join(dir, "manifest.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var cases []goldenCase
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var c goldenCase
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			t.Fatalf("manifest: %v", err)
		}
		cases = append(cases, c)
	}
	if err := sc.Err(); err != nil {
		t.Fatalf("manifest: %v", err)
	}
	return dir, cases
}

// TestGolden runs every case of Google's runtime's golden outputs:
// quantized outputs must be within 1 unit and agree on top-1, float
// outputs within 1e-4.
func TestGolden(t *testing.T) {
	dir, cases := readGoldenManifest(t)
	models := map[string]*Model{}
	differing, total := 0, 0
	for _, c := range cases {
		t.Run(filepath.Base(c.Model)+"/"+c.Image, func(t *testing.T) {
			m := models[c.Model]
			if m == nil {
				var err error
				m, err = LoadFile(filepath.Join(filepath.Dir(dir), c.Model))
				if err != nil {
					t.Fatal(err)
				}
				models[c.Model] = m
			}
			in, err := os.ReadFile(filepath.Join(dir, c.Input))
			if err != nil {
				t.Fatal(err)
			}
			// Two threads split every kernel's work: the result must not
			// change.
			var it *Interpreter
			var single []byte
			for _, threads := range []int{2, 1} {
				if it, err = NewInterpreter(m, &Options{Threads: threads}); err != nil {
					t.Fatal(err)
				}
				defer it.Close()
				if err := it.Input(0).CopyFrom(in); err != nil {
					t.Fatal(err)
				}
				if err := it.Invoke(); err != nil {
					t.Fatal(err)
				}
				if single == nil {
					single = append([]byte(nil), it.Output(0).Bytes()...)
				} else if !bytes.Equal(single, it.Output(0).Bytes()) {
					t.Errorf("output with 2 threads differs from 1 thread")
				}
			}
			want, err := os.ReadFile(filepath.Join(dir, c.Output0))
			if err != nil {
				t.Fatal(err)
			}
			got := it.Output(0).Bytes()
			if len(got) != len(want) {
				t.Fatalf("output is %d bytes, golden %d", len(got), len(want))
			}
			g, w := values(c.OutDtype, got), values(c.OutDtype, want)
			maxDiff, n := 0.0, 0
			for i := range g {
				d := math.Abs(g[i] - w[i])
				maxDiff = max(maxDiff, d)
				if d != 0 {
					n++
				}
			}
			if c.OutDtype != "float32" {
				differing += n
				total += len(g)
			}
			tol := 1.0
			if c.OutDtype == "float32" {
				tol = 1e-4
			}
			if maxDiff > tol {
				t.Errorf("max abs difference %g exceeds %g (%d of %d values differ)", maxDiff, tol, n, len(g))
			}
			if argmax(g) != argmax(w) {
				t.Errorf("top-1 is %d, golden %d", argmax(g), argmax(w))
			}
			t.Logf("max diff %g, %d of %d values differ", maxDiff, n, len(g))
		})
	}
	t.Logf("quantized cases: %d of %d output values differ from Google's runtime", differing, total)
}

func values(dtype string, b []byte) []float64 {
	var out []float64
	switch dtype {
	case "uint8":
		for _, v := range b {
			out = append(out, float64(v))
		}
	case "int8":
		for _, v := range b {
			out = append(out, float64(int8(v)))
		}
	case "float32":
		for i := 0; i+4 <= len(b); i += 4 {
			bits := uint32(b[i]) | uint32(b[i+1])<<8 | uint32(b[i+2])<<16 | uint32(b[i+3])<<24
			out = append(out, float64(math.Float32frombits(bits)))
		}
	}
	return out
}

func argmax(v []float64) int {
	best := 0
	for i, x := range v {
		if x > v[best] {
			best = i
		}
	}
	return best
}
