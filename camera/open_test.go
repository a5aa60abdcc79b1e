package camera

import (
	"fmt"
	"strings"
	"testing"
)

func TestNewDeviceSpecs(t *testing.T) {
	for spec, want := range map[string]string{
		"testpattern":             "*camera.TestPattern",
		"file:/tmp/a.jpg":         "*camera.Files",
		"dir:/tmp":                "*camera.Files",
		"http://cam/video.mjpg":   "*camera.MJPEG",
		"https://cam/video.mjpeg": "*camera.MJPEG",
	} {
		d, err := NewDevice(spec, Options{})
		if err != nil {
			t.Errorf("%s: %v", spec, err)
			continue
		}
		if got := fmt.Sprintf("%T", d); got != want {
			t.Errorf("%s: %s, want %s", spec, got, want)
		}
	}
	if d, _ := NewDevice("dir:/tmp", Options{}); !d.(*Files).Dir {
		t.Error("dir: spec does not read a folder")
	}
	if d, _ := NewDevice("testpattern", Options{Width: 320, Height: 240, FPS: 5}); d.(*TestPattern).Width != 320 || d.(*TestPattern).FPS != 5 {
		t.Errorf("test pattern options not applied: %+v", d)
	}
	for _, spec := range []string{"", "webcam", "file:", "dir:", "ftp://x", "testpattern:x"} {
		if _, err := NewDevice(spec, Options{}); err == nil {
			t.Errorf("%q accepted", spec)
		} else if spec == "webcam" && !strings.Contains(err.Error(), "want testpattern, file:PATH") {
			t.Errorf("unknown spec error does not list the specs: %v", err)
		}
	}
}
