package trainer

import (
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"image/png"
	"math"
	"os"

	xdraw "golang.org/x/image/draw"
	"golang.org/x/image/font"
	"golang.org/x/image/font/basicfont"
	"golang.org/x/image/math/fixed"
)

// Charts for the reports, drawn with the standard library and the 7x13
// bitmap font of golang.org/x/image.

var (
	white     = color.RGBA{255, 255, 255, 255}
	black     = color.RGBA{0, 0, 0, 255}
	grey      = color.RGBA{190, 190, 190, 255}
	lightGrey = color.RGBA{235, 235, 235, 255}
	blue      = color.RGBA{31, 119, 180, 255}
	orange    = color.RGBA{255, 127, 14, 255}
	red       = color.RGBA{200, 30, 30, 255}
	green     = color.RGBA{30, 140, 50, 255}
)

const charW, lineH = 7, 13

func canvas(w, h int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	draw.Draw(img, img.Bounds(), image.NewUniform(white), image.Point{}, draw.Src)
	return img
}

// text draws s with its top-left corner at (x, y).
func text(img draw.Image, x, y int, s string, c color.Color) {
	d := font.Drawer{Dst: img, Src: image.NewUniform(c), Face: basicfont.Face7x13,
		Dot: fixed.P(x, y+basicfont.Face7x13.Ascent)}
	d.DrawString(s)
}

// fit shortens s to at most n characters.
func fit(s string, n int) string {
	r := []rune(s)
	if len(r) <= n || n < 2 {
		return s
	}
	return string(r[:n-1]) + "~"
}

func fillRect(img draw.Image, r image.Rectangle, c color.Color) {
	draw.Draw(img, r, image.NewUniform(c), image.Point{}, draw.Src)
}

// line draws a line of the given width between two points.
func line(img *image.RGBA, x0, y0, x1, y1 float64, width int, c color.Color) {
	n := int(math.Max(math.Abs(x1-x0), math.Abs(y1-y0))) + 1
	for i := 0; i <= n; i++ {
		t := float64(i) / float64(n)
		x := int(math.Round(x0 + t*(x1-x0)))
		y := int(math.Round(y0 + t*(y1-y0)))
		fillRect(img, image.Rect(x-width/2, y-width/2, x-width/2+width, y-width/2+width), c)
	}
}

func savePNG(path string, img image.Image) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := png.Encode(f, img); err != nil {
		f.Close()
		return fmt.Errorf("%s: %w", path, err)
	}
	return f.Close()
}

// series is one line of a chart.
type series struct {
	name string
	c    color.Color
	y    []float64 // y[i] at x = i+1
}

// chart draws series against epochs into the rectangle r of img, with
// axes, ticks, a title, a legend and a dashed marker at epoch mark (0: none).
func chart(img *image.RGBA, r image.Rectangle, title string, ss []series, mark int) {
	left, right, top, bottom := r.Min.X+55, r.Max.X-15, r.Min.Y+30, r.Max.Y-35
	text(img, left, r.Min.Y+8, title, black)
	n := 0
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, s := range ss {
		n = max(n, len(s.y))
		for _, v := range s.y {
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
	}
	if n == 0 {
		return
	}
	if hi-lo < 1e-9 {
		lo, hi = lo-0.5, hi+0.5
	}
	pad := (hi - lo) * 0.05
	lo, hi = lo-pad, hi+pad
	xOf := func(i float64) float64 {
		if n == 1 {
			return float64(left+right) / 2
		}
		return float64(left) + (i-1)/float64(n-1)*float64(right-left)
	}
	yOf := func(v float64) float64 { return float64(bottom) - (v-lo)/(hi-lo)*float64(bottom-top) }
	// Grid and y ticks.
	for k := 0; k <= 4; k++ {
		v := lo + (hi-lo)*float64(k)/4
		y := yOf(v)
		line(img, float64(left), y, float64(right), y, 1, lightGrey)
		label := fmt.Sprintf("%.3g", v)
		text(img, left-6-len(label)*charW, int(y)-6, label, black)
	}
	// x ticks: about 8 epochs labelled.
	stepX := max(1, (n+7)/8)
	for e := 1; e <= n; e += stepX {
		x := xOf(float64(e))
		line(img, x, float64(bottom), x, float64(bottom+4), 1, black)
		label := fmt.Sprint(e)
		text(img, int(x)-len(label)*charW/2, bottom+6, label, black)
	}
	text(img, (left+right)/2-2*charW, bottom+20, "epoch", black)
	line(img, float64(left), float64(top), float64(left), float64(bottom), 1, black)
	line(img, float64(left), float64(bottom), float64(right), float64(bottom), 1, black)
	if mark > 0 && mark <= n {
		x := xOf(float64(mark))
		for y := top; y < bottom; y += 8 {
			line(img, x, float64(y), x, float64(min(y+4, bottom)), 1, grey)
		}
	}
	for _, s := range ss {
		for i := 1; i < len(s.y); i++ {
			line(img, xOf(float64(i)), yOf(s.y[i-1]), xOf(float64(i+1)), yOf(s.y[i]), 2, s.c)
		}
		if len(s.y) == 1 {
			fillRect(img, image.Rect(int(xOf(1))-2, int(yOf(s.y[0]))-2, int(xOf(1))+3, int(yOf(s.y[0]))+3), s.c)
		}
	}
	// Legend above the plot, at the right.
	lx := right
	for i := len(ss) - 1; i >= 0; i-- {
		lx -= (len(ss[i].name)+5)*charW + 8
		line(img, float64(lx), float64(r.Min.Y+14), float64(lx+20), float64(r.Min.Y+14), 2, ss[i].c)
		text(img, lx+25, r.Min.Y+8, ss[i].name, black)
	}
}

// curvesPNG draws loss and accuracy per epoch, train and validation, of
// one training stage, marking the kept epoch.
func curvesPNG(path, stage string, hist []Epoch, best int) error {
	img := canvas(1000, 380)
	var tl, vl, ta, va []float64
	for _, e := range hist {
		tl, vl = append(tl, e.TrainLoss), append(vl, e.ValLoss)
		ta, va = append(ta, e.TrainAcc), append(va, e.ValAcc)
	}
	chart(img, image.Rect(0, 0, 500, 380), stage+": loss", []series{{"train", blue, tl}, {"val", orange, vl}}, best)
	chart(img, image.Rect(500, 0, 1000, 380), stage+": accuracy", []series{{"train", blue, ta}, {"val", orange, va}}, best)
	return savePNG(path, img)
}

// confusionPNG draws the confusion matrix: cells shaded by the share of
// the true class (row), with counts.
func confusionPNG(path, title string, m *Metrics) error {
	k := len(m.Classes)
	cols := k
	if m.hasOther() {
		cols++
	}
	name := func(j int) string {
		if j < k {
			return m.Classes[j]
		}
		return "(other)"
	}
	labelW := 0
	for j := 0; j < cols; j++ {
		labelW = max(labelW, len([]rune(name(j))))
	}
	labelW = min(labelW, 24)*charW + 12
	cell := 64
	ox, oy := labelW, 60+labelW
	w, h := max(ox+cols*cell+20, len(title)*charW+20), oy+k*cell+40
	img := canvas(w, h)
	text(img, 10, 8, title, black)
	text(img, 10, 30, "rows: true class, columns: predicted class", grey)
	for j := 0; j < cols; j++ {
		drawVertical(img, ox+j*cell+cell/2-lineH/2, oy-6, fit(name(j), 24))
	}
	for t := 0; t < k; t++ {
		row := m.Confusion[t]
		total := 0
		for _, v := range row {
			total += v
		}
		text(img, 6, oy+t*cell+cell/2-6, fit(m.Classes[t], 24), black)
		for j := 0; j < cols; j++ {
			share := 0.0
			if total > 0 {
				share = float64(row[j]) / float64(total)
			}
			shade := uint8(255 - share*200)
			c := color.RGBA{shade, shade, 255, 255}
			if j != t && row[j] > 0 {
				c = color.RGBA{255, shade, shade, 255}
			}
			r := image.Rect(ox+j*cell, oy+t*cell, ox+(j+1)*cell-1, oy+(t+1)*cell-1)
			fillRect(img, r, c)
			label := fmt.Sprint(row[j])
			tc := black
			if share > 0.6 {
				tc = white
			}
			text(img, r.Min.X+cell/2-len(label)*charW/2, r.Min.Y+cell/2-6, label, tc)
		}
	}
	return savePNG(path, img)
}

// drawVertical writes s bottom-up, rotated 90 degrees, ending at (x, y).
func drawVertical(img *image.RGBA, x, y int, s string) {
	w := len([]rune(s)) * charW
	tmp := canvas(w, lineH)
	text(tmp, 0, 0, s, black)
	for ty := 0; ty < lineH; ty++ {
		for tx := 0; tx < w; tx++ {
			c := tmp.RGBAAt(tx, ty)
			if c.R < 128 {
				img.SetRGBA(x+ty, y-tx, c)
			}
		}
	}
}

// thumb is a picture of a contact sheet with two caption lines.
type thumb struct {
	img            image.Image
	line1, line2   string
	color1, color2 color.Color
}

// contactSheetPNG draws thumbnails in a grid, seven to a row.
func contactSheetPNG(path, title string, thumbs []thumb) error {
	const size, capH, perRow = 140, 2*lineH + 6, 7
	rows := (len(thumbs) + perRow - 1) / perRow
	w := max(perRow*(size+8)+8, len(title)*charW+16)
	img := canvas(w, 30+max(1, rows)*(size+capH+8))
	text(img, 8, 8, title, black)
	for i, th := range thumbs {
		x := 8 + (i%perRow)*(size+8)
		y := 30 + (i/perRow)*(size+capH+8)
		b := th.img.Bounds()
		// Keep the aspect ratio inside the square.
		tw, tht := size, size
		if b.Dx() > b.Dy() {
			tht = max(1, size*b.Dy()/b.Dx())
		} else {
			tw = max(1, size*b.Dx()/b.Dy())
		}
		r := image.Rect(x+(size-tw)/2, y+(size-tht)/2, x+(size-tw)/2+tw, y+(size-tht)/2+tht)
		xdraw.ApproxBiLinear.Scale(img, r, th.img, b, draw.Src, nil)
		text(img, x, y+size+2, fit(th.line1, size/charW), th.color1)
		text(img, x, y+size+2+lineH, fit(th.line2, size/charW), th.color2)
	}
	if len(thumbs) == 0 {
		text(img, 8, 40, "(none)", grey)
	}
	return savePNG(path, img)
}
