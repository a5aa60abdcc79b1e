package trainer

import (
	"context"
	"crypto/sha256"
	"fmt"
	"image"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/edgeclass/edgeclass/camera"
)

// Dataset is a labelled folder of images: DIR/<class>/*.{jpg,jpeg,png,bmp},
// or the same under DIR/train, DIR/val and DIR/test when the data comes
// split already.
type Dataset struct {
	Root    string
	Classes []string // sorted folder names; a class's index is its label
	Items   []Item   // usable images, sorted by path
	// Presplit is set when the folder has train/ (and val/, test/)
	// sub-folders; Items then carry their Split.
	Presplit bool
	// Skipped lists files that are not usable images, with the reason.
	Skipped []Skipped
}

// Item is one usable image.
type Item struct {
	Rel    string   // path relative to the dataset root, with forward slashes
	Class  int      // index into Classes
	Split  string   // "train", "val" or "test"; set by the folder layout or Split
	SHA256 [32]byte // of the file's bytes
	DHash  Hash     // perceptual hash of the picture
}

// Skipped is a file that was left out, and why.
type Skipped struct {
	Path   string `json:"path"`
	Reason string `json:"reason"`
}

// Split names.
const (
	SplitTrain = "train"
	SplitVal   = "val"
	SplitTest  = "test"
)

var imageExts = map[string]bool{".jpg": true, ".jpeg": true, ".png": true, ".bmp": true}

// OpenDataset scans dir, decodes every image once (to find unreadable or
// truncated files and to hash the picture) using the given number of
// workers, and returns the usable images. It fails when fewer than two
// classes have usable images or a class folder has none.
func OpenDataset(ctx context.Context, dir string, workers int) (*Dataset, error) {
	return openDataset(ctx, dir, workers, true)
}

// ScanDataset is OpenDataset without decoding: it reads each image only to
// hash its bytes, so its Items have no DHash, and a broken
// image is found when it is loaded. Evaluation uses it: it decodes the
// images it classifies once, and only those.
func ScanDataset(ctx context.Context, dir string, workers int) (*Dataset, error) {
	return openDataset(ctx, dir, workers, false)
}

func openDataset(ctx context.Context, dir string, workers int, decode bool) (*Dataset, error) {
	st, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("data: %s is not a folder", dir)
	}
	ds := &Dataset{Root: dir}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("data: %w", err)
	}
	splitDirs := map[string]string{}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		switch strings.ToLower(e.Name()) {
		case "train":
			splitDirs[SplitTrain] = e.Name()
		case "val", "valid", "validation":
			splitDirs[SplitVal] = e.Name()
		case "test":
			splitDirs[SplitTest] = e.Name()
		}
	}
	type file struct {
		rel, class, split string
	}
	var files []file
	classSet := map[string]bool{}
	// scanClasses lists the class folders under base (relative to dir).
	scanClasses := func(base, split string) error {
		ents, err := os.ReadDir(filepath.Join(dir, base))
		if err != nil {
			return fmt.Errorf("data: %w", err)
		}
		for _, e := range ents {
			rel := filepath.ToSlash(filepath.Join(base, e.Name()))
			if !e.IsDir() {
				ds.Skipped = append(ds.Skipped, Skipped{rel, "not inside a class folder"})
				continue
			}
			if split == "" || split == SplitTrain {
				classSet[e.Name()] = true
			} else if !classSet[e.Name()] {
				return fmt.Errorf("data: %s/%s is a class that %s/ does not have", base, e.Name(), splitDirs[SplitTrain])
			}
			err := filepath.WalkDir(filepath.Join(dir, rel), func(p string, d fs.DirEntry, err error) error {
				if err != nil {
					return err
				}
				if d.IsDir() {
					return nil
				}
				r, _ := filepath.Rel(dir, p)
				r = filepath.ToSlash(r)
				if !d.Type().IsRegular() {
					ds.Skipped = append(ds.Skipped, Skipped{r, "not a regular file"})
					return nil
				}
				if !imageExts[strings.ToLower(filepath.Ext(p))] {
					ds.Skipped = append(ds.Skipped, Skipped{r, "not an image (want .jpg, .jpeg, .png or .bmp)"})
					return nil
				}
				files = append(files, file{r, e.Name(), split})
				return nil
			})
			if err != nil {
				return fmt.Errorf("data: %w", err)
			}
		}
		return nil
	}
	if base, ok := splitDirs[SplitTrain]; ok {
		ds.Presplit = true
		for _, e := range entries {
			if e.IsDir() && !slices.Contains([]string{splitDirs[SplitTrain], splitDirs[SplitVal], splitDirs[SplitTest]}, e.Name()) {
				ds.Skipped = append(ds.Skipped, Skipped{e.Name() + "/", "folder beside train/, val/ and test/"})
			}
		}
		if err := scanClasses(base, SplitTrain); err != nil {
			return nil, err
		}
		for _, s := range []string{SplitVal, SplitTest} {
			if b, ok := splitDirs[s]; ok {
				if err := scanClasses(b, s); err != nil {
					return nil, err
				}
			}
		}
	} else if err := scanClasses(".", ""); err != nil {
		return nil, err
	}
	for c := range classSet {
		ds.Classes = append(ds.Classes, c)
	}
	slices.Sort(ds.Classes)
	classIndex := map[string]int{}
	for i, c := range ds.Classes {
		classIndex[c] = i
	}
	slices.SortFunc(files, func(a, b file) int { return strings.Compare(a.rel, b.rel) })

	items := make([]Item, len(files))
	errs := make([]error, len(files))
	err = forEach(ctx, len(files), workers, func(_, i int) {
		items[i], errs[i] = readItem(filepath.Join(dir, files[i].rel), decode)
	})
	if err != nil {
		return nil, err
	}
	count := make([]int, len(ds.Classes))
	for i, f := range files {
		if errs[i] != nil {
			ds.Skipped = append(ds.Skipped, Skipped{f.rel, errs[i].Error()})
			continue
		}
		it := items[i]
		it.Rel, it.Class, it.Split = f.rel, classIndex[f.class], f.split
		ds.Items = append(ds.Items, it)
		count[it.Class]++
	}
	slices.SortFunc(ds.Skipped, func(a, b Skipped) int { return strings.Compare(a.Path, b.Path) })
	if len(ds.Items) == 0 {
		return nil, fmt.Errorf("data: no usable images in %s (%d files skipped); want DIR/<class>/*.jpg", dir, len(ds.Skipped))
	}
	var empty []string
	for c, n := range count {
		if n == 0 {
			empty = append(empty, ds.Classes[c])
		}
	}
	if len(empty) > 0 {
		return nil, fmt.Errorf("data: class folders without usable images: %s (remove them or add images)", strings.Join(empty, ", "))
	}
	if len(ds.Classes) < 2 {
		return nil, fmt.Errorf("data: only one class (%s); a classifier needs at least two class folders", ds.Classes[0])
	}
	return ds, nil
}

// readItem hashes one image's bytes and, with decode, decodes it
// completely and hashes the picture.
func readItem(path string, decode bool) (Item, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return Item{}, err
	}
	if !decode {
		return Item{SHA256: sha256.Sum256(data)}, nil
	}
	img, err := camera.DecodeImage(data)
	if err != nil {
		return Item{}, err
	}
	return Item{SHA256: sha256.Sum256(data), DHash: dhash(img)}, nil
}

// Path returns the item's file path.
func (d *Dataset) Path(it *Item) string { return filepath.Join(d.Root, filepath.FromSlash(it.Rel)) }

// Load decodes the item's image.
func (d *Dataset) Load(it *Item) (image.Image, error) { return camera.LoadImage(d.Path(it)) }

// Counts returns the number of items per class, of the given split or of
// all items when split is "".
func (d *Dataset) Counts(split string) []int {
	n := make([]int, len(d.Classes))
	for _, it := range d.Items {
		if split == "" || it.Split == split {
			n[it.Class]++
		}
	}
	return n
}

// Subset returns the indices of the items of a split.
func (d *Dataset) Subset(split string) []int {
	var idx []int
	for i, it := range d.Items {
		if it.Split == split {
			idx = append(idx, i)
		}
	}
	return idx
}
