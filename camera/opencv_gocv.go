//go:build gocv

package camera

import (
	"context"
	"fmt"
	"image"
	"io"
	"strconv"
	"strings"

	"gocv.io/x/gocv"

	"github.com/edgeclass/edgeclass/tflite"
)

// OpenCV is a Device reading through OpenCV's VideoCapture: V4L2 cameras,
// GStreamer pipelines, RTSP and other network streams, video files.
// Frames are copied out of OpenCV as *BGR images, so they live in Go
// memory like every other frame.
type OpenCV struct {
	// Target is a device index, a path or URL, or a GStreamer pipeline.
	Target string
	API    gocv.VideoCaptureAPI
	// File marks finite media: the end of the video is io.EOF (the Stream
	// loops or stops) instead of an outage.
	File bool
	// Width and Height, when set, are asked of a V4L2 camera.
	Width, Height int

	vc  *gocv.VideoCapture
	mat gocv.Mat
}

func newGoCVDevice(spec string, opts Options) (Device, error) {
	kind, arg, _ := strings.Cut(spec, ":")
	switch {
	case kind == "v4l2" || strings.HasPrefix(spec, "/dev/video"):
		if kind != "v4l2" {
			arg = spec
		}
		if arg == "" {
			return nil, fmt.Errorf("camera source %q names no device (want v4l2:0 or v4l2:/dev/video0)", spec)
		}
		return &OpenCV{Target: arg, API: gocv.VideoCaptureV4L2, Width: opts.Width, Height: opts.Height}, nil
	case kind == "gst":
		if arg == "" {
			return nil, fmt.Errorf("camera source %q names no pipeline", spec)
		}
		return &OpenCV{Target: arg, API: gocv.VideoCaptureGstreamer}, nil
	case kind == "rtsp" || kind == "rtsps":
		return &OpenCV{Target: spec, API: gocv.VideoCaptureFFmpeg}, nil
	case kind == "video":
		if arg == "" {
			return nil, fmt.Errorf("camera source %q names no file", spec)
		}
		file := !strings.Contains(arg, "://")
		return &OpenCV{Target: arg, API: gocv.VideoCaptureFFmpeg, File: file}, nil
	}
	return nil, fmt.Errorf("unknown OpenCV camera source %q", spec)
}

// Open implements Device.
func (d *OpenCV) Open(context.Context) error {
	var target any = d.Target
	if n, err := strconv.Atoi(d.Target); err == nil {
		target = n // a V4L2 device index
	}
	vc, err := gocv.OpenVideoCaptureWithAPI(target, d.API)
	if err != nil {
		return fmt.Errorf("OpenCV cannot open %q: %w", d.Target, err)
	}
	if !vc.IsOpened() {
		vc.Close()
		return fmt.Errorf("OpenCV cannot open %q", d.Target)
	}
	if d.API == gocv.VideoCaptureV4L2 {
		if d.Width > 0 && d.Height > 0 {
			vc.Set(gocv.VideoCaptureFrameWidth, float64(d.Width))
			vc.Set(gocv.VideoCaptureFrameHeight, float64(d.Height))
		}
		vc.Set(gocv.VideoCaptureBufferSize, 1) // the newest frame, not a queued one
	}
	d.vc, d.mat = vc, gocv.NewMat()
	return nil
}

// Grab implements Device. OpenCV decodes as it reads, so Grab does both;
// a read cannot be interrupted and returns after OpenCV's own timeout
// (30 s for network streams) at worst.
func (d *OpenCV) Grab(context.Context) error {
	if d.vc.Read(&d.mat) && !d.mat.Empty() {
		return nil
	}
	if d.File {
		return io.EOF
	}
	return fmt.Errorf("OpenCV read from %q failed", d.Target)
}

// Decode implements Device: it copies the frame into a *BGR image.
func (d *OpenCV) Decode() (Frame, error) {
	img, err := BGRFromMat(d.mat)
	if err != nil {
		return Frame{}, &SkipError{err}
	}
	return Frame{Image: img}, nil
}

// Live implements Device: cameras and streams run in real time, video
// files are read when a frame is due.
func (d *OpenCV) Live() bool { return !d.File }

// Close implements Device.
func (d *OpenCV) Close() error {
	if d.vc == nil {
		return nil
	}
	d.mat.Close()
	err := d.vc.Close()
	d.vc = nil
	return err
}

// BGRFromMat copies an 8-bit BGR, BGRA or grey Mat into a BGR image.
func BGRFromMat(m gocv.Mat) (*BGR, error) {
	w, h := m.Cols(), m.Rows()
	src := m
	switch m.Type() {
	case gocv.MatTypeCV8UC3:
	case gocv.MatTypeCV8UC4, gocv.MatTypeCV8UC1:
		src = gocv.NewMat()
		defer src.Close()
		code := gocv.ColorBGRAToBGR
		if m.Type() == gocv.MatTypeCV8UC1 {
			code = gocv.ColorGrayToBGR
		}
		gocv.CvtColor(m, &src, code)
	default:
		return nil, fmt.Errorf("OpenCV frame of type %v, want 8-bit BGR, BGRA or grey", m.Type())
	}
	img := NewBGR(image.Rect(0, 0, w, h))
	if src.IsContinuous() {
		data, err := src.DataPtrUint8()
		if err != nil {
			return nil, err
		}
		copy(img.Pix, data)
		return img, nil
	}
	copy(img.Pix, src.ToBytes())
	return img, nil
}

// MatFromBGR copies a BGR image into a new Mat; the caller closes it.
func MatFromBGR(img *BGR) (gocv.Mat, error) {
	w, h := img.Rect.Dx(), img.Rect.Dy()
	m := gocv.NewMatWithSize(h, w, gocv.MatTypeCV8UC3)
	data, err := m.DataPtrUint8()
	if err != nil {
		m.Close()
		return gocv.Mat{}, err
	}
	for y := range h {
		copy(data[3*w*y:3*w*(y+1)], img.Pix[y*img.Stride:y*img.Stride+3*w])
	}
	return m, nil
}

// LoadMat is Load done by OpenCV: it crops a BGR Mat as the spec's fit
// says, resizes it with interp (gocv.InterpolationArea is closest to
// Load's filter when shrinking), converts the colours and fills t.
func (s *InputSpec) LoadMat(t *tflite.Tensor, m gocv.Mat, interp gocv.InterpolationFlags) error {
	if err := s.check(t); err != nil {
		return err
	}
	if m.Empty() || m.Type() != gocv.MatTypeCV8UC3 {
		return fmt.Errorf("LoadMat needs a non-empty 8-bit BGR Mat, got type %v, %dx%d", m.Type(), m.Cols(), m.Rows())
	}
	src := m
	if s.Fit == CenterCrop {
		src = m.Region(centerCrop(image.Rect(0, 0, m.Cols(), m.Rows()), s.Width, s.Height))
		defer src.Close()
	}
	small := gocv.NewMat()
	defer small.Close()
	gocv.Resize(src, &small, image.Pt(s.Width, s.Height), 0, 0, interp)
	rgb := gocv.NewMat()
	defer rgb.Close()
	gocv.CvtColor(small, &rgb, gocv.ColorBGRToRGB)
	data, err := rgb.DataPtrUint8()
	if err != nil {
		return err
	}
	s.fill(t, data, 3)
	return nil
}
