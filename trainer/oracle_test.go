package trainer

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/edgeclass/edgeclass/camera"
	"github.com/edgeclass/edgeclass/internal/testenv"
	"github.com/edgeclass/edgeclass/tflite"
)

// TestOracleAgreement runs a trained model on every test image of its
// split in our engine and in Google's runtime and compares the answers. It
// checks a full training run (minutes of the oracle), so it runs only when
// EDGECLASS_TRAIN_OUT names the run's output folder and EDGECLASS_TRAIN_DATA
// its data, e.g. after `edgeclass train --data flower_photos --out OUT`.
// EDGECLASS_TRAIN_MODEL picks the model file (default the int8 one).
func TestOracleAgreement(t *testing.T) {
	out, data := os.Getenv("EDGECLASS_TRAIN_OUT"), os.Getenv("EDGECLASS_TRAIN_DATA")
	if out == "" || data == "" {
		t.Skip("set EDGECLASS_TRAIN_OUT and EDGECLASS_TRAIN_DATA to check a training run against Google's runtime")
	}
	name := os.Getenv("EDGECLASS_TRAIN_MODEL")
	if name == "" {
		name = Int8ModelFile
	}
	oracle := testenv.Oracle(t)
	path := filepath.Join(out, name)
	m, err := tflite.LoadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	ds, err := ScanDataset(context.Background(), data, 2)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ApplySplitFile(filepath.Join(out, "split.json"), ds); err != nil {
		t.Fatal(err)
	}
	it, err := tflite.NewInterpreter(m, &tflite.Options{Threads: 2})
	if err != nil {
		t.Fatal(err)
	}
	spec, err := camera.SpecFor(m, it.Input(0))
	if err != nil {
		t.Fatal(err)
	}
	sameTop, sameBytes, oursRight, theirsRight := 0, 0, 0, 0
	test := ds.Subset(SplitTest)
	for _, i := range test {
		item := &ds.Items[i]
		img, err := ds.Load(item)
		if err != nil {
			t.Fatal(err)
		}
		if err := spec.Load(it.Input(0), img); err != nil {
			t.Fatal(err)
		}
		// Before Invoke: the arena reuses the input's memory.
		in := bytes.Clone(it.Input(0).Bytes())
		if err := it.Invoke(); err != nil {
			t.Fatal(err)
		}
		ours := it.Output(0).Dequantized()
		raw := runOracleRaw(t, oracle, m, in)
		if bytes.Equal(raw, it.Output(0).Bytes()) {
			sameBytes++
		}
		// Decode the oracle's output with our tensor's type and scale.
		copy(it.Output(0).Bytes(), raw)
		theirs := it.Output(0).Dequantized()
		a, b := argmax(ours), argmax(theirs)
		if a == b {
			sameTop++
		} else {
			t.Errorf("%s: our engine says class %d (%.3f), Google's runtime %d (%.3f)", item.Rel, a, ours[a], b, theirs[b])
		}
		if a == item.Class {
			oursRight++
		}
		if b == item.Class {
			theirsRight++
		}
	}
	n := len(test)
	t.Logf("%s on %d test images: same top-1 %d, identical outputs %d; accuracy ours %.2f%%, Google's runtime %.2f%%",
		name, n, sameTop, sameBytes, 100*float64(oursRight)/float64(n), 100*float64(theirsRight)/float64(n))
}
