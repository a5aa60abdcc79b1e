package agent

import (
	"context"
	"fmt"
	"io"
	"log/slog"
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

	cfg := DefaultConfig()
	cfg.DeviceID, cfg.StateDir, cfg.Model = "bench", b.TempDir(), model
	cfg.Source, cfg.FPS = "file:"+photo, 1000
	cfg.HTTP.Addr, cfg.MQTT.Listen = "", "127.0.0.1:0"
	a, err := New(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), seconds*time.Second)
	defer cancel()
	start := time.Now()
	a.Run(ctx)
	frames := a.Status().Frames
	pipelineFPS := float64(frames) / time.Since(start).Seconds()

	fmt.Printf("\nmodel %s, 1 thread, %s source (1280x720 JPEG)\n", "mobilenet_v2_1.0_224_quant", "file")
	fmt.Printf("engine alone:   %7.2f frames/s (median %.1f ms)\n", engineFPS, st.Median)
	fmt.Printf("whole pipeline: %7.2f frames/s (%d frames in %ds)\n", pipelineFPS, frames, seconds)
	fmt.Printf("pipeline/engine ratio: %.2f\n", pipelineFPS/engineFPS)
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
