package camera

import (
	"bytes"
	"context"
	"image"
	"testing"
)

// dominantColour names the pattern colour nearest to the mean colour of
// the pixels that are not background grey, and their share of the image.
func dominantColour(img image.Image) (string, float64) {
	b := img.Bounds()
	var sum [3]float64
	n := 0
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			r, g, bl = r>>8, g>>8, bl>>8
			if max(r, g, bl)-min(r, g, bl) < 40 {
				continue // grey, black or white
			}
			sum[0], sum[1], sum[2] = sum[0]+float64(r), sum[1]+float64(g), sum[2]+float64(bl)
			n++
		}
	}
	if n == 0 {
		return "", 0
	}
	best, bestD := "", 1e18
	for _, c := range PatternColours {
		d := 0.0
		for i, v := range []uint8{c.RGB.R, c.RGB.G, c.RGB.B} {
			e := sum[i]/float64(n) - float64(v)
			d += e * e
		}
		if d < bestD {
			best, bestD = c.Name, d
		}
	}
	return best, float64(n) / float64(b.Dx()*b.Dy())
}

func TestTestPatternColoursAndMotion(t *testing.T) {
	p, err := NewTestPattern(640, 480, 10)
	if err != nil {
		t.Fatal(err)
	}
	p.ColourSeconds = 2 // 20 frames per colour
	want := map[uint64]string{1: "red", 20: "red", 21: "green", 41: "blue", 61: "yellow", 80: "yellow", 81: "red", 161: "red"}
	for seq, name := range want {
		if got := p.Label(seq); got != name {
			t.Errorf("Label(%d) = %s, want %s", seq, got, name)
		}
	}
	var prev *image.RGBA
	for seq := uint64(1); seq <= 81; seq += 10 {
		img := p.Render(seq)
		name, share := dominantColour(img)
		if name != p.Label(seq) || share < 0.2 {
			t.Errorf("frame %d: dominant colour %s covering %.0f%%, want %s covering at least 20%%", seq, name, 100*share, p.Label(seq))
		}
		// The mean colour of the model's view (224x224) names it too.
		spec := InputSpec{Width: 224, Height: 224, Channels: 3}
		if name, _ := dominantColour(spec.Resize(img)); name != p.Label(seq) {
			t.Errorf("frame %d resized to 224x224 looks %s, want %s", seq, name, p.Label(seq))
		}
		if prev != nil && bytes.Equal(prev.Pix, img.Pix) {
			t.Errorf("frame %d equals the frame 10 before", seq)
		}
		prev = img
	}
	// The counter is drawn: frames 1 and 2 differ in the text box even
	// where the disc has hardly moved.
	a, b := p.Render(1), p.Render(2)
	box := image.Rect(0, 0, 200, 28)
	if equalRegion(a, b, box) {
		t.Error("the frame counter does not change between frames 1 and 2")
	}
	if got := a.RGBAAt(639, 479); got != patternGrey {
		t.Errorf("corner pixel %v, want background %v", got, patternGrey)
	}
	if _, err := NewTestPattern(8, 8, 30); err == nil {
		t.Error("8x8 pattern accepted")
	}
	if _, err := NewTestPattern(64, 64, 0); err == nil {
		t.Error("0 fps pattern accepted")
	}
}

func equalRegion(a, b *image.RGBA, r image.Rectangle) bool {
	for y := r.Min.Y; y < r.Max.Y; y++ {
		for x := r.Min.X; x < r.Max.X; x++ {
			if a.RGBAAt(x, y) != b.RGBAAt(x, y) {
				return false
			}
		}
	}
	return true
}

func TestTestPatternSource(t *testing.T) {
	checkLeaks(t)
	s, err := Open("testpattern", Options{FPS: 100, Width: 160, Height: 120})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	dev, err := NewTestPattern(160, 120, 100)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		f, err := s.Next(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if f.Image.Bounds() != image.Rect(0, 0, 160, 120) || f.Label != dev.Label(f.Seq) {
			t.Errorf("frame %d: %v labelled %q, want 160x120 %q", f.Seq, f.Image.Bounds(), f.Label, dev.Label(f.Seq))
		}
		// The frame is the pattern's frame Seq.
		if !bytes.Equal(f.Image.(*image.RGBA).Pix, dev.Render(f.Seq).Pix) {
			t.Errorf("frame %d differs from Render(%d)", f.Seq, f.Seq)
		}
	}
}
