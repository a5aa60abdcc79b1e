package tflite_test

import (
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgeclass/edgeclass/internal/testenv"
	"github.com/edgeclass/edgeclass/tflite"
)

// BenchmarkModels times whole models on 1 and 2 threads and, beside them,
// Google's runtime (the oracle, single-threaded) on the same model:
// ms/invoke is our median, min-ms our fastest run, oracle-ms and
// oracle-min-ms the oracle's, and ours/oracle the ratio of the medians. On
// a busy machine the minimums are the steadier comparison.
func BenchmarkModels(b *testing.B) {
	for _, name := range []string{"mobilenet_v2_1.0_224_quant", "mobilenet_v1_0.25_224_float"} {
		b.Run(name, func(b *testing.B) {
			path := testenv.TestData(b, filepath.Join("models", name+".tflite"))
			m, err := tflite.LoadFile(path)
			if err != nil {
				b.Fatal(err)
			}
			oracle, oracleMin := oracleTimes(b, path, name)
			for _, threads := range []int{1, 2} {
				b.Run(fmt.Sprintf("threads=%d", threads), func(b *testing.B) {
					st, err := tflite.Benchmark(m, tflite.BenchOptions{Threads: threads, Runs: b.N, Warmup: 2})
					if err != nil {
						b.Fatal(err)
					}
					b.ReportMetric(st.Median, "ms/invoke")
					b.ReportMetric(st.Min, "min-ms")
					b.ReportMetric(oracle, "oracle-ms")
					b.ReportMetric(oracleMin, "oracle-min-ms")
					b.ReportMetric(st.Median/oracle, "ours/oracle")
				})
			}
		})
	}
}

// oracleTimes runs the oracle on the model's golden cat input and returns
// its median and minimum latency in milliseconds.
func oracleTimes(b *testing.B, model, name string) (median, min float64) {
	b.Helper()
	oracle := testenv.Oracle(b)
	in := testenv.TestData(b, filepath.Join("golden", name+"__cat.in.bin"))
	out, err := exec.Command(oracle, model, in, "--out", filepath.Join(b.TempDir(), "o"), "--runs", "20").CombinedOutput()
	if err != nil {
		b.Fatalf("oracle: %v", err)
	}
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		var r struct {
			MedianMS *float64 `json:"median_ms"`
			MinMS    float64  `json:"min_ms"`
		}
		if json.Unmarshal([]byte(line), &r) == nil && r.MedianMS != nil {
			return *r.MedianMS, r.MinMS
		}
	}
	b.Fatalf("oracle printed no median_ms:\n%s", out)
	return 0, 0
}
