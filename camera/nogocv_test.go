//go:build !gocv

package camera

import (
	"strings"
	"testing"
)

func TestGoCVSpecsWithoutGoCV(t *testing.T) {
	for _, spec := range []string{"v4l2:0", "/dev/video0", "gst:videotestsrc ! appsink", "rtsp://cam/stream", "video:/a.mp4"} {
		_, err := Open(spec, Options{})
		if err == nil || !strings.Contains(err.Error(), "built without GoCV; rebuild with -tags gocv") {
			t.Errorf("%s: %v", spec, err)
		}
	}
}
