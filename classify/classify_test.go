package classify

import (
	"bufio"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgeclass/edgeclass/camera"
	"github.com/edgeclass/edgeclass/internal/testenv"
	"github.com/edgeclass/edgeclass/tflite"
)

// TestGoldenPhotos classifies the golden photos from their files (decode,
// resize, normalize: the whole path) and checks the top-1 class against
// Google's runtime's golden output for the same photo.
func TestGoldenPhotos(t *testing.T) {
	dir := testenv.TestData(t, "golden")
	f, err := os.Open(filepath.Join(dir, "manifest.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	classifiers := map[string]*Classifier{}
	checked := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var c struct{ Model, Image, Output0 string }
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			t.Fatal(err)
		}
		imgPath := filepath.Join(filepath.Dir(dir), "images", c.Image)
		if _, err := os.Stat(imgPath); err != nil || strings.Contains(c.Model, "embedding") {
			continue // cases whose input is not a photo
		}
		cl := classifiers[c.Model]
		if cl == nil {
			m, err := tflite.LoadFile(filepath.Join(filepath.Dir(dir), c.Model))
			if err != nil {
				t.Fatal(err)
			}
			if cl, err = New(m, Options{}); err != nil {
				t.Fatal(err)
			}
			classifiers[c.Model] = cl
		}
		img, err := camera.LoadImage(imgPath)
		if err != nil {
			t.Fatal(err)
		}
		res, err := cl.Classify(img, 1)
		if err != nil {
			t.Fatal(err)
		}
		golden, _ := os.ReadFile(filepath.Join(dir, c.Output0))
		g := cl.Output()
		want := argmaxOf(g.Type(), golden)
		if res[0].Index != want {
			t.Errorf("%s on %s: top-1 %d (%s), Google's runtime %d", c.Model, c.Image, res[0].Index, res[0].Label, want)
		}
		checked++
	}
	if checked < 30 {
		t.Fatalf("only %d golden photo cases checked", checked)
	}
}

func argmaxOf(typ tflite.TensorType, b []byte) int {
	best, bv := 0, -1e30
	for i := 0; i < len(b); i++ {
		var v float64
		switch typ {
		case tflite.Uint8:
			v = float64(b[i])
		case tflite.Int8:
			v = float64(int8(b[i]))
		case tflite.Float32:
			if i%4 != 0 {
				continue
			}
			v = float64(float32frombytes(b[i : i+4]))
			if v > bv {
				best, bv = i/4, v
			}
			continue
		}
		if v > bv {
			best, bv = i, v
		}
	}
	return best
}

func float32frombytes(b []byte) float32 {
	return math.Float32frombits(uint32(b[0]) | uint32(b[1])<<8 | uint32(b[2])<<16 | uint32(b[3])<<24)
}

func TestLabels(t *testing.T) {
	labels := []string{"background", "cat", "dog"}
	if LabelOf(labels, 3, 1) != "cat" || LabelOf(labels[1:], 3, 2) != "dog" || LabelOf(labels[1:], 3, 0) != "#0" || LabelOf(nil, 3, 2) != "#2" {
		t.Fatal("LabelOf")
	}
	got := TopK([]float32{0.1, 0.5, 0.5, 0.2}, 3, nil)
	if len(got) != 3 || got[0] != 1 || got[1] != 2 || got[2] != 3 {
		t.Fatalf("TopK = %v, want [1 2 3] (ties by lower index)", got)
	}
}
