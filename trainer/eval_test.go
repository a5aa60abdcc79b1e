package trainer

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/edgeclass/edgeclass/camera"
	"github.com/edgeclass/edgeclass/classify"
	"github.com/edgeclass/edgeclass/internal/testenv"
	"github.com/edgeclass/edgeclass/tflite"
)

func TestMatchLabels(t *testing.T) {
	got, err := MatchLabels([]string{"egyptian_cat", "Hot-Dog"}, []string{"background", "Egyptian cat", "hotdog"}, 3)
	if err != nil || !slices.Equal(got, []int{1, 2}) {
		t.Errorf("got %v, %v; want [1 2]", got, err)
	}
	// Labels that omit the background class of 1001-output models.
	got, err = MatchLabels([]string{"b"}, []string{"a", "b"}, 3)
	if err != nil || !slices.Equal(got, []int{2}) {
		t.Errorf("offset labels: got %v, %v; want [2]", got, err)
	}
	for _, c := range []struct {
		classes, labels []string
		outputs         int
		want            string
	}{
		{[]string{"a", "unicorn"}, []string{"a", "b"}, 2, "data classes unicorn are not among"},
		{[]string{"a"}, nil, 2, "has no labels"},
		{[]string{"a"}, []string{"a"}, 5, "1 labels for 5 model outputs"},
	} {
		if _, err := MatchLabels(c.classes, c.labels, c.outputs); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v / %v: error %v, want %q", c.classes, c.labels, err, c.want)
		}
	}
}

// TestEvalImageNetModel evaluates a released ImageNet classifier on a
// folder whose class names are some of its labels, and checks every
// prediction against the classify package run on the same image.
func TestEvalImageNetModel(t *testing.T) {
	dir := t.TempDir()
	for class, img := range map[string]string{
		"macaw": "parrot.jpg", "hotdog": "hot_dog.jpg", "cheeseburger": "burger.jpg", "Egyptian_cat": "cat.jpg", "tiger cat": "cat.bmp",
	} {
		copyFile(t, testenv.TestData(t, "images/"+img), filepath.Join(dir, class, img))
	}
	model := testenv.TestData(t, "models/mobilenet_v1_0.25_224_quant.tflite")
	out := t.TempDir()
	res, err := Eval(context.Background(), EvalConfig{Model: model, Data: dir, Workers: 2, Out: out})
	if err != nil {
		t.Fatal(err)
	}
	m, _ := tflite.LoadFile(model)
	c, err := classify.New(m, classify.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	correct := 0
	for _, p := range res.Predictions {
		img, _ := camera.LoadImage(filepath.Join(dir, p.Path))
		top, _ := c.Classify(img, 1)
		if top[0].Label != p.Label || top[0].Score != p.Score {
			t.Errorf("%s: eval says %s %.3f, classify %s %.3f", p.Path, p.Label, p.Score, top[0].Label, top[0].Score)
		}
		if p.Pred == p.Truth {
			correct++
		}
	}
	if res.Metrics.Correct != correct || res.Metrics.N != 5 {
		t.Errorf("metrics count %d of %d correct, predictions say %d of 5", res.Metrics.Correct, res.Metrics.N, correct)
	}
	// The golden runs of this model call the parrot a macaw.
	for _, p := range res.Predictions {
		if strings.HasPrefix(p.Path, "macaw/") && p.Pred != p.Truth {
			t.Errorf("parrot classified as %s", p.Label)
		}
	}
	for _, f := range []string{"metrics.json", "confusion.txt", "confusion.png", "errors.png"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Error(err)
		}
	}

	// Eval decodes only the images it classifies, once: a truncated
	// photo is left out and listed, and the other images still count.
	parrot, err := os.ReadFile(filepath.Join(dir, "macaw", "parrot.jpg"))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(dir, "macaw", "truncated.jpg"), parrot[:len(parrot)/2])
	res, err = Eval(context.Background(), EvalConfig{Model: model, Data: dir, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Skipped) != 1 || res.Skipped[0].Path != "macaw/truncated.jpg" || res.Metrics.N != 5 {
		t.Errorf("with a truncated photo: skipped %v, %d images counted; want the photo skipped and 5 counted", res.Skipped, res.Metrics.N)
	}
	// With a subset, the others are not decoded at all.
	pre := t.TempDir()
	for _, split := range []string{"train", "test"} {
		for _, class := range []string{"macaw", "hotdog"} {
			copyFile(t, filepath.Join(dir, class, map[string]string{"macaw": "parrot.jpg", "hotdog": "hot_dog.jpg"}[class]), filepath.Join(pre, split, class, "a.jpg"))
		}
	}
	writeFile(t, filepath.Join(pre, "train", "macaw", "truncated.jpg"), parrot[:len(parrot)/2])
	res, err = Eval(context.Background(), EvalConfig{Model: model, Data: pre, Subset: SplitTest})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Skipped) != 0 || res.Metrics.N != 2 {
		t.Errorf("test subset: skipped %v, %d images counted; want none skipped and 2 counted", res.Skipped, res.Metrics.N)
	}
	os.Remove(filepath.Join(dir, "macaw", "truncated.jpg"))

	// A class the model does not know is an error naming it.
	copyFile(t, testenv.TestData(t, "images/bird.bmp"), filepath.Join(dir, "unicorn", "bird.bmp"))
	if _, err := Eval(context.Background(), EvalConfig{Model: model, Data: dir}); err == nil || !strings.Contains(err.Error(), "unicorn") {
		t.Errorf("unknown class: error %v", err)
	}
}
