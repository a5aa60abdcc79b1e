package tflite_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"

	"github.com/edgeclass/edgeclass/internal/testenv"
	"github.com/edgeclass/edgeclass/tflite"
)

// BenchmarkVsOracle times our engine and Google's runtime (LiteRT.js via the
// oracle, one thread: it cannot use more in Node) on the same models in the
// same run, and prints a table with the ratio ours/oracle. `make bench`
// runs it.
func BenchmarkVsOracle(b *testing.B) {
	oracle := testenv.Oracle(b)
	models := []string{"mobilenet_v2_1.0_224_quant.tflite", "mobilenet_v1_0.25_224_float.tflite"}
	const runs = 30
	type row struct {
		model        string
		threads      int
		ours, theirs float64
	}
	var rows []row
	for _, name := range models {
		path := testenv.TestData(b, filepath.Join("models", name))
		m, err := tflite.LoadFile(path)
		if err != nil {
			b.Fatal(err)
		}
		theirs, err := oracleMedian(oracle, path, m, runs, b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		for _, threads := range []int{1, 2} {
			st, err := tflite.Benchmark(m, tflite.BenchOptions{Threads: threads, Runs: runs, Warmup: 3})
			if err != nil {
				b.Fatal(err)
			}
			rows = append(rows, row{name, threads, st.Median, theirs})
		}
	}
	fmt.Printf("\n%-38s %7s %10s %12s %8s\n", "model", "threads", "ours_ms", "oracle_ms", "ratio")
	for _, r := range rows {
		fmt.Printf("%-38s %7d %10.2f %12.2f %8.2f\n", r.model, r.threads, r.ours, r.theirs, r.ours/r.theirs)
	}
	fmt.Println("ratio = our median / Google's runtime median (LiteRT.js 2.5.3, XNNPACK, WebAssembly, 1 thread)")
}

var medianRE = regexp.MustCompile(`"median_ms":([0-9.]+)`)

// oracleMedian runs the oracle on a zero input and returns its median time.
func oracleMedian(oracle, path string, m *tflite.Model, runs int, dir string) (float64, error) {
	it, err := tflite.NewInterpreter(m, nil)
	if err != nil {
		return 0, err
	}
	args := []string{path}
	for i, in := range it.Inputs() {
		p := filepath.Join(dir, fmt.Sprintf("in%d.bin", i))
		if err := os.WriteFile(p, make([]byte, len(in.Bytes())), 0o644); err != nil {
			return 0, err
		}
		args = append(args, p)
	}
	args = append(args, "--out", filepath.Join(dir, "out"), "--runs", strconv.Itoa(runs))
	out, err := exec.Command(oracle, args...).CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("oracle: %v\n%s", err, out)
	}
	mm := medianRE.FindSubmatch(out)
	if mm == nil {
		return 0, fmt.Errorf("oracle printed no median: %s", out)
	}
	return strconv.ParseFloat(string(mm[1]), 64)
}
