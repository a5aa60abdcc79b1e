package agent

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/edgeclass/edgeclass/internal/testenv"
	"github.com/edgeclass/edgeclass/tflite"
)

// BenchmarkPipeline runs the whole agent (camera source, preprocessing,
// inference, event policy, MQTT publisher with its outbox, embedded broker)
// on a real model as fast as it goes, beside the engine alone on the same
// model in the same run, and prints both rates, their ratio (the
// pipeline's overhead) and the process's peak RSS.
func BenchmarkPipeline(b *testing.B) {
	model := testenv.TestData(b, "models/mobilenet_v2_1.0_224_quant.tflite")
	photo := testenv.TestData(b, "images/cat_720p.jpg")
	const seconds = 10

	m, err := tflite.LoadFile(model)
	if err != nil {
		b.Fatal(err)
	}
	st, err := tflite.Benchmark(m, tflite.BenchOptions{Threads: 1, Runs: 10, Warmup: 2})
	if err != nil {
		b.Fatal(err)
	}
	engineFPS := 1000 / st.Median

	fmt.Printf("\nmodel mobilenet_v2_1.0_224_quant, 1 thread\n")
	fmt.Printf("%-34s %8.2f frames/s (median %.1f ms)\n", "engine alone", engineFPS, st.Median)
	for _, src := range []struct{ name, spec string }{
		{"pipeline, test pattern 640x480", "testpattern"},
		{"pipeline, 1280x720 JPEG file", "file:" + photo},
	} {
		cfg := DefaultConfig()
		cfg.DeviceID, cfg.StateDir, cfg.Model = "bench", b.TempDir(), model
		cfg.Source, cfg.FPS = src.spec, 1000
		cfg.HTTP.Addr, cfg.MQTT.Listen = "", "127.0.0.1:0"
		a, err := New(cfg, quietLog())
		if err != nil {
			b.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), seconds*time.Second)
		start := time.Now()
		a.Run(ctx)
		cancel()
		frames := a.Status().Frames
		fps := float64(frames) / time.Since(start).Seconds()
		l := a.pipe.takeLatency()
		fmt.Printf("%-34s %8.2f frames/s, ratio to engine %.2f (per frame: capture %.1f ms, preprocess %.1f ms, inference %.1f ms)\n",
			src.name, fps, fps/engineFPS, l.Capture, l.Preprocess, l.Inference)
	}
	fmt.Printf("peak RSS: %s\n", peakRSS())
}

// peakRSS reads the process's high-water resident set size.
func peakRSS() string {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "unknown"
	}
	for _, line := range strings.Split(string(data), "\n") {
		if f := strings.Fields(line); len(f) == 3 && f[0] == "VmHWM:" {
			kb, _ := strconv.Atoi(f[1])
			return fmt.Sprintf("%.1f MiB", float64(kb)/1024)
		}
	}
	return "unknown"
}
