package camera

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"encoding/json"
	"image"
	"image/jpeg"
	"math"
	"os"
	"path/filepath"
	"testing"

	xdraw "golang.org/x/image/draw"

	"github.com/edgeclass/edgeclass/internal/testenv"
	"github.com/edgeclass/edgeclass/tflite"
)

// interpreterFor returns an interpreter of a shared test model.
func interpreterFor(t testing.TB, model string) (*tflite.Model, *tflite.Interpreter) {
	t.Helper()
	m, err := tflite.LoadFile(testenv.TestData(t, "models/"+model))
	if err != nil {
		t.Fatal(err)
	}
	it, err := tflite.NewInterpreter(m, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(it.Close)
	return m, it
}

func loadPhoto(t testing.TB, name string) image.Image {
	t.Helper()
	img, err := LoadImage(testenv.TestData(t, "images/"+name))
	if err != nil {
		t.Fatal(err)
	}
	return img
}

// cameraFrame returns a photo as a 640x480 camera would deliver it: a
// JPEG decoded to 4:2:0 YCbCr.
func cameraFrame(t testing.TB) (*image.YCbCr, []byte) {
	t.Helper()
	photo := loadPhoto(t, "cat_720p.jpg")
	small := image.NewRGBA(image.Rect(0, 0, 640, 480))
	xdraw.BiLinear.Scale(small, small.Bounds(), photo, photo.Bounds(), xdraw.Src, nil)
	data := encodeJPEG(t, small)
	img, err := DecodeImage(data)
	if err != nil {
		t.Fatal(err)
	}
	return img.(*image.YCbCr), data
}

// xdrawResize is the reference: x/image/draw's BiLinear into RGBA.
func xdrawResize(s *InputSpec, img image.Image) *image.RGBA {
	src := img.Bounds()
	if s.Fit == CenterCrop {
		src = centerCrop(src, s.Width, s.Height)
	}
	dst := image.NewRGBA(image.Rect(0, 0, s.Width, s.Height))
	xdraw.BiLinear.Scale(dst, dst.Bounds(), img, src, xdraw.Src, nil)
	return dst
}

// TestResizeMatchesXDraw compares the resampler with x/image/draw's
// BiLinear on every kind of image the decoders return: at most 1 unit
// apart (float32 against float64 rounding at the truncation to 8 bits),
// and almost everywhere equal.
func TestResizeMatchesXDraw(t *testing.T) {
	frame, _ := cameraFrame(t)
	images := map[string]image.Image{"camera frame 640x480 (YCbCr 4:2:0)": frame}
	for _, name := range []string{"grace_hopper.bmp", "parrot.jpg", "cat.jpg", "burger.jpg", "grace_hopper.png", "person_96x96_gray.bmp", "cats_and_dogs.jpg"} {
		images[name] = loadPhoto(t, name)
	}
	// Other YCbCr layouts and a cropped sub-image with an offset origin.
	images["YCbCr 4:4:4"] = reencode(t, frame, image.YCbCrSubsampleRatio444)
	images["YCbCr 4:2:2"] = reencode(t, frame, image.YCbCrSubsampleRatio422)
	images["YCbCr 4:4:0"] = reencode(t, frame, image.YCbCrSubsampleRatio440)
	images["sub-image"] = frame.SubImage(image.Rect(101, 33, 501, 433))
	images["gray"] = toGray(frame)
	bgr := NewBGR(frame.Bounds())
	for y := 0; y < 480; y++ {
		for x := 0; x < 640; x++ {
			r, g, b, _ := frame.At(x, y).RGBA()
			copy(bgr.Pix[bgr.PixOffset(x, y):], []byte{uint8(b >> 8), uint8(g >> 8), uint8(r >> 8)})
		}
	}
	images["BGR"] = bgr

	for name, img := range images {
		for _, spec := range []InputSpec{{Width: 224, Height: 224}, {Width: 160, Height: 120, Fit: CenterCrop}, {Width: 96, Height: 96}, {Width: 700, Height: 500}} {
			got, want := spec.Resize(img), xdrawResize(&spec, img)
			maxDiff, n := 0, 0
			for i := range got.Pix {
				d := int(got.Pix[i]) - int(want.Pix[i])
				if d != 0 {
					n++
					maxDiff = max(maxDiff, d, -d)
				}
			}
			if maxDiff > 1 || n*1000 > len(got.Pix) {
				t.Errorf("%s to %dx%d (fit %d): %d of %d bytes differ from x/image/draw, by up to %d", name, spec.Width, spec.Height, spec.Fit, n, len(got.Pix), maxDiff)
			}
		}
	}
}

func reencode(t *testing.T, img *image.YCbCr, ratio image.YCbCrSubsampleRatio) *image.YCbCr {
	out := image.NewYCbCr(img.Rect, ratio)
	for y := 0; y < img.Rect.Dy(); y++ {
		for x := 0; x < img.Rect.Dx(); x++ {
			out.Y[out.YOffset(x, y)] = img.Y[img.YOffset(x, y)]
			out.Cb[out.COffset(x, y)] = img.Cb[img.COffset(x, y)]
			out.Cr[out.COffset(x, y)] = img.Cr[img.COffset(x, y)]
		}
	}
	return out
}

func toGray(img image.Image) *image.Gray {
	g := image.NewGray(img.Bounds())
	xdraw.Draw(g, g.Rect, img, img.Bounds().Min, xdraw.Src)
	return g
}

type goldenCase struct {
	Model   string `json:"model"`
	Image   string `json:"image"`
	Input   string `json:"input"`
	InDtype string `json:"in_dtype"`
	InShape []int  `json:"in_shape"`
}

// TestGoldenInputs loads the golden photos through SpecFor and Load and
// compares the tensors with the golden inputs (x/image/draw BiLinear of
// the whole image, squashed): within 1 unit of 8-bit input, 1/127.5 of
// float input.
func TestGoldenInputs(t *testing.T) {
	dir := testenv.TestData(t, "golden")
	f, err := os.Open(filepath.Join(dir, "manifest.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	cases := 0
	for sc.Scan() {
		var c goldenCase
		if err := json.Unmarshal(sc.Bytes(), &c); err != nil {
			t.Fatal(err)
		}
		if len(c.InShape) != 4 || c.InShape[3] != 3 {
			continue // not an image input (the classifier head)
		}
		cases++
		t.Run(filepath.Base(c.Input), func(t *testing.T) {
			m, it := interpreterFor(t, filepath.Base(c.Model))
			spec, err := SpecFor(m, it.Input(0))
			if err != nil {
				t.Fatal(err)
			}
			if err := spec.Load(it.Input(0), loadPhoto(t, c.Image)); err != nil {
				t.Fatal(err)
			}
			want, err := os.ReadFile(filepath.Join(dir, c.Input))
			if err != nil {
				t.Fatal(err)
			}
			got := it.Input(0).Bytes()
			if len(got) != len(want) {
				t.Fatalf("input is %d bytes, golden %d", len(got), len(want))
			}
			maxDiff, n := 0.0, 0
			for i := 0; i < len(got); {
				var d float64
				switch c.InDtype {
				case "float32":
					d = 127.5 * math.Abs(float64(math.Float32frombits(binary.LittleEndian.Uint32(got[i:])))-
						float64(math.Float32frombits(binary.LittleEndian.Uint32(want[i:]))))
					i += 4
				case "int8":
					d = math.Abs(float64(int8(got[i])) - float64(int8(want[i])))
					i++
				default:
					d = math.Abs(float64(got[i]) - float64(want[i]))
					i++
				}
				if d > 1e-3 {
					n++
				}
				maxDiff = max(maxDiff, d)
			}
			if maxDiff > 1+1e-3 {
				t.Errorf("max difference %.3g pixel units from the golden input (%d values differ)", maxDiff, n)
			}
			t.Logf("%d of %d values differ, by up to %.3g", n, it.Input(0).Len(), maxDiff)
		})
	}
	if cases < 40 {
		t.Errorf("only %d golden image cases", cases)
	}
}

// TestFillConversions checks each kind of input tensor against the
// formulas, on a frame where every channel takes many values.
func TestFillConversions(t *testing.T) {
	frame, _ := cameraFrame(t)
	for _, c := range []struct {
		model string
		bgr   bool
		// want computes the tensor value of pixel (r, g, b) and channel ch
		want func(s *InputSpec, r, g, b uint8, ch int) float64
	}{
		{"mobilenet_v1_0.25_224_quant.tflite", false, func(s *InputSpec, r, g, b uint8, ch int) float64 {
			return float64([]uint8{r, g, b}[ch]) // scale 1/128, zero point 128: pixels as they are
		}},
		{"mobilenet_v1_0.25_224_quant.tflite", true, func(s *InputSpec, r, g, b uint8, ch int) float64 {
			return float64([]uint8{b, g, r}[ch])
		}},
		{"mobilenet_v1_0.25_224_float.tflite", false, func(s *InputSpec, r, g, b uint8, ch int) float64 {
			return (float64([]uint8{r, g, b}[ch]) - 127.5) / 127.5
		}},
		{"person_detect_int8_96x96.tflite", false, func(s *InputSpec, r, g, b uint8, ch int) float64 {
			// Scale 1/127.5 and zero point -1 quantize (grey-127.5)/127.5
			// as grey-128: the pixels are passed as they are, minus 128.
			return float64(luma(r, g, b)) - 128
		}},
		{"automl_labeler_model.tflite", false, func(s *InputSpec, r, g, b uint8, ch int) float64 {
			return float64([]uint8{r, g, b}[ch]) // uint8: raw pixels whatever the metadata says
		}},
	} {
		m, it := interpreterFor(t, c.model)
		in := it.Input(0)
		spec, err := SpecFor(m, in)
		if err != nil {
			t.Fatal(err)
		}
		spec.BGR = c.bgr
		if err := spec.Load(in, frame); err != nil {
			t.Fatal(err)
		}
		rgba := spec.Resize(frame)
		var got []float64
		switch in.Type() {
		case tflite.Float32:
			for _, v := range in.Float32s() {
				got = append(got, float64(v))
			}
		case tflite.Int8:
			for _, v := range in.Int8s() {
				got = append(got, float64(v))
			}
		default:
			for _, v := range in.Uint8s() {
				got = append(got, float64(v))
			}
		}
		bad := 0
		for i, v := range got {
			px, ch := i/spec.Channels, i%spec.Channels
			p := rgba.Pix[4*px:]
			if w := c.want(&spec, p[0], p[1], p[2], ch); math.Abs(v-w) > 1e-5 {
				if bad++; bad < 4 {
					t.Errorf("%s (BGR %v): value %d is %g, want %g", c.model, c.bgr, i, v, w)
				}
			}
		}
		// Fill of the resized image writes the same tensor as Load.
		loaded := bytes.Clone(in.Bytes())
		clear(in.Bytes())
		if err := spec.Fill(in, rgba); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(loaded, in.Bytes()) {
			t.Errorf("%s: Fill(Resize(img)) differs from Load(img)", c.model)
		}
	}
}

func TestLoadErrors(t *testing.T) {
	m, it := interpreterFor(t, "mobilenet_v1_0.25_128_quant.tflite")
	spec, err := SpecFor(m, it.Input(0))
	if err != nil {
		t.Fatal(err)
	}
	if err := spec.Load(it.Input(0), image.NewRGBA(image.Rect(0, 0, 0, 5))); err == nil {
		t.Error("empty image loaded")
	}
	wrong := spec
	wrong.Width = 224
	if err := wrong.Load(it.Input(0), image.NewRGBA(image.Rect(0, 0, 8, 8))); err == nil {
		t.Error("224-wide spec loaded into a 128x128 tensor")
	}
	if err := spec.Fill(it.Input(0), image.NewRGBA(image.Rect(0, 0, 64, 64))); err == nil {
		t.Error("64x64 image filled into a 128x128 tensor")
	}
}

// BenchmarkLoad measures preprocessing of a 640x480 camera JPEG frame
// (decoded to YCbCr 4:2:0) into MobileNet's 224x224 uint8 input, against
// x/image/draw's BiLinear (the reference it matches) in the same run.
func BenchmarkLoad(b *testing.B) {
	frame, data := cameraFrame(b)
	m, it := interpreterFor(b, "mobilenet_v2_1.0_224_quant.tflite")
	spec, err := SpecFor(m, it.Input(0))
	if err != nil {
		b.Fatal(err)
	}
	b.Run("camera.Load", func(b *testing.B) {
		for b.Loop() {
			if err := spec.Load(it.Input(0), frame); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("xdraw.BiLinear+Fill", func(b *testing.B) {
		for b.Loop() {
			if err := spec.Fill(it.Input(0), xdrawResize(&spec, frame)); err != nil {
				b.Fatal(err)
			}
		}
	})
	scaler := xdraw.BiLinear.NewScaler(224, 224, 640, 480)
	b.Run("xdraw.NewScaler+Fill", func(b *testing.B) {
		dst := image.NewRGBA(image.Rect(0, 0, 224, 224))
		for b.Loop() {
			scaler.Scale(dst, dst.Rect, frame, frame.Rect, xdraw.Src, nil)
			if err := spec.Fill(it.Input(0), dst); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("jpeg.Decode", func(b *testing.B) {
		for b.Loop() {
			if _, err := jpeg.Decode(bytes.NewReader(data)); err != nil {
				b.Fatal(err)
			}
		}
	})
}
