package camera

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// solid returns a w x h image of one colour.
func solid(w, h int, c color.RGBA) *image.RGBA {
	img := image.NewRGBA(image.Rect(0, 0, w, h))
	for i := 0; i < len(img.Pix); i += 4 {
		copy(img.Pix[i:], []byte{c.R, c.G, c.B, c.A})
	}
	return img
}

func encodeJPEG(t testing.TB, img image.Image) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := jpeg.Encode(&b, img, &jpeg.Options{Quality: 90}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// writeTestImages writes n images img0.jpg, img1.png, img2.jpg, ... whose
// width is 10+i, so a frame tells which file it came from.
func writeTestImages(t testing.TB, dir string, n int) {
	t.Helper()
	for i := 0; i < n; i++ {
		img := solid(10+i, 8, color.RGBA{uint8(40 * i), 100, 200, 255})
		var data []byte
		name := fmt.Sprintf("img%d.jpg", i)
		if i%2 == 1 {
			var b bytes.Buffer
			if err := png.Encode(&b, img); err != nil {
				t.Fatal(err)
			}
			data, name = b.Bytes(), fmt.Sprintf("img%d.png", i)
		} else {
			data = encodeJPEG(t, img)
		}
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestFilesDirOrderSkipsAndLoops(t *testing.T) {
	checkLeaks(t)
	dir := t.TempDir()
	writeTestImages(t, dir, 3)
	// A broken image between the good ones, and files that are not images.
	for name, data := range map[string]string{"img1b.jpg": "not a jpeg", "notes.txt": "hello", "IMG9.BMP": "BM"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "sub.jpg"), 0o755); err != nil {
		t.Fatal(err)
	}

	d := &Files{Path: dir, Dir: true}
	if err := d.Open(context.Background()); err != nil {
		t.Fatal(err)
	}
	// Name order: IMG9.BMP, img0.jpg, img1.png, img1b.jpg, img2.jpg.
	var widths []int
	skipped := 0
	for {
		err := d.Grab(context.Background())
		if err != nil {
			if !errors.Is(err, io.EOF) {
				t.Fatal(err)
			}
			break
		}
		f, err := d.Decode()
		if err != nil {
			var se *SkipError
			if !errors.As(err, &se) {
				t.Fatalf("decode error is not a SkipError: %v", err)
			}
			skipped++
			continue
		}
		widths = append(widths, f.Image.Bounds().Dx())
		if (f.JPEG != nil) != (f.Image.Bounds().Dx() != 11) {
			t.Errorf("frame of width %d: JPEG bytes kept = %v", f.Image.Bounds().Dx(), f.JPEG != nil)
		}
	}
	if fmt.Sprint(widths) != "[10 11 12]" || skipped != 2 {
		t.Errorf("one pass gave widths %v and %d skipped, want [10 11 12] and 2", widths, skipped)
	}

	s := NewStream(&Files{Path: dir, Dir: true}, Options{FPS: 200})
	defer s.Close()
	waitFor(t, "two passes", func() bool { return s.Stats().Loops >= 2 })
	st := s.Stats()
	if st.Skipped < 4 || st.LastError == "" || st.Reconnects != 0 {
		t.Errorf("after 2 loops: %+v, want >= 4 skipped with the error shown and no reconnects", st)
	}
}

func TestFilesSingleFileAndMissing(t *testing.T) {
	checkLeaks(t)
	dir := t.TempDir()
	writeTestImages(t, dir, 1)
	s, err := Open("file:"+filepath.Join(dir, "img0.jpg"), Options{FPS: 100})
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		f, err := s.Next(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		if f.Image.Bounds().Dx() != 10 || len(f.JPEG) == 0 {
			t.Fatalf("frame %d: %v, %d JPEG bytes", f.Seq, f.Image.Bounds(), len(f.JPEG))
		}
	}
	s.Close()

	s, err = Open("dir:"+filepath.Join(dir, "missing"), Options{MinBackoff: 5e6})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	waitFor(t, "the open error", func() bool { return s.Stats().Reconnects >= 2 })
	if st := s.Stats(); st.Connected || st.LastError == "" {
		t.Errorf("missing folder: %+v", st)
	}
}
