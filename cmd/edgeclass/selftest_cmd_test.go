//go:build tflitec && cgo

package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgeclass/edgeclass/internal/testenv"
)

// The device self-test script, run as a user would, against the library this
// build links (the stand-in in CI, with one emulated Coral USB Accelerator).
func TestSelfTestScript(t *testing.T) {
	gotool := testenv.Program(t, "go")
	testdata := testenv.TestData(t, ".")
	bin := filepath.Join(t.TempDir(), "edgeclass")
	build := exec.Command(gotool, "build", "-tags", "tflitec", "-o", bin, ".")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	script, err := filepath.Abs("../../scripts/selftest-tflite-c.sh")
	if err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (string, error) {
		cmd := exec.Command(script, append([]string{testdata}, args...)...)
		cmd.Env = append(os.Environ(), "EDGECLASS="+bin, "EDGETPU_STANDIN_DEVICES=usb:/sys/bus/usb/devices/2-1")
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	out, err := run("-models", "mobilenet_v1_0.25_128_quant.tflite", "-runs", "2", "-threads", "2")
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	for _, want := range []string{"libraries:", "tflite-c/xnnpack", "device: usb /sys/bus/usb/devices/2-1",
		"mobilenet_v1_0.25_128_quant.tflite  4/4 ", "edgetpu took none of the 31 operators", "\nPASS\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if out, err := run("-models", "nonexistent.tflite"); err == nil || !strings.Contains(out, "no cases for [nonexistent.tflite]") {
		t.Fatalf("a bad model name: %v\n%s", err, out)
	}
}
