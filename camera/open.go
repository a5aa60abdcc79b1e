package camera

import (
	"fmt"
	"strings"
)

// Open starts the source that spec names:
//
//	testpattern              moving coloured disc with frame counter and clock
//	file:/path/img.jpg       one image file (JPEG, PNG, BMP), read again each frame
//	dir:/path/photos         the folder's image files in name order
//	http://cam/video.mjpg    HTTP MJPEG stream (multipart/x-mixed-replace); https too
//
// and, in binaries built with -tags gocv (OpenCV through GoCV):
//
//	v4l2:0, v4l2:/dev/video0 or /dev/video0   V4L2 camera (USB webcams, Pi camera via bcm2835-v4l2)
//	gst:PIPELINE             GStreamer pipeline ending in appsink
//	rtsp://user:pw@cam/path  RTSP stream (OpenCV's FFmpeg backend); rtsps:// too
//	video:/path/clip.mp4     video file, or any URL OpenCV's FFmpeg backend opens
//
// GStreamer examples (keep "appsink drop=true max-buffers=1" so frames never
// queue up behind a slow model):
//
//	Raspberry Pi CSI camera (libcamera):
//	  gst:libcamerasrc ! video/x-raw,width=640,height=480,format=BGR ! videoconvert ! appsink drop=true max-buffers=1
//	Jetson CSI camera:
//	  gst:nvarguscamerasrc ! video/x-raw(memory:NVMM),width=1280,height=720,framerate=30/1 ! nvvidconv ! video/x-raw,format=BGRx ! videoconvert ! video/x-raw,format=BGR ! appsink drop=true max-buffers=1
//	RTSP with low latency over TCP:
//	  gst:rtspsrc location=rtsp://cam/stream latency=0 protocols=tcp ! decodebin ! videoconvert ! video/x-raw,format=BGR ! appsink drop=true max-buffers=1
//
// Files, folders and video files loop unless opts.Once is set.
func Open(spec string, opts Options) (Source, error) {
	dev, err := NewDevice(spec, opts)
	if err != nil {
		return nil, err
	}
	if p, ok := dev.(*TestPattern); ok && opts.FPS == 0 {
		opts.FPS = p.FPS // the pattern's clock runs in real time
	}
	return NewStream(dev, opts), nil
}

// NewDevice returns the device spec names (see Open) without starting it.
func NewDevice(spec string, opts Options) (Device, error) {
	opts = opts.withDefaults()
	kind, arg, _ := strings.Cut(spec, ":")
	switch {
	case spec == "testpattern":
		w, h, fps := opts.Width, opts.Height, opts.FPS
		if w == 0 && h == 0 {
			w, h = 640, 480
		}
		if fps == 0 {
			fps = 30
		}
		return NewTestPattern(w, h, fps)
	case kind == "file" || kind == "dir":
		if arg == "" {
			return nil, fmt.Errorf("camera source %q names no path", spec)
		}
		return &Files{Path: arg, Dir: kind == "dir"}, nil
	case kind == "http" || kind == "https":
		return &MJPEG{URL: spec, StallTimeout: opts.StallTimeout}, nil
	case kind == "v4l2" || kind == "gst" || kind == "rtsp" || kind == "rtsps" || kind == "video" ||
		strings.HasPrefix(spec, "/dev/video"):
		return newGoCVDevice(spec, opts)
	}
	return nil, fmt.Errorf("unknown camera source %q: want testpattern, file:PATH, dir:PATH, http://... (MJPEG), "+
		"or with GoCV v4l2:N, /dev/videoN, gst:PIPELINE, rtsp://..., video:PATH", spec)
}
