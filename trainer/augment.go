package trainer

import (
	"fmt"
	"image"
	"image/draw"
	"math"
	"math/rand/v2"
)

// Augment configures random changes to training images. Each training
// image is seen in its original form plus Views augmented versions, whose
// features are computed once and cached; every epoch picks one of them.
type Augment struct {
	Views      int     `json:"views"`      // augmented versions per training image (0: none)
	Flip       bool    `json:"flip"`       // mirror left-right with probability 1/2
	Rotate     float64 `json:"rotate"`     // largest rotation, degrees either way
	Zoom       float64 `json:"zoom"`       // largest zoom in: crop down to (1-Zoom) of each side
	Brightness float64 `json:"brightness"` // largest relative brightness change
	Contrast   float64 `json:"contrast"`   // largest relative contrast change
}

// Check validates the settings.
func (a Augment) Check() error {
	switch {
	case a.Views < 0 || a.Views > 64:
		return fmt.Errorf("augment: views %d out of range 0..64", a.Views)
	case a.Rotate < 0 || a.Rotate > 180:
		return fmt.Errorf("augment: rotation %v out of range 0..180 degrees", a.Rotate)
	case a.Zoom < 0 || a.Zoom >= 1:
		return fmt.Errorf("augment: zoom %v out of range [0, 1)", a.Zoom)
	case a.Brightness < 0 || a.Brightness >= 1:
		return fmt.Errorf("augment: brightness %v out of range [0, 1)", a.Brightness)
	case a.Contrast < 0 || a.Contrast >= 1:
		return fmt.Errorf("augment: contrast %v out of range [0, 1)", a.Contrast)
	case a.Views > 0 && !a.Flip && a.Rotate == 0 && a.Zoom == 0 && a.Brightness == 0 && a.Contrast == 0:
		return fmt.Errorf("augment: %d views requested but every augmentation is off", a.Views)
	}
	return nil
}

// key identifies the settings in cache keys: a change of any setting gives
// new augmented views.
func (a Augment) key() string {
	return fmt.Sprintf("flip=%t rot=%g zoom=%g bright=%g contrast=%g", a.Flip, a.Rotate, a.Zoom, a.Brightness, a.Contrast)
}

// viewRand is the random source of augmented view v of an image: it depends
// only on the seed, the image's content and v, so a view is the same in
// every run and in any order of work.
func viewRand(seed uint64, sum [32]byte, view int) *rand.Rand {
	var s uint64
	for _, b := range sum[:8] {
		s = s<<8 | uint64(b)
	}
	return rand.New(rand.NewPCG(seed^s, uint64(view)))
}

// Apply returns an augmented copy of img, at img's size. Geometry (flip,
// rotation about the centre, zoom into a random region) is one inverse
// mapping sampled bilinearly, with mirrored edges where the rotated frame
// leaves the picture; brightness and contrast act on the result.
func (a Augment) Apply(img image.Image, rng *rand.Rand) *image.RGBA {
	b := img.Bounds()
	src, ok := img.(*image.RGBA)
	if !ok || b.Min != (image.Point{}) {
		src = image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
		draw.Draw(src, src.Bounds(), img, b.Min, draw.Src)
	}
	w, h := src.Rect.Dx(), src.Rect.Dy()
	// Draw every parameter, used or not, so that one setting does not shift
	// the random values of the others.
	flip := rng.IntN(2) == 1
	angle := (2*rng.Float64() - 1) * a.Rotate * math.Pi / 180
	scale := 1 - a.Zoom*rng.Float64() // fraction of each side kept
	offX, offY := 2*rng.Float64()-1, 2*rng.Float64()-1
	bright := 1 + (2*rng.Float64()-1)*a.Brightness
	contrast := 1 + (2*rng.Float64()-1)*a.Contrast
	if !a.Flip {
		flip = false
	}
	// Centre of the kept region, moved at most to where it still fits.
	cx := float64(w)/2 + offX*float64(w)*(1-scale)/2
	cy := float64(h)/2 + offY*float64(h)*(1-scale)/2
	sin, cos := math.Sincos(angle)
	dst := image.NewRGBA(image.Rect(0, 0, w, h))
	var sum float64
	for y := 0; y < h; y++ {
		for x := 0; x < w; x++ {
			// Output pixel centre relative to the output centre.
			u := float64(x) + 0.5 - float64(w)/2
			v := float64(y) + 0.5 - float64(h)/2
			if flip {
				u = -u
			}
			u, v = u*scale, v*scale
			sx := cos*u - sin*v + cx - 0.5
			sy := sin*u + cos*v + cy - 0.5
			p := dst.Pix[y*dst.Stride+4*x:]
			bilinear(src, sx, sy, p)
			sum += 0.299*float64(p[0]) + 0.587*float64(p[1]) + 0.114*float64(p[2])
		}
	}
	if bright != 1 || contrast != 1 {
		mean := sum / float64(w*h) * bright
		for i := 0; i < len(dst.Pix); i += 4 {
			for c := 0; c < 3; c++ {
				v := (float64(dst.Pix[i+c])*bright-mean)*contrast + mean
				dst.Pix[i+c] = uint8(math.Round(math.Max(0, math.Min(255, v))))
			}
		}
	}
	return dst
}

// bilinear samples src at (x, y) (pixel centres at integers), mirroring
// coordinates outside the picture, and writes opaque RGBA into p.
func bilinear(src *image.RGBA, x, y float64, p []uint8) {
	w, h := src.Rect.Dx(), src.Rect.Dy()
	x0f, y0f := math.Floor(x), math.Floor(y)
	fx, fy := x-x0f, y-y0f
	x0, y0 := int(x0f), int(y0f)
	xa, xb := mirror(x0, w), mirror(x0+1, w)
	ya, yb := mirror(y0, h), mirror(y0+1, h)
	r0 := src.Pix[ya*src.Stride:]
	r1 := src.Pix[yb*src.Stride:]
	for c := 0; c < 3; c++ {
		top := float64(r0[4*xa+c])*(1-fx) + float64(r0[4*xb+c])*fx
		bot := float64(r1[4*xa+c])*(1-fx) + float64(r1[4*xb+c])*fx
		p[c] = uint8(top*(1-fy) + bot*fy + 0.5)
	}
	p[3] = 255
}

// mirror reflects index i into [0, n).
func mirror(i, n int) int {
	if n == 1 {
		return 0
	}
	period := 2 * n
	i %= period
	if i < 0 {
		i += period
	}
	if i >= n {
		i = period - 1 - i
	}
	return i
}
