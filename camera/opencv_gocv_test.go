//go:build gocv

package camera

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"image"
	"io"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gocv.io/x/gocv"

	"github.com/edgeclass/edgeclass/internal/testenv"
)

// makeVideo encodes n frames of ffmpeg's 320x240 test source with codec
// into dir/name.
func makeVideo(t testing.TB, dir, name, codec string, n int) string {
	t.Helper()
	ffmpeg := testenv.Program(t, "ffmpeg")
	path := filepath.Join(dir, name)
	args := []string{"-v", "error", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=30",
		"-frames:v", fmt.Sprint(n), "-c:v", codec}
	if codec == "libx264" {
		args = append(args, "-pix_fmt", "yuv420p")
	}
	if out, err := exec.Command(ffmpeg, append(args, path)...).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v\n%s", err, out)
	}
	return path
}

func TestOpenCVVideoFiles(t *testing.T) {
	checkLeaks(t)
	dir := t.TempDir()
	for _, v := range []struct{ name, codec string }{{"clip.mp4", "libx264"}, {"clip.avi", "mjpeg"}} {
		path := makeVideo(t, dir, v.name, v.codec, 45)
		dev, err := NewDevice("video:"+path, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if dev.Live() {
			t.Errorf("%s: a video file must be paced, not live", v.name)
		}
		if err := dev.Open(context.Background()); err != nil {
			t.Fatal(err)
		}
		n := 0
		for {
			err := dev.Grab(context.Background())
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			f, err := dev.Decode()
			if err != nil {
				t.Fatal(err)
			}
			bgr, ok := f.Image.(*BGR)
			if !ok || bgr.Rect != image.Rect(0, 0, 320, 240) {
				t.Fatalf("%s frame %d: %T %v, want a 320x240 *BGR", v.name, n, f.Image, f.Image.Bounds())
			}
			n++
		}
		dev.Close()
		if n != 45 {
			t.Errorf("%s: %d frames, want 45", v.name, n)
		}

		// Once: the last frame, then io.EOF.
		s, err := Open("video:"+path, Options{Once: true})
		if err != nil {
			t.Fatal(err)
		}
		var last Frame
		for {
			f, err := s.Next(context.Background())
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatal(err)
			}
			last = f
		}
		if last.Seq != 45 || s.Stats().Captured != 45 {
			t.Errorf("%s once: last frame %d, %+v", v.name, last.Seq, s.Stats())
		}
		s.Close()

		// Looping: the video starts again.
		s, err = Open("video:"+path, Options{})
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, "two loops", func() bool { return s.Stats().Loops >= 2 })
		if st := s.Stats(); st.Captured < 90 || st.Reconnects != 0 {
			t.Errorf("%s looping: %+v", v.name, st)
		}
		s.Close()
	}
}

// startRTSP compiles (once) and starts testdata/rtsp_server.c on port.
func startRTSP(t *testing.T, bin, port string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command(bin, port)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	line, _ := bufio.NewReader(out).ReadString('\n')
	if strings.TrimSpace(line) != "ready" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("RTSP server did not start: %q", line)
	}
	return cmd
}

func buildRTSPServer(t *testing.T) string {
	t.Helper()
	gcc := testenv.Program(t, "gcc")
	pc := testenv.Program(t, "pkg-config")
	flags, err := exec.Command(pc, "--cflags", "--libs", "gstreamer-rtsp-server-1.0").Output()
	if err != nil {
		testenv.Missing(t, "gstreamer-rtsp-server-1.0 (apt-get install libgstrtspserver-1.0-dev)")
	}
	bin := filepath.Join(t.TempDir(), "rtsp_server")
	args := append([]string{"-o", bin, "testdata/rtsp_server.c"}, strings.Fields(string(flags))...)
	if out, err := exec.Command(gcc, args...).CombinedOutput(); err != nil {
		t.Fatalf("building the RTSP server: %v\n%s", err, out)
	}
	return bin
}

func freePort(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return port
}

// TestOpenCVRTSPReconnect reads a live RTSP stream from a GStreamer RTSP
// server through OpenCV's FFmpeg backend, kills the server, and checks
// that the source shows the outage and recovers when it comes back.
func TestOpenCVRTSPReconnect(t *testing.T) {
	checkLeaks(t)
	bin := buildRTSPServer(t)
	port := freePort(t)
	srv := startRTSP(t, bin, port)
	defer func() {
		srv.Process.Kill()
		srv.Wait()
	}()
	s, err := Open("rtsp://127.0.0.1:"+port+"/test", Options{MinBackoff: 50 * time.Millisecond, MaxBackoff: 200 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	f, err := s.Next(ctx)
	if err != nil {
		t.Fatalf("first RTSP frame: %v (%+v)", err, s.Stats())
	}
	if f.Image.Bounds() != image.Rect(0, 0, 320, 240) {
		t.Errorf("RTSP frame is %v, want 320x240", f.Image.Bounds())
	}

	srv.Process.Kill()
	srv.Wait()
	waitForLong(t, "the outage to show", 30*time.Second, func() bool {
		st := s.Stats()
		return !st.Connected && st.Reconnects >= 1 && st.LastError != ""
	})
	t.Logf("during the outage: %+v", s.Stats())
	before := s.Stats().Captured
	srv = startRTSP(t, bin, port)
	waitForLong(t, "frames after the restart", 30*time.Second, func() bool { return s.Stats().Captured > before+5 })
	if st := s.Stats(); !st.Connected {
		t.Errorf("after the restart: %+v", st)
	}
}

func waitForLong(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestOpenCVSpecs(t *testing.T) {
	for spec, want := range map[string]gocv.VideoCaptureAPI{
		"v4l2:0": gocv.VideoCaptureV4L2, "v4l2:/dev/video2": gocv.VideoCaptureV4L2, "/dev/video1": gocv.VideoCaptureV4L2,
		"gst:videotestsrc ! appsink": gocv.VideoCaptureGstreamer, "rtsp://cam/x": gocv.VideoCaptureFFmpeg,
		"video:/a.mp4": gocv.VideoCaptureFFmpeg,
	} {
		d, err := NewDevice(spec, Options{})
		if err != nil {
			t.Fatal(err)
		}
		if d.(*OpenCV).API != want {
			t.Errorf("%s: API %v, want %v", spec, d.(*OpenCV).API, want)
		}
	}
	for _, spec := range []string{"v4l2:", "gst:", "video:"} {
		if _, err := NewDevice(spec, Options{}); err == nil {
			t.Errorf("%q accepted", spec)
		}
	}
	// No camera here: the source keeps trying and says why.
	s, err := Open("v4l2:/dev/video99", Options{MinBackoff: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	waitFor(t, "the open error", func() bool { return s.Stats().Reconnects >= 1 })
	if st := s.Stats(); st.Connected || !strings.Contains(st.LastError, "cannot open") {
		t.Errorf("missing camera: %+v", st)
	}
}

// GStreamer pipelines work end to end (videotestsrc stands in for a camera).
func TestOpenCVGStreamerPipeline(t *testing.T) {
	checkLeaks(t)
	s, err := Open("gst:videotestsrc ! video/x-raw,width=160,height=120,format=BGR ! appsink drop=true max-buffers=1", Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for i := 0; i < 3; i++ {
		f, err := s.Next(ctx)
		if err != nil {
			t.Fatalf("%v (%+v)", err, s.Stats())
		}
		if f.Image.Bounds() != image.Rect(0, 0, 160, 120) {
			t.Errorf("frame %v, want 160x120", f.Image.Bounds())
		}
	}
}

// parityImages are the pictures the OpenCV and pure-Go preprocessing are
// compared on: photos, a camera frame and test pattern frames.
func parityImages(t *testing.T) map[string]*BGR {
	out := map[string]*BGR{}
	toBGR := func(img image.Image) *BGR {
		b := img.Bounds()
		bgr := NewBGR(image.Rect(0, 0, b.Dx(), b.Dy()))
		for y := 0; y < b.Dy(); y++ {
			for x := 0; x < b.Dx(); x++ {
				r, g, bl, _ := img.At(b.Min.X+x, b.Min.Y+y).RGBA()
				copy(bgr.Pix[bgr.PixOffset(x, y):], []byte{uint8(bl >> 8), uint8(g >> 8), uint8(r >> 8)})
			}
		}
		return bgr
	}
	for _, name := range []string{"grace_hopper.bmp", "parrot.jpg", "cat.jpg", "burger.jpg", "hot_dog.jpg", "cats_and_dogs.jpg", "cat_720p.jpg", "sunflower.bmp"} {
		out[name] = toBGR(loadPhoto(t, name))
	}
	frame, _ := cameraFrame(t)
	out["camera frame 640x480"] = toBGR(frame)
	p, err := NewTestPattern(640, 480, 30)
	if err != nil {
		t.Fatal(err)
	}
	for _, seq := range []uint64{1, 100, 200, 300} {
		out[fmt.Sprintf("test pattern %d", seq)] = toBGR(p.Render(seq))
	}
	return out
}

// TestPreprocessParity compares OpenCV's preprocessing (LoadMat: resize,
// BGR to RGB) with the pure-Go Load on the same pixels, into MobileNet
// V2's 224x224 uint8 input, where a tensor value is a pixel value. The
// filters differ by design (OpenCV's INTER_AREA is a box filter, Load the
// tent filter of x/image/draw's BiLinear; INTER_LINEAR samples 2x2 pixels
// and aliases when shrinking), so the tolerances are statistical, set a
// little above what these images measure (in pixel units):
//
//	         mean |d|  |mean d|  99% of values within  max |d|
//	AREA     <= 1.6    <= 0.4    <= 14                 <= 50
//	LINEAR   <= 4.5    <= 0.4    <= 36                 <= 128
//
// and MobileNet V2 must give the same top-1 class on every photo either
// way (INTER_AREA).
func TestPreprocessParity(t *testing.T) {
	m, it := interpreterFor(t, "mobilenet_v2_1.0_224_quant.tflite")
	spec, err := SpecFor(m, it.Input(0))
	if err != nil {
		t.Fatal(err)
	}
	type limit struct {
		meanAbs, mean float64
		p99, max      int
	}
	limits := map[gocv.InterpolationFlags]limit{
		gocv.InterpolationArea:   {1.6, 0.4, 14, 50},
		gocv.InterpolationLinear: {4.5, 0.4, 36, 128},
	}
	top1 := func() int {
		if err := it.Invoke(); err != nil {
			t.Fatal(err)
		}
		best, out := 0, it.Output(0).Bytes()
		for i, v := range out {
			if v > out[best] {
				best = i
			}
		}
		return best
	}
	for name, img := range parityImages(t) {
		if err := spec.Load(it.Input(0), img); err != nil {
			t.Fatal(err)
		}
		want := append([]byte(nil), it.Input(0).Bytes()...)
		wantTop := -1
		if !strings.HasPrefix(name, "test pattern") {
			wantTop = top1()
		}
		mat, err := MatFromBGR(img)
		if err != nil {
			t.Fatal(err)
		}
		for interp, lim := range limits {
			if err := spec.LoadMat(it.Input(0), mat, interp); err != nil {
				t.Fatal(err)
			}
			got := it.Input(0).Bytes()
			var sum, sumAbs float64
			hist := make([]int, 256)
			for i := range got {
				d := int(got[i]) - int(want[i])
				sum += float64(d)
				sumAbs += math.Abs(float64(d))
				hist[max(d, -d)]++
			}
			n := float64(len(got))
			p99, maxDiff, count := -1, 0, 0
			for d, c := range hist {
				if count += c; p99 < 0 && float64(count) >= 0.99*n {
					p99 = d
				}
				if c > 0 {
					maxDiff = d
				}
			}
			t.Logf("%-22s %-6s mean |d| %.2f, mean d %+.2f, 99%% within %d, max %d", name, interpName(interp), sumAbs/n, sum/n, p99, maxDiff)
			if sumAbs/n > lim.meanAbs || math.Abs(sum/n) > lim.mean || p99 > lim.p99 || maxDiff > lim.max {
				t.Errorf("%s, %s: mean |d| %.2f, mean d %+.2f, 99%% within %d, max %d: over the limits %+v",
					name, interpName(interp), sumAbs/n, sum/n, p99, maxDiff, lim)
			}
			if interp == gocv.InterpolationArea && wantTop >= 0 {
				if got := top1(); got != wantTop {
					t.Errorf("%s: top-1 class %d with OpenCV preprocessing, %d with Load", name, got, wantTop)
				}
			}
		}
		mat.Close()
	}
}

func interpName(f gocv.InterpolationFlags) string {
	if f == gocv.InterpolationArea {
		return "AREA"
	}
	return "LINEAR"
}

func TestBGRMatRoundTrip(t *testing.T) {
	frame, _ := cameraFrame(t)
	bgr := parityImages(t)["camera frame 640x480"]
	mat, err := MatFromBGR(bgr)
	if err != nil {
		t.Fatal(err)
	}
	defer mat.Close()
	back, err := BGRFromMat(mat)
	if err != nil {
		t.Fatal(err)
	}
	if string(back.Pix) != string(bgr.Pix) || back.Rect != frame.Rect {
		t.Error("BGR -> Mat -> BGR changed the pixels")
	}
	grey := gocv.NewMatWithSize(4, 6, gocv.MatTypeCV8UC1)
	defer grey.Close()
	if g, err := BGRFromMat(grey); err != nil || g.Rect.Dx() != 6 {
		t.Errorf("grey Mat: %v, %v", g, err)
	}
	f32 := gocv.NewMatWithSize(4, 6, gocv.MatTypeCV32F)
	defer f32.Close()
	if _, err := BGRFromMat(f32); err == nil {
		t.Error("float Mat accepted")
	}
}

func BenchmarkOpenCV(b *testing.B) {
	dir := b.TempDir()
	for _, v := range []struct{ name, codec string }{{"clip.mp4", "libx264"}, {"clip.avi", "mjpeg"}} {
		path := makeVideo(b, dir, v.name, v.codec, 60)
		b.Run("read+copy/"+v.name, func(b *testing.B) {
			dev, _ := NewDevice("video:"+path, Options{})
			if err := dev.Open(context.Background()); err != nil {
				b.Fatal(err)
			}
			defer dev.Close()
			for b.Loop() {
				err := dev.Grab(context.Background())
				if errors.Is(err, io.EOF) {
					dev.Close()
					dev.Open(context.Background())
					continue
				}
				if err != nil {
					b.Fatal(err)
				}
				if _, err := dev.Decode(); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "frames/s")
		})
	}
	m, it := interpreterFor(b, "mobilenet_v2_1.0_224_quant.tflite")
	spec, err := SpecFor(m, it.Input(0))
	if err != nil {
		b.Fatal(err)
	}
	frame, _ := cameraFrame(b)
	bgr := NewBGR(frame.Rect)
	for y := 0; y < 480; y++ {
		for x := 0; x < 640; x++ {
			r, g, bl, _ := frame.At(x, y).RGBA()
			copy(bgr.Pix[bgr.PixOffset(x, y):], []byte{uint8(bl >> 8), uint8(g >> 8), uint8(r >> 8)})
		}
	}
	mat, err := MatFromBGR(bgr)
	if err != nil {
		b.Fatal(err)
	}
	defer mat.Close()
	b.Run("LoadMat/AREA", func(b *testing.B) {
		for b.Loop() {
			spec.LoadMat(it.Input(0), mat, gocv.InterpolationArea)
		}
	})
	b.Run("Load/BGR", func(b *testing.B) {
		for b.Loop() {
			spec.Load(it.Input(0), bgr)
		}
	})
}
