package demomodel

import (
	"bytes"
	"testing"

	"github.com/edgeclass/edgeclass/camera"
	"github.com/edgeclass/edgeclass/classify"
	"github.com/edgeclass/edgeclass/tflite"
)

// TestEmbeddedIsGenerated checks that the committed demo.tflite is what
// Build makes (run `go generate ./agent/demomodel` after changing Build).
func TestEmbeddedIsGenerated(t *testing.T) {
	data, err := Build().Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(data, Bytes()) {
		t.Fatal("demo.tflite is stale: run go generate ./agent/demomodel")
	}
}

// TestClassifiesTestPattern runs the demo model on the test pattern: every
// colour it shows must be the top class, confidently.
func TestClassifiesTestPattern(t *testing.T) {
	m, err := tflite.Load(Bytes())
	if err != nil {
		t.Fatal(err)
	}
	c, err := classify.New(m, classify.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := c.Labels; len(got) != len(Labels) || got[1] != "red" {
		t.Fatalf("labels from the model's metadata: %v", got)
	}
	p, err := camera.NewTestPattern(640, 480, 10)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for seq := uint64(1); seq <= 130; seq += 3 {
		res, err := c.Classify(p.Render(seq), 2)
		if err != nil {
			t.Fatal(err)
		}
		want := p.Label(seq)
		seen[want] = true
		if res[0].Label != want || res[0].Score < 0.9 {
			t.Errorf("frame %d shows %s; model says %s (%.3f)", seq, want, res[0].Label, res[0].Score)
		}
	}
	if len(seen) != 4 {
		t.Fatalf("the pattern showed %d colours, want 4", len(seen))
	}
	grey := p.Render(1)
	for i := range grey.Pix {
		if i%4 != 3 {
			grey.Pix[i] = 120
		}
	}
	if res, _ := c.Classify(grey, 1); res[0].Label != "background" {
		t.Errorf("a grey frame is %s, want background", res[0].Label)
	}
}
