package trainer

import (
	"context"
	"image"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	xdraw "golang.org/x/image/draw"
)

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	data, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, to, data)
}

func TestOpenDatasetSkipsBadFiles(t *testing.T) {
	dir := makeShapes(t, t.TempDir(), 4, 1)
	good := filepath.Join(dir, "circle", "circle_ab.jpg")
	data, _ := os.ReadFile(good)
	writeFile(t, filepath.Join(dir, "circle", "truncated.jpg"), data[:len(data)/2])
	writeFile(t, filepath.Join(dir, "square", "notes.txt"), []byte("not an image"))
	writeFile(t, filepath.Join(dir, "square", "fake.png"), []byte("not a png at all"))
	writeFile(t, filepath.Join(dir, "README"), []byte("top-level file"))

	ds, err := OpenDataset(context.Background(), dir, 2)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(ds.Classes, shapeClasses) {
		t.Errorf("classes %v, want %v", ds.Classes, shapeClasses)
	}
	if len(ds.Items) != 12 {
		t.Errorf("%d usable images, want 12", len(ds.Items))
	}
	reasons := map[string]string{}
	for _, s := range ds.Skipped {
		reasons[s.Path] = s.Reason
	}
	for path, want := range map[string]string{
		"circle/truncated.jpg": "decode jpeg image",
		"square/notes.txt":     "not an image",
		"square/fake.png":      "decode image header",
		"README":               "not inside a class folder",
	} {
		if !strings.Contains(reasons[path], want) {
			t.Errorf("skipped %s: reason %q, want it to mention %q (all: %v)", path, reasons[path], want, reasons)
		}
	}
}

func TestOpenDatasetErrors(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		name  string
		setup func(t *testing.T, dir string)
		want  string
	}{
		{"missing folder", func(t *testing.T, dir string) { os.Remove(dir) }, "no such file"},
		{"empty class", func(t *testing.T, dir string) {
			makeShapes(t, dir, 3, 1)
			os.MkdirAll(filepath.Join(dir, "hexagon"), 0o755)
		}, "class folders without usable images: hexagon"},
		{"class of broken files", func(t *testing.T, dir string) {
			makeShapes(t, dir, 3, 1)
			writeFile(t, filepath.Join(dir, "hexagon", "a.jpg"), []byte("garbage"))
		}, "class folders without usable images: hexagon"},
		{"one class", func(t *testing.T, dir string) {
			makeShapes(t, dir, 3, 1)
			os.RemoveAll(filepath.Join(dir, "square"))
			os.RemoveAll(filepath.Join(dir, "triangle"))
		}, "only one class (circle)"},
		{"nothing usable", func(t *testing.T, dir string) {
			writeFile(t, filepath.Join(dir, "a", "x.txt"), []byte("x"))
			writeFile(t, filepath.Join(dir, "b", "y.jpg"), []byte("y"))
		}, "no usable images"},
		{"no class folders", func(t *testing.T, dir string) {
			writeFile(t, filepath.Join(dir, "x.jpg"), []byte("y"))
		}, "no usable images"},
		{"val class unknown to train", func(t *testing.T, dir string) {
			makeShapes(t, filepath.Join(dir, "train"), 3, 1)
			makeShapes(t, filepath.Join(dir, "val"), 1, 2)
			os.MkdirAll(filepath.Join(dir, "val", "star"), 0o755)
		}, "val/star is a class that train/ does not have"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "data")
			os.MkdirAll(dir, 0o755)
			c.setup(t, dir)
			_, err := OpenDataset(ctx, dir, 2)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v, want one containing %q", err, c.want)
			}
		})
	}
}

func TestPresplitData(t *testing.T) {
	dir := t.TempDir()
	makeShapes(t, filepath.Join(dir, "train"), 8, 1)
	makeShapes(t, filepath.Join(dir, "test"), 2, 2)
	ds, err := OpenDataset(context.Background(), dir, 2)
	if err != nil {
		t.Fatal(err)
	}
	if !ds.Presplit || len(ds.Items) != 30 {
		t.Fatalf("presplit %v with %d items, want true and 30", ds.Presplit, len(ds.Items))
	}
	ch := CheckData(ds, DefaultNearDuplicate)
	if err := SplitData(ds, ch, Ratios{0.7, 0.15, 0.15}, 1); err != nil {
		t.Fatal(err)
	}
	for _, it := range ds.Items {
		if strings.HasPrefix(it.Rel, "test/") != (it.Split == SplitTest) {
			t.Errorf("%s is in split %s", it.Rel, it.Split)
		}
	}
	// val is carved out of train: about 15% of all 30 images, per class.
	if got := ds.Counts(SplitVal); !slices.Equal(got, []int{2, 2, 2}) {
		t.Errorf("val counts %v, want [2 2 2]", got)
	}
}

func TestDuplicates(t *testing.T) {
	dir := makeShapes(t, t.TempDir(), 6, 3)
	// An exact copy in the same class, an exact copy in another class, and
	// a re-encoded, downscaled copy (a near duplicate).
	copyFile(t, filepath.Join(dir, "circle", "circle_aa.png"), filepath.Join(dir, "circle", "copy.png"))
	copyFile(t, filepath.Join(dir, "square", "square_ab.jpg"), filepath.Join(dir, "triangle", "mislabelled.jpg"))
	img := drawShape("triangle", rand.New(rand.NewPCG(9, 9)), 96)
	writeImage(filepath.Join(dir, "triangle", "orig.png"), img, "png")
	small := image.NewRGBA(image.Rect(0, 0, 64, 64))
	xdraw.BiLinear.Scale(small, small.Bounds(), img, img.Bounds(), xdraw.Src, nil)
	writeImage(filepath.Join(dir, "triangle", "recoded.jpg"), small, "jpeg")

	ds, err := OpenDataset(context.Background(), dir, 2)
	if err != nil {
		t.Fatal(err)
	}
	ch := CheckData(ds, DefaultNearDuplicate)
	if len(ch.Exact) != 2 {
		t.Fatalf("exact pairs %+v, want 2", ch.Exact)
	}
	removed := map[string]bool{}
	for _, r := range ch.Removed {
		removed[r.Path] = true
	}
	// The same-class copy goes (the first path is kept); both images of the
	// cross-class pair go.
	for _, p := range []string{"circle/copy.png", "square/square_ab.jpg", "triangle/mislabelled.jpg"} {
		if !removed[p] {
			t.Errorf("%s not removed; removed %v", p, removed)
		}
	}
	if len(ch.Removed) != 3 {
		t.Errorf("removed %v, want the three above", removed)
	}
	found := false
	for _, p := range ch.Near {
		if p.PathA == "triangle/orig.png" && p.PathB == "triangle/recoded.jpg" {
			found = true
		}
	}
	if !found {
		t.Errorf("re-encoded copy not found as a near duplicate; near pairs %+v", ch.Near)
	}
	if len(ds.Items) != 22-3 {
		t.Errorf("%d items left, want 19", len(ds.Items))
	}
	// Unrelated pictures differ in about half the bits.
	var sum, n float64
	for i := range ds.Items {
		for j := i + 1; j < len(ds.Items); j++ {
			if d := ds.Items[i].DHash.Distance(ds.Items[j].DHash); d > DefaultNearDuplicate {
				sum += float64(d)
				n++
			}
		}
	}
	if mean := sum / n; mean < 90 || mean > 166 {
		t.Errorf("mean distance of unrelated pictures %.1f, want about 128", mean)
	}
}

func TestSplitStratifiedAndSeeded(t *testing.T) {
	dir := makeShapes(t, t.TempDir(), 20, 4)
	// A near-duplicate pair must land in one split.
	img := drawShape("circle", rand.New(rand.NewPCG(5, 5)), 96)
	writeImage(filepath.Join(dir, "circle", "twin1.png"), img, "png")
	writeImage(filepath.Join(dir, "circle", "twin2.jpg"), img, "jpeg")
	split := func(seed uint64) *Dataset {
		ds, err := OpenDataset(context.Background(), dir, 2)
		if err != nil {
			t.Fatal(err)
		}
		ch := CheckData(ds, DefaultNearDuplicate)
		if err := SplitData(ds, ch, Ratios{0.6, 0.2, 0.2}, seed); err != nil {
			t.Fatal(err)
		}
		return ds
	}
	a, b, c := split(1), split(1), split(2)
	splitsOf := func(ds *Dataset) []string {
		var s []string
		for _, it := range ds.Items {
			s = append(s, it.Split)
		}
		return s
	}
	if !slices.Equal(splitsOf(a), splitsOf(b)) {
		t.Error("the same seed gave different splits")
	}
	if slices.Equal(splitsOf(a), splitsOf(c)) {
		t.Error("seeds 1 and 2 gave the same split")
	}
	for _, s := range []string{SplitVal, SplitTest} {
		for cl, n := range a.Counts(s) {
			if n < 3 || n > 5 {
				t.Errorf("%s has %d images of %s, want about 4", s, n, a.Classes[cl])
			}
		}
	}
	var twins []string
	for _, it := range a.Items {
		if strings.Contains(it.Rel, "twin") {
			twins = append(twins, it.Split)
		}
	}
	if len(twins) != 2 || twins[0] != twins[1] {
		t.Errorf("near duplicates split apart: %v", twins)
	}

	// The split file reproduces the split; a changed image is refused.
	out := t.TempDir()
	if err := WriteSplit(out, a, Ratios{0.6, 0.2, 0.2}, 1); err != nil {
		t.Fatal(err)
	}
	d := split(2)
	if missing, err := ApplySplitFile(filepath.Join(out, "split.json"), d); err != nil || len(missing) != 0 {
		t.Fatalf("apply split: %v, missing %v", err, missing)
	}
	if !slices.Equal(splitsOf(a), splitsOf(d)) {
		t.Error("split.json did not reproduce the split")
	}
	if _, err := os.Stat(filepath.Join(out, "split.csv")); err != nil {
		t.Error(err)
	}
	writeImage(filepath.Join(dir, "circle", "twin1.png"), drawShape("circle", rand.New(rand.NewPCG(6, 6)), 96), "png")
	e := split(1)
	if _, err := ApplySplitFile(filepath.Join(out, "split.json"), e); err == nil || !strings.Contains(err.Error(), "has changed") {
		t.Errorf("changed image: error %v", err)
	}
}

func TestRatiosCheck(t *testing.T) {
	for _, r := range []Ratios{{0.5, 0.5, 0.5}, {0, 0.5, 0.5}, {1.2, -0.1, -0.1}} {
		if r.Check() == nil {
			t.Errorf("%v accepted", r)
		}
	}
	if err := (Ratios{0.8, 0.1, 0.1}).Check(); err != nil {
		t.Error(err)
	}
}
