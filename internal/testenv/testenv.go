// Package testenv finds what tests need outside the repository (the shared
// test data, the TFLite oracle, system programs) and decides what happens
// when something is missing: under CI (CI=true) the test fails loudly,
// elsewhere it is skipped with a message naming what is missing.
package testenv

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// Missing fails the test under CI and skips it elsewhere.
func Missing(t testing.TB, what string) {
	t.Helper()
	if os.Getenv("CI") == "true" {
		t.Fatalf("missing in CI: %s", what)
	}
	t.Skipf("skipped: %s", what)
}

// SharedDir returns the shared material folder (../shared beside the
// repository, or $EDGECLASS_SHARED).
func SharedDir(t testing.TB) string {
	t.Helper()
	if d := os.Getenv("EDGECLASS_SHARED"); d != "" {
		return d
	}
	if d := findShared(); d != "" {
		return d
	}
	Missing(t, "../shared (set EDGECLASS_SHARED to the shared material folder)")
	return ""
}

func findShared() string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		return ""
	}
	// internal/testenv/testenv.go -> repository root -> ../shared
	root := filepath.Dir(filepath.Dir(filepath.Dir(file)))
	d := filepath.Join(filepath.Dir(root), "shared")
	if st, err := os.Stat(filepath.Join(d, "testdata")); err == nil && st.IsDir() {
		return d
	}
	return ""
}

// TestData returns the path of a file under shared/testdata.
func TestData(t testing.TB, rel string) string {
	t.Helper()
	p := filepath.Join(SharedDir(t), "testdata", rel)
	if _, err := os.Stat(p); err != nil {
		Missing(t, p)
	}
	return p
}

// Oracle returns the path of the tflite-oracle script.
func Oracle(t testing.TB) string {
	t.Helper()
	p := filepath.Join(SharedDir(t), "oracle", "tflite-oracle")
	if _, err := os.Stat(p); err != nil {
		Missing(t, "the TFLite oracle "+p)
	}
	if _, err := exec.LookPath("node"); err != nil {
		Missing(t, "node (the TFLite oracle runs in Node.js)")
	}
	return p
}

// Program returns the path of a system program.
func Program(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		Missing(t, "program "+name)
	}
	return p
}

// RunOracle runs a .tflite model (its bytes) in Google's runtime, the
// oracle at path oracle, and returns the bytes of its outputs. outputs
// names the model's outputs in order; the runtime's must be the same. An
// error means the runtime refused the model or failed (the oracle exits 3
// when the runtime logged an error); it carries the runtime's last messages.
func RunOracle(t testing.TB, oracle string, model []byte, inputs [][]byte, outputs []string) ([][]byte, error) {
	t.Helper()
	dir := t.TempDir()
	path := filepath.Join(dir, "model.tflite")
	if err := os.WriteFile(path, model, 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{path}
	for i, in := range inputs {
		p := filepath.Join(dir, fmt.Sprintf("in%d.bin", i))
		if err := os.WriteFile(p, in, 0o644); err != nil {
			t.Fatal(err)
		}
		args = append(args, p)
	}
	prefix := filepath.Join(dir, "out")
	var stderr bytes.Buffer
	cmd := exec.Command(oracle, append(args, "--out", prefix)...)
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) && ee.ExitCode() == 3 {
			return nil, fmt.Errorf("Google's runtime logged an error: %s", oracleTail(stderr.String()))
		}
		return nil, fmt.Errorf("oracle: %v: %s", err, oracleTail(stderr.String()))
	}
	// The runtime names its outputs on a JSON line; check they are ours, in order.
	var info struct{ Outputs []struct{ Name string } }
	for _, line := range strings.Split(stderr.String(), "\n") {
		if strings.HasPrefix(line, `{"model"`) {
			if err := json.Unmarshal([]byte(line), &info); err != nil {
				return nil, fmt.Errorf("oracle info line: %v", err)
			}
		}
	}
	if len(info.Outputs) != len(outputs) {
		return nil, fmt.Errorf("the oracle reports %d outputs, the model has %d", len(info.Outputs), len(outputs))
	}
	outs := make([][]byte, len(outputs))
	for i, o := range info.Outputs {
		if o.Name != outputs[i] {
			return nil, fmt.Errorf("oracle output %d is %q, want %q", i, o.Name, outputs[i])
		}
		b, err := os.ReadFile(fmt.Sprintf("%s.%d.bin", prefix, i))
		if err != nil {
			return nil, err
		}
		outs[i] = b
	}
	return outs, nil
}

// oracleTail returns the oracle's last six lines of messages, without its
// one-line description of the model.
func oracleTail(s string) string {
	var lines []string
	for _, l := range strings.Split(strings.TrimSpace(s), "\n") {
		if !strings.HasPrefix(l, `{"model"`) {
			lines = append(lines, l)
		}
	}
	return strings.Join(lines[max(0, len(lines)-6):], "\n")
}
