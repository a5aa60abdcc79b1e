// Package testenv finds what tests need outside the repository (the shared
// test data, the TFLite oracle, system programs) and decides what happens
// when something is missing: under CI (CI=true) the test fails loudly,
// elsewhere it is skipped with a message naming what is missing.
package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
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
