package quantize

import (
	"fmt"
	"image"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/edgeclass/edgeclass/camera"
	"github.com/edgeclass/edgeclass/tflite"
)

// Dataset is a set of model inputs, for calibration and evaluation. The
// same sample can feed the float model and its quantized versions: Fill
// prepares it for whichever model the interpreter runs.
type Dataset interface {
	Len() int
	// Fill writes sample i into the inputs of it, prepared for the model it
	// runs as the agent would.
	Fill(it *tflite.Interpreter, i int) error
	// Label is sample i's class index, or -1 when samples are unlabelled.
	Label(i int) int
	// Name identifies sample i in messages (a file path).
	Name(i int) string
}

// ImageSet is a folder of images, either flat (unlabelled) or with one
// subfolder of images per class, fed to models as the agent feeds camera
// frames (camera.SpecFor and InputSpec.Load on the model's input 0).
//
// Fill keeps every image it decodes, resized to the input size (4 bytes a
// pixel), so that the float model, the quantized one and Refine's passes
// decode each image once.
type ImageSet struct {
	Paths   []string
	Labels  []int    // class of each image (an index into Classes), nil when unlabelled
	Classes []string // class folder names, sorted
	Fit     camera.Fit

	mu      sync.Mutex
	resized map[resizeKey][]*image.RGBA
}

type resizeKey struct {
	w, h int
	fit  camera.Fit
}

// imageExts are the file types camera.DecodeImage reads.
var imageExts = []string{".jpg", ".jpeg", ".png", ".bmp"}

func isImage(name string) bool {
	return slices.Contains(imageExts, strings.ToLower(filepath.Ext(name)))
}

// LoadImageSet lists the images of dir: JPEG, PNG and BMP files directly in
// it, or in its subfolders, which then name the classes. It reads file names
// only; Check decodes them.
func LoadImageSet(dir string) (*ImageSet, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("image folder: %w", err)
	}
	s := &ImageSet{}
	var classes []string
	for _, e := range entries {
		switch {
		case e.IsDir():
			classes = append(classes, e.Name())
		case isImage(e.Name()):
			s.Paths = append(s.Paths, filepath.Join(dir, e.Name()))
		}
	}
	if len(s.Paths) > 0 || len(classes) == 0 {
		if len(s.Paths) == 0 {
			return nil, fmt.Errorf("%s holds no images (%s) and no class folders", dir, strings.Join(imageExts, ", "))
		}
		return s, nil
	}
	slices.Sort(classes)
	for _, c := range classes {
		files, err := os.ReadDir(filepath.Join(dir, c))
		if err != nil {
			return nil, fmt.Errorf("class folder: %w", err)
		}
		n := 0
		for _, f := range files {
			if !f.IsDir() && isImage(f.Name()) {
				s.Paths = append(s.Paths, filepath.Join(dir, c, f.Name()))
				s.Labels = append(s.Labels, len(s.Classes))
				n++
			}
		}
		if n > 0 {
			s.Classes = append(s.Classes, c)
		}
	}
	if len(s.Paths) == 0 {
		return nil, fmt.Errorf("the class folders of %s hold no images (%s)", dir, strings.Join(imageExts, ", "))
	}
	return s, nil
}

// Shuffle returns the set in a pseudo-random order fixed by seed.
func (s *ImageSet) Shuffle(seed uint64) *ImageSet {
	perm := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15)).Perm(len(s.Paths))
	out := &ImageSet{Classes: s.Classes, Fit: s.Fit}
	for _, p := range perm {
		out.Paths = append(out.Paths, s.Paths[p])
		if s.Labels != nil {
			out.Labels = append(out.Labels, s.Labels[p])
		}
	}
	return out
}

// Slice returns images lo to hi-1 (clamped to the set).
func (s *ImageSet) Slice(lo, hi int) *ImageSet {
	hi = min(hi, len(s.Paths))
	lo = min(lo, hi)
	out := &ImageSet{Paths: s.Paths[lo:hi], Classes: s.Classes, Fit: s.Fit}
	if s.Labels != nil {
		out.Labels = s.Labels[lo:hi]
	}
	return out
}

// Without returns the set without the images of other (by path), so that
// a model is not evaluated on the photos it was calibrated on.
func (s *ImageSet) Without(other *ImageSet) *ImageSet {
	drop := map[string]bool{}
	for _, p := range other.Paths {
		drop[filepath.Clean(p)] = true
	}
	out := &ImageSet{Classes: s.Classes, Fit: s.Fit}
	for i, p := range s.Paths {
		if drop[filepath.Clean(p)] {
			continue
		}
		out.Paths = append(out.Paths, p)
		if s.Labels != nil {
			out.Labels = append(out.Labels, s.Labels[i])
		}
	}
	return out
}

// Check decodes every image, so that a broken file stops the work before
// it starts.
func (s *ImageSet) Check() error {
	for _, p := range s.Paths {
		if _, err := camera.LoadImage(p); err != nil {
			return err
		}
	}
	return nil
}

// Len is the number of images.
func (s *ImageSet) Len() int { return len(s.Paths) }

// Name is the path of image i.
func (s *ImageSet) Name(i int) string { return s.Paths[i] }

// Label is the class of image i, or -1 when the set is unlabelled.
func (s *ImageSet) Label(i int) int {
	if s.Labels == nil {
		return -1
	}
	return s.Labels[i]
}

// Fill decodes image i and loads it into input 0 of it.
func (s *ImageSet) Fill(it *tflite.Interpreter, i int) error {
	if n := len(it.Inputs()); n != 1 {
		return fmt.Errorf("images feed models with one input; this one has %d", n)
	}
	spec, err := camera.SpecFor(it.Model(), it.Input(0))
	if err != nil {
		return err
	}
	spec.Fit = s.Fit
	img, err := s.resize(&spec, i)
	if err != nil {
		return err
	}
	return spec.Fill(it.Input(0), img)
}

// resize returns image i at the spec's size, from the cache or decoded.
func (s *ImageSet) resize(spec *camera.InputSpec, i int) (*image.RGBA, error) {
	key := resizeKey{spec.Width, spec.Height, spec.Fit}
	s.mu.Lock()
	defer s.mu.Unlock()
	if img := s.resized[key]; img != nil && img[i] != nil {
		return img[i], nil
	}
	src, err := camera.LoadImage(s.Paths[i])
	if err != nil {
		return nil, err
	}
	if s.resized == nil {
		s.resized = map[resizeKey][]*image.RGBA{}
	}
	if s.resized[key] == nil {
		s.resized[key] = make([]*image.RGBA, len(s.Paths))
	}
	img := spec.Resize(src)
	s.resized[key][i] = img
	return img, nil
}

// Samples are real-valued model inputs, for models that do not take images
// and for tests: Samples[i][j] holds input j of sample i. Quantized inputs
// receive the values quantized with their parameters.
type Samples [][][]float32

// Len is the number of samples.
func (s Samples) Len() int { return len(s) }

// Name names sample i.
func (s Samples) Name(i int) string { return fmt.Sprintf("sample %d", i) }

// Label is -1: samples are unlabelled.
func (s Samples) Label(int) int { return -1 }

// Fill writes sample i into the inputs of it.
func (s Samples) Fill(it *tflite.Interpreter, i int) error {
	if len(s[i]) != len(it.Inputs()) {
		return fmt.Errorf("sample has %d inputs, the model %d", len(s[i]), len(it.Inputs()))
	}
	for j, t := range it.Inputs() {
		v := s[i][j]
		if len(v) != t.Len() {
			return fmt.Errorf("input %d: sample has %d values, the tensor %d", j, len(v), t.Len())
		}
		switch t.Type() {
		case tflite.Float32:
			copy(t.Float32s(), v)
		case tflite.Int8, tflite.Uint8:
			q := t.Quant()
			if q == nil || len(q.Scale) != 1 {
				return fmt.Errorf("input %d is %s without per-tensor quantization", j, t.Type())
			}
			lo, hi := int32(-128), int32(127)
			if t.Type() == tflite.Uint8 {
				lo, hi = 0, 255
			}
			b := t.Bytes()
			for k, x := range v {
				b[k] = byte(tflite.QuantizeValue(x, q.Scale[0], int32(q.ZeroPoint[0]), lo, hi))
			}
		default:
			return fmt.Errorf("input %d has type %s", j, t.Type())
		}
	}
	return nil
}
