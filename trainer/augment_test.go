package trainer

import (
	"bytes"
	"image"
	"math/rand/v2"
	"testing"
)

func TestAugmentIdentityAndFlip(t *testing.T) {
	src := drawShape("triangle", rand.New(rand.NewPCG(1, 2)), 40)
	same := Augment{}.Apply(src, rand.New(rand.NewPCG(3, 4)))
	if !bytes.Equal(same.Pix, src.Pix) {
		t.Error("all augmentations off changed the picture")
	}
	// With flipping on, some seeds flip: the result is then the exact mirror.
	flipped := 0
	for s := uint64(0); s < 8; s++ {
		out := Augment{Flip: true}.Apply(src, rand.New(rand.NewPCG(s, 0)))
		if bytes.Equal(out.Pix, src.Pix) {
			continue
		}
		flipped++
		for y := 0; y < 40; y++ {
			for x := 0; x < 40; x++ {
				if out.RGBAAt(x, y) != src.RGBAAt(39-x, y) {
					t.Fatalf("seed %d: pixel (%d,%d) is not the mirror", s, x, y)
				}
			}
		}
	}
	if flipped == 0 || flipped == 8 {
		t.Errorf("%d of 8 seeds flipped, want some but not all", flipped)
	}
}

func TestAugmentSeededAndBounded(t *testing.T) {
	src := drawShape("circle", rand.New(rand.NewPCG(5, 6)), 64)
	a := Augment{Views: 2, Flip: true, Rotate: 20, Zoom: 0.3, Brightness: 0.3, Contrast: 0.3}
	var sum [32]byte
	x := a.Apply(src, viewRand(1, sum, 1))
	y := a.Apply(src, viewRand(1, sum, 1))
	z := a.Apply(src, viewRand(1, sum, 2))
	if !bytes.Equal(x.Pix, y.Pix) {
		t.Error("the same seed and view gave different pictures")
	}
	if bytes.Equal(x.Pix, z.Pix) {
		t.Error("views 1 and 2 are the same picture")
	}
	if x.Bounds() != src.Bounds() {
		t.Errorf("size changed: %v", x.Bounds())
	}
	// A picture whose origin is not (0,0) works too.
	sub := src.SubImage(image.Rect(10, 10, 50, 40))
	if out := a.Apply(sub, viewRand(1, sum, 1)); out.Bounds() != image.Rect(0, 0, 40, 30) {
		t.Errorf("sub-image: size %v", out.Bounds())
	}
}

func TestAugmentCheck(t *testing.T) {
	bad := []Augment{
		{Views: -1}, {Views: 2}, {Views: 1, Rotate: 200}, {Views: 1, Zoom: 1}, {Views: 1, Brightness: -0.1}, {Views: 1, Contrast: 1.5},
	}
	for _, a := range bad {
		if a.Check() == nil {
			t.Errorf("%+v accepted", a)
		}
	}
	if err := (Augment{Views: 2, Flip: true}).Check(); err != nil {
		t.Error(err)
	}
}

func TestMirror(t *testing.T) {
	want := map[int]int{-3: 2, -1: 0, 0: 0, 4: 4, 5: 4, 6: 3, 10: 0, 11: 1}
	for i, w := range want {
		if got := mirror(i, 5); got != w {
			t.Errorf("mirror(%d, 5) = %d, want %d", i, got, w)
		}
	}
}
