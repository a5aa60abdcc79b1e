package camera

import (
	"image"
	"image/color"
)

// BGR is an image of 8-bit blue, green, red pixels, OpenCV's own layout,
// so frames from OpenCV sources need one copy and no conversion.
type BGR struct {
	Pix    []byte
	Stride int
	Rect   image.Rectangle
}

// NewBGR returns a black BGR image of bounds r.
func NewBGR(r image.Rectangle) *BGR {
	return &BGR{Pix: make([]byte, 3*r.Dx()*r.Dy()), Stride: 3 * r.Dx(), Rect: r}
}

// ColorModel implements image.Image.
func (p *BGR) ColorModel() color.Model { return color.RGBAModel }

// Bounds implements image.Image.
func (p *BGR) Bounds() image.Rectangle { return p.Rect }

// At implements image.Image.
func (p *BGR) At(x, y int) color.Color {
	if !(image.Point{x, y}.In(p.Rect)) {
		return color.RGBA{}
	}
	i := p.PixOffset(x, y)
	return color.RGBA{p.Pix[i+2], p.Pix[i+1], p.Pix[i], 255}
}

// PixOffset is the index in Pix of pixel (x, y).
func (p *BGR) PixOffset(x, y int) int {
	return (y-p.Rect.Min.Y)*p.Stride + (x-p.Rect.Min.X)*3
}
