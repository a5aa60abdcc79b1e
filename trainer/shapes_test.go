package trainer

import (
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/edgeclass/edgeclass/internal/testenv"
)

// shapeClasses are the classes of the synthetic data set.
var shapeClasses = []string{"circle", "square", "triangle"}

// drawShape paints one random picture of a shape class: a filled shape of
// random colour, size, angle and position on a background of contrasting
// brightness with a random gradient and noise.
func drawShape(class string, rng *rand.Rand, size int) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, size, size))
	dark := func() uint8 { return uint8(rng.IntN(90)) }
	light := func() uint8 { return uint8(165 + rng.IntN(90)) }
	bg := color.RGBA{dark(), dark(), dark(), 255}
	fg := color.RGBA{light(), light(), light(), 255}
	if rng.IntN(2) == 0 {
		bg, fg = fg, bg
	}
	gx, gy := (rng.Float64()-0.5)*60/float64(size), (rng.Float64()-0.5)*60/float64(size)
	r := float64(size) * (0.2 + 0.15*rng.Float64())
	cx := float64(size)/2 + (rng.Float64()-0.5)*float64(size)*0.3
	cy := float64(size)/2 + (rng.Float64()-0.5)*float64(size)*0.3
	angle := rng.Float64() * 2 * math.Pi
	inside := func(x, y float64) bool {
		dx, dy := x-cx, y-cy
		switch class {
		case "circle":
			return dx*dx+dy*dy <= r*r
		case "square":
			s, c := math.Sincos(angle)
			u, v := c*dx+s*dy, -s*dx+c*dy
			return math.Abs(u) <= r*0.85 && math.Abs(v) <= r*0.85
		default: // triangle: three half-planes
			for k := 0; k < 3; k++ {
				a := angle + float64(k)*2*math.Pi/3
				s, c := math.Sincos(a)
				if c*dx+s*dy > r*0.5 {
					return false
				}
			}
			return true
		}
	}
	for y := 0; y < size; y++ {
		for x := 0; x < size; x++ {
			c := bg
			shade := int(gx*float64(x) + gy*float64(y))
			if inside(float64(x)+0.5, float64(y)+0.5) {
				c, shade = fg, 0
			}
			n := func(v uint8) uint8 { return uint8(max(0, min(255, int(v)+shade+rng.IntN(21)-10))) }
			img.SetRGBA(x, y, color.RGBA{n(c.R), n(c.G), n(c.B), 255})
		}
	}
	return img
}

// makeShapes writes perClass pictures of each shape class under dir, as
// JPEG and PNG files, and returns dir.
func makeShapes(t testing.TB, dir string, perClass int, seed uint64) string {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 7))
	for _, class := range shapeClasses {
		if err := os.MkdirAll(filepath.Join(dir, class), 0o755); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < perClass; i++ {
			img := drawShape(class, rng, 96)
			name := filepath.Join(dir, class, class+"_"+string(rune('a'+i/26))+string(rune('a'+i%26)))
			var err error
			if i%3 == 0 {
				err = writeImage(name+".png", img, "png")
			} else {
				err = writeImage(name+".jpg", img, "jpeg")
			}
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	return dir
}

func writeImage(path string, img image.Image, format string) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if format == "png" {
		err = png.Encode(f, img)
	} else {
		err = jpeg.Encode(f, img, &jpeg.Options{Quality: 90})
	}
	if err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// smallBackbone is the fast backbone of the tests.
func smallBackbone(t testing.TB) string {
	return testenv.TestData(t, "models/mobilenet_v1_0.25_128_quant.tflite")
}
