package camera

import (
	"context"
	"fmt"
	"image"
	"image/color"
	"math"
)

// PatternColour is one colour the test pattern shows.
type PatternColour struct {
	Name string
	RGB  color.RGBA
}

// PatternColours are the test pattern's colours, in the order shown.
var PatternColours = []PatternColour{
	{"red", color.RGBA{220, 30, 30, 255}},
	{"green", color.RGBA{30, 190, 50, 255}},
	{"blue", color.RGBA{30, 60, 220, 255}},
	{"yellow", color.RGBA{235, 215, 30, 255}},
}

// patternGrey is the neutral background.
var patternGrey = color.RGBA{120, 120, 120, 255}

// TestPattern is a synthetic camera: a large disc of one colour at a time
// moving over a neutral grey background, with a frame counter and a clock.
// Each colour of PatternColours shows for ColourSeconds, so a classifier
// of the dominant colour can be checked against Label.
type TestPattern struct {
	Width, Height int
	// FPS is the frame rate the clock and colour periods count in; run the
	// pattern with the same Options.FPS to keep it in real time.
	FPS           float64
	ColourSeconds float64

	bg   []byte // background pixels, copied into each frame
	next uint64 // frame Decode renders
}

// NewTestPattern returns a width x height pattern at fps frames per
// second, changing colour every 3 seconds.
func NewTestPattern(width, height int, fps float64) (*TestPattern, error) {
	if width < 16 || height < 16 || width*height > maxPixels {
		return nil, fmt.Errorf("test pattern size %dx%d out of range", width, height)
	}
	if fps <= 0 || math.IsInf(fps, 0) || math.IsNaN(fps) {
		return nil, fmt.Errorf("test pattern frame rate %g must be positive", fps)
	}
	p := &TestPattern{Width: width, Height: height, FPS: fps, ColourSeconds: 3}
	p.bg = make([]byte, 4*width*height)
	for y := 0; y < height; y++ {
		for x := 0; x < width; x++ {
			c := patternGrey
			if x%64 == 0 || y%64 == 0 { // a faint grid shows motion and scaling
				c = color.RGBA{132, 132, 132, 255}
			}
			copy(p.bg[4*(y*width+x):], []byte{c.R, c.G, c.B, 255})
		}
	}
	return p, nil
}

// colour returns the colour of frame seq (1 = first frame).
func (p *TestPattern) colour(seq uint64) PatternColour {
	per := max(1, uint64(math.Round(p.ColourSeconds*p.FPS)))
	return PatternColours[(max(seq, 1)-1)/per%uint64(len(PatternColours))]
}

// Label is the colour name of frame seq (1 = first frame; Frame.Seq when
// the pattern runs in a Stream).
func (p *TestPattern) Label(seq uint64) string { return p.colour(seq).Name }

// Render draws frame seq.
func (p *TestPattern) Render(seq uint64) *image.RGBA {
	w, h := p.Width, p.Height
	img := &image.RGBA{Pix: make([]byte, len(p.bg)), Stride: 4 * w, Rect: image.Rect(0, 0, w, h)}
	copy(img.Pix, p.bg)

	t := float64(max(seq, 1)-1) / p.FPS
	cx := float64(w)/2 + 0.22*float64(w)*math.Sin(2*math.Pi*t/4)
	cy := float64(h)/2 + 0.18*float64(h)*math.Sin(2*math.Pi*t/3)
	r := 0.33 * float64(min(w, h))
	c := p.colour(seq).RGB
	for y := max(0, int(cy-r)); y < min(h, int(cy+r)+1); y++ {
		dy := float64(y) + 0.5 - cy
		half := r*r - dy*dy
		if half < 0 {
			continue
		}
		hw := math.Sqrt(half)
		x0, x1 := max(0, int(math.Round(cx-hw))), min(w, int(math.Round(cx+hw)))
		row := img.Pix[y*img.Stride:]
		for x := x0; x < x1; x++ {
			copy(row[4*x:4*x+4], []byte{c.R, c.G, c.B, 255})
		}
	}

	cs := int(math.Round(t * 100)) // centiseconds
	text := fmt.Sprintf("%06d %02d:%02d.%02d", seq%1000000, cs/6000%100, cs/100%60, cs%100)
	drawText(img, text, max(1, h/120))
	return img
}

// Open implements Device; the pattern goes on where it was.
func (p *TestPattern) Open(context.Context) error { return nil }

// Grab implements Device.
func (p *TestPattern) Grab(context.Context) error {
	p.next++
	return nil
}

// Decode implements Device.
func (p *TestPattern) Decode() (Frame, error) {
	return Frame{Image: p.Render(p.next), Label: p.Label(p.next)}, nil
}

// Live implements Device: the pattern is drawn when a frame is due.
func (p *TestPattern) Live() bool { return false }

// Close implements Device.
func (p *TestPattern) Close() error { return nil }

// digitFont is a 3x5 pixel font for "0123456789:. ", one row per 3 bits.
var digitFont = map[rune][5]uint8{
	'0': {7, 5, 5, 5, 7}, '1': {2, 6, 2, 2, 7}, '2': {7, 1, 7, 4, 7}, '3': {7, 1, 7, 1, 7},
	'4': {5, 5, 7, 1, 1}, '5': {7, 4, 7, 1, 7}, '6': {7, 4, 7, 5, 7}, '7': {7, 1, 1, 1, 1},
	'8': {7, 5, 7, 5, 7}, '9': {7, 5, 7, 1, 7}, ':': {0, 2, 0, 2, 0}, '.': {0, 0, 0, 0, 2},
	' ': {},
}

// drawText writes text in white on a black box at the top left corner,
// each font pixel scale x scale.
func drawText(img *image.RGBA, text string, scale int) {
	cell := 4 * scale
	box := image.Rect(0, 0, min(img.Rect.Dx(), (len(text)*4+1)*scale), min(img.Rect.Dy(), 7*scale))
	fill(img, box, color.RGBA{0, 0, 0, 255})
	for i, ch := range text {
		glyph := digitFont[ch]
		for gy, bits := range glyph {
			for gx := 0; gx < 3; gx++ {
				if bits&(4>>gx) != 0 {
					x, y := scale+i*cell+gx*scale, scale+gy*scale
					fill(img, image.Rect(x, y, x+scale, y+scale).Intersect(box), color.RGBA{255, 255, 255, 255})
				}
			}
		}
	}
}

func fill(img *image.RGBA, r image.Rectangle, c color.RGBA) {
	for y := r.Min.Y; y < r.Max.Y; y++ {
		row := img.Pix[y*img.Stride:]
		for x := r.Min.X; x < r.Max.X; x++ {
			copy(row[4*x:4*x+4], []byte{c.R, c.G, c.B, c.A})
		}
	}
}
