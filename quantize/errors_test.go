package quantize

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgeclass/edgeclass/internal/testenv"
	"github.com/edgeclass/edgeclass/tflite"
)

// tinyModel is input [1,4,4,3] -> CONV_2D -> output.
func tinyModel(t testing.TB) (*tflite.Model, *floatModel) {
	f := newFloatModel(9)
	x := f.input([]int{1, 4, 4, 3}, 1)
	f.output(f.op(tflite.OpConv2D, &tflite.Conv2DOptions{Padding: tflite.PaddingSame, StrideW: 1, StrideH: 1, DilationW: 1, DilationH: 1},
		[]int{1, 4, 4, 2}, x, f.weights([]int{2, 3, 3, 3}, 1), f.weights([]int{2}, 1)))
	return f.model(t), f
}

func wantError(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error; want one saying %q", parts)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q does not say %q", err, p)
		}
	}
}

func TestTooFewCalibrationSamples(t *testing.T) {
	m, f := tinyModel(t)
	_, err := Calibrate(m, f.samples(m, 4), CalibrateOptions{})
	wantError(t, err, "4 samples", "at least 10")
	if _, err := Calibrate(m, f.samples(m, 4), CalibrateOptions{MinSamples: 3}); err != nil {
		t.Errorf("a lowered minimum is refused: %v", err)
	}
}

func TestUnsupportedOperatorIsNamed(t *testing.T) {
	f := newFloatModel(1)
	x := f.input([]int{1, 8}, 1)
	f.output(f.op(tflite.OpExp, nil, []int{1, 8}, f.op(tflite.OpRelu, nil, []int{1, 8}, x)))
	m := f.model(t)
	wantError(t, Check(m), "EXP (operator 1)")
	_, err := Calibrate(m, f.samples(m, 20), CalibrateOptions{})
	wantError(t, err, "EXP")
}

func TestQuantizedModelIsRefused(t *testing.T) {
	m, err := tflite.LoadFile(testenv.TestData(t, "models/mobilenet_v1_0.25_224_quant.tflite"))
	if err != nil {
		t.Fatal(err)
	}
	wantError(t, Check(m), "uint8", "takes float32 models")
}

func TestStatisticsOfAnotherModel(t *testing.T) {
	m, f := tinyModel(t)
	_, err := Quantize(m, &Stats{Tensors: map[int]*TensorStats{}}, Options{})
	wantError(t, err, "no calibration statistics")
	st, err := Calibrate(m, f.samples(m, 10), CalibrateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = Quantize(m, st, Options{Input: tflite.Int16})
	wantError(t, err, "int16")
}

func TestBrokenImages(t *testing.T) {
	dir := t.TempDir()
	good, err := os.ReadFile(testenv.TestData(t, "images/parrot.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{
		"a.jpg":         good,
		"truncated.jpg": good[:len(good)/3],
		"notes.txt":     []byte("not an image, and not listed"),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s, err := LoadImageSet(dir)
	if err != nil {
		t.Fatal(err)
	}
	if s.Len() != 2 || s.Labels != nil {
		t.Fatalf("listed %v (labels %v), want the two .jpg files unlabelled", s.Paths, s.Labels)
	}
	wantError(t, s.Check(), "truncated.jpg")

	// Images cannot feed a model whose input is not an image.
	f := newFloatModel(3)
	x := f.input([]int{1, 16}, 1)
	f.output(f.op(tflite.OpRelu, nil, []int{1, 16}, x))
	vec := f.model(t)
	it, err := tflite.NewInterpreter(vec, nil)
	if err != nil {
		t.Fatal(err)
	}
	wantError(t, s.Fill(it, 0), "shape [1 16]")

	empty := t.TempDir()
	_, err = LoadImageSet(empty)
	wantError(t, err, "no images")
}

func TestLabelledImageSet(t *testing.T) {
	dir := t.TempDir()
	img, err := os.ReadFile(testenv.TestData(t, "images/parrot.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{"tulips/1.jpg", "daisy/2.jpg", "daisy/3.JPG", "empty/.keep"} {
		path := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, img, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	s, err := LoadImageSet(dir)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(s.Classes, ",") != "daisy,tulips" || len(s.Paths) != 3 || s.Label(2) != 1 {
		t.Errorf("classes %v, paths %v, labels %v", s.Classes, s.Paths, s.Labels)
	}
	out, err := MatchClasses(s.Classes, []string{"background", "Tulips", "daisy"})
	if err != nil || out[0] != 2 || out[1] != 1 {
		t.Errorf("MatchClasses = %v, %v", out, err)
	}
	_, err = MatchClasses(s.Classes, []string{"rose"})
	wantError(t, err, "daisy", "tulips")
	sh := s.Shuffle(1)
	if sh.Len() != 3 || sh.Slice(1, 10).Len() != 2 {
		t.Errorf("shuffle/slice lengths %d, %d", sh.Len(), sh.Slice(1, 10).Len())
	}
	rest := s.Without(sh.Slice(0, 1))
	if rest.Len() != 2 || rest.Paths[0] == sh.Paths[0] || rest.Paths[1] == sh.Paths[0] || len(rest.Labels) != 2 {
		t.Errorf("without %s: %v %v", sh.Paths[0], rest.Paths, rest.Labels)
	}
}
