package tflite_test

import (
	"path/filepath"
	"sync"
	"testing"

	"github.com/edgeclass/edgeclass/internal/testenv"
	"github.com/edgeclass/edgeclass/tflite"
)

// TestInvokeDoesNotAllocate checks that, once prepared, interpreters run
// without allocating, single- and multi-threaded.
func TestInvokeDoesNotAllocate(t *testing.T) {
	for _, name := range []string{"mobilenet_v1_0.25_128_quant.tflite", "mobilenet_v1_0.25_224_float.tflite", "tf2_mobilenet_v2_1.0_224_ptq.tflite"} {
		m, err := tflite.LoadFile(testenv.TestData(t, filepath.Join("models", name)))
		if err != nil {
			t.Fatal(err)
		}
		for _, threads := range []int{1, 2} {
			it, err := tflite.NewInterpreter(m, &tflite.Options{Threads: threads})
			if err != nil {
				t.Fatal(err)
			}
			it.Invoke()
			if n := testing.AllocsPerRun(3, func() { it.Invoke() }); n != 0 {
				t.Errorf("%s with %d threads: %v allocations per Invoke", name, threads, n)
			}
			it.Close()
		}
	}
}

// TestSharedModel runs one model in several interpreters at once (as the
// agent's pipeline and HTTP API do) and checks they agree.
func TestSharedModel(t *testing.T) {
	m, err := tflite.LoadFile(testenv.TestData(t, "models/mobilenet_v1_0.25_128_quant.tflite"))
	if err != nil {
		t.Fatal(err)
	}
	const n = 4
	outs := make([][]byte, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			it, err := tflite.NewInterpreter(m, &tflite.Options{Threads: 1 + i%2})
			if err != nil {
				t.Error(err)
				return
			}
			defer it.Close()
			in := it.Input(0).Uint8s()
			for j := range in {
				in[j] = byte(j * 7)
			}
			for k := 0; k < 3; k++ {
				it.Invoke()
			}
			outs[i] = append([]byte(nil), it.Output(0).Bytes()...)
		}()
	}
	wg.Wait()
	for i := 1; i < n; i++ {
		if string(outs[i]) != string(outs[0]) {
			t.Fatalf("interpreter %d disagrees with interpreter 0", i)
		}
	}
}
