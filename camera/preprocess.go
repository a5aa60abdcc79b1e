package camera

import (
	"fmt"
	"image"
	"math"

	"github.com/edgeclass/edgeclass/tflite"
)

// Fit says how a frame of another aspect ratio becomes the model's input.
type Fit int

const (
	// Squash resizes the whole frame to the input size, ignoring aspect
	// ratio (TFLite's image classifiers were evaluated this way).
	Squash Fit = iota
	// CenterCrop takes the largest centred region with the input's aspect
	// ratio, then resizes it.
	CenterCrop
)

// ParseFit reads "squash" or "crop".
func ParseFit(s string) (Fit, error) {
	switch s {
	case "squash", "":
		return Squash, nil
	case "crop", "center-crop":
		return CenterCrop, nil
	}
	return 0, fmt.Errorf("unknown fit %q (want squash or crop)", s)
}

// InputSpec describes how pixels become a model's input tensor.
type InputSpec struct {
	Width, Height int
	Channels      int // 3 (RGB or BGR) or 1 (grey)
	Type          tflite.TensorType
	// Scale and ZeroPoint quantize 8-bit inputs.
	Scale     float32
	ZeroPoint int32
	// Mean and Std normalize pixels: (pixel - Mean[c]) / Std[c].
	Mean, Std [3]float32
	BGR       bool
	Fit       Fit
	// passThrough marks 8-bit inputs that take the pixels as they are
	// (int8: minus 128): every uint8 input, as TFLite's image tools feed
	// them whatever the metadata's normalization says (AutoML models carry
	// mean 0, std 1 and expect raw pixels), and int8 inputs whose
	// quantization is the identity on pixels (scale = 1/Std, zero point =
	// Mean - 128).
	passThrough bool
}

// SpecFor derives the input spec of input tensor t of model m: size and type
// from the tensor, normalization from the model's metadata (default mean
// 127.5 and std 127.5, mapping pixels to [-1, 1]).
func SpecFor(m *tflite.Model, t *tflite.Tensor) (InputSpec, error) {
	s := t.Shape()
	if len(s) != 4 || s[0] != 1 || (s[3] != 3 && s[3] != 1) {
		return InputSpec{}, fmt.Errorf("input %q has shape %v, want [1, height, width, 3 or 1]", t.Name(), s)
	}
	spec := InputSpec{Height: s[1], Width: s[2], Channels: s[3], Type: t.Type(),
		Mean: [3]float32{127.5, 127.5, 127.5}, Std: [3]float32{127.5, 127.5, 127.5}}
	if m.Info != nil && len(m.Info.Inputs) > 0 {
		in := m.Info.Inputs[0]
		for c := 0; c < 3; c++ {
			if n := len(in.Mean); n > 0 {
				spec.Mean[c] = in.Mean[min(c, n-1)]
			}
			if n := len(in.Std); n > 0 {
				spec.Std[c] = in.Std[min(c, n-1)]
			}
		}
	}
	switch t.Type() {
	case tflite.Float32:
	case tflite.Uint8, tflite.Int8:
		q := t.Quant()
		if q == nil || len(q.Scale) != 1 {
			return InputSpec{}, fmt.Errorf("input %q is %s without per-tensor quantization", t.Name(), t.Type())
		}
		spec.Scale, spec.ZeroPoint = q.Scale[0], int32(q.ZeroPoint[0])
	default:
		return InputSpec{}, fmt.Errorf("input %q has type %s; images need float32, uint8 or int8", t.Name(), t.Type())
	}
	spec.passThrough = spec.Type == tflite.Uint8 || spec.identity()
	return spec, nil
}

// identity reports whether quantizing normalized pixels gives the pixels
// back (offset by 128 for int8), within 1%.
func (s *InputSpec) identity() bool {
	if s.Type == tflite.Float32 {
		return false
	}
	offset := float32(0)
	if s.Type == tflite.Int8 {
		offset = 128
	}
	for c := 0; c < 3; c++ {
		if math.Abs(float64(s.Scale*s.Std[c]-1)) > 0.01 || math.Abs(float64(float32(s.ZeroPoint)+offset-s.Mean[c])) > 1 {
			return false
		}
	}
	return true
}

// Resize returns the part of img the spec's fit selects, scaled to the
// input size with bilinear filtering as golang.org/x/image/draw.BiLinear
// does it (a tent kernel, widened when shrinking so that it averages every
// source pixel; equal to BiLinear.Scale within float rounding), as RGBA.
func (s *InputSpec) Resize(img image.Image) *image.RGBA {
	dst := image.NewRGBA(image.Rect(0, 0, s.Width, s.Height))
	s.resample(img, func(rgb []byte) {
		for i := range s.Width * s.Height {
			copy(dst.Pix[4*i:4*i+3], rgb[3*i:3*i+3])
			dst.Pix[4*i+3] = 0xff
		}
	})
	return dst
}

// resample scales the region of img the fit selects to the input size and
// passes the packed RGB pixels to use, unless img is empty.
func (s *InputSpec) resample(img image.Image, use func(rgb []byte)) bool {
	src := img.Bounds()
	if s.Fit == CenterCrop {
		src = centerCrop(src, s.Width, s.Height)
	}
	if src.Empty() || s.Width <= 0 || s.Height <= 0 {
		return false
	}
	resamplerFor(s.Width, s.Height, src.Dx(), src.Dy()).scale(img, src, use)
	return true
}

func centerCrop(r image.Rectangle, w, h int) image.Rectangle {
	rw, rh := r.Dx(), r.Dy()
	// Largest rw' x rh' inside r with rw'/rh' = w/h.
	if rw*h > rh*w {
		cw := rh * w / h
		x0 := r.Min.X + (rw-cw)/2
		return image.Rect(x0, r.Min.Y, x0+cw, r.Max.Y)
	}
	ch := rw * h / w
	y0 := r.Min.Y + (rh-ch)/2
	return image.Rect(r.Min.X, y0, r.Max.X, y0+ch)
}

// Fill writes an image already at the input size into tensor t.
func (s *InputSpec) Fill(t *tflite.Tensor, img *image.RGBA) error {
	if err := s.check(t); err != nil {
		return err
	}
	if img.Rect.Dx() != s.Width || img.Rect.Dy() != s.Height {
		return fmt.Errorf("image is %dx%d, input is %dx%d", img.Rect.Dx(), img.Rect.Dy(), s.Width, s.Height)
	}
	pix := img.Pix
	if img.Stride != 4*s.Width { // a sub-image: pack its rows
		pix = make([]byte, 0, 4*s.Width*s.Height)
		for y := range s.Height {
			pix = append(pix, img.Pix[y*img.Stride:y*img.Stride+4*s.Width]...)
		}
	}
	s.fill(t, pix, 4)
	return nil
}

func (s *InputSpec) check(t *tflite.Tensor) error {
	if t.Type() != s.Type || t.Len() != s.Width*s.Height*s.Channels {
		return fmt.Errorf("input tensor is %s %v, spec wants %s %dx%dx%d", t.Type(), t.Shape(), s.Type, s.Height, s.Width, s.Channels)
	}
	return nil
}

// fill writes Width x Height RGB pixels, step bytes apart in pix, into t
// through a per-channel table of the 256 possible values.
func (s *InputSpec) fill(t *tflite.Tensor, pix []byte, step int) {
	var lut [3][256]float32
	var lutB [3][256]byte
	f := t.Float32s()
	for c := range 3 {
		for v := range 256 {
			if f != nil {
				lut[c][v] = (float32(v) - s.Mean[c]) / s.Std[c]
			} else {
				lutB[c][v] = s.quantize(c, uint8(v))
			}
		}
	}
	dst := t.Bytes()
	n := s.Width * s.Height
	if s.Channels == 1 {
		for i := range n {
			p := pix[step*i : step*i+3]
			v := luma(p[0], p[1], p[2])
			if f != nil {
				f[i] = lut[0][v]
			} else {
				dst[i] = lutB[0][v]
			}
		}
		return
	}
	r, b := 0, 2
	if s.BGR {
		r, b = 2, 0
	}
	for i := range n {
		p := pix[step*i : step*i+3]
		if f != nil {
			o := f[3*i : 3*i+3]
			o[0], o[1], o[2] = lut[0][p[r]], lut[1][p[1]], lut[2][p[b]]
		} else {
			o := dst[3*i : 3*i+3]
			o[0], o[1], o[2] = lutB[0][p[r]], lutB[1][p[1]], lutB[2][p[b]]
		}
	}
}

// luma is the grey value of an RGB pixel (ITU-R BT.601 weights). The
// conversions keep arm64 from fusing multiply and add, so every
// architecture rounds alike.
func luma(r, g, b uint8) uint8 {
	return uint8(math.Round(float64(0.299*float64(r)) + float64(0.587*float64(g)) + float64(0.114*float64(b))))
}

// quantize maps pixel value v of channel c to an 8-bit input value.
func (s *InputSpec) quantize(c int, v uint8) byte {
	switch {
	case s.passThrough && s.Type == tflite.Uint8:
		return v
	case s.passThrough:
		return v ^ 0x80 // v - 128 as int8
	}
	r := (float32(v) - s.Mean[c]) / s.Std[c]
	lo, hi := int32(0), int32(255)
	if s.Type == tflite.Int8 {
		lo, hi = -128, 127
	}
	return byte(tflite.QuantizeValue(r, s.Scale, s.ZeroPoint, lo, hi))
}

// Load resizes img and fills input tensor t with it.
func (s *InputSpec) Load(t *tflite.Tensor, img image.Image) error {
	if err := s.check(t); err != nil {
		return err
	}
	if !s.resample(img, func(rgb []byte) { s.fill(t, rgb, 3) }) {
		return fmt.Errorf("image of %v pixels is empty", img.Bounds())
	}
	return nil
}
