package camera

import (
	"bytes"
	"context"
	"fmt"
	"image/color"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// mjpegHandler serves frames as an MJPEG stream, one every period,
// cycling; parts alternate with and without Content-Length. After
// truncateAfter parts (if > 0) it sends half a part and ends the response.
type mjpegHandler struct {
	frames        [][]byte
	period        time.Duration
	boundary      string // as put in the Content-Type header
	delim         string // as written in the body
	truncateAfter int
}

func (h *mjpegHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "multipart/x-mixed-replace; boundary="+h.boundary)
	fl := w.(http.Flusher)
	fmt.Fprintf(w, "preamble to ignore\r\n")
	for i := 0; ; i++ {
		f := h.frames[i%len(h.frames)]
		if h.truncateAfter > 0 && i == h.truncateAfter {
			fmt.Fprintf(w, "%s\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n", h.delim, len(f))
			w.Write(f[:len(f)/2])
			return
		}
		if i%2 == 0 {
			fmt.Fprintf(w, "%s\r\nContent-Type: image/jpeg\r\nContent-Length: %d\r\n\r\n", h.delim, len(f))
		} else {
			fmt.Fprintf(w, "%s\r\nContent-Type: image/jpeg\r\n\r\n", h.delim)
		}
		w.Write(f)
		w.Write([]byte("\r\n"))
		fl.Flush()
		select {
		case <-r.Context().Done():
			return
		case <-time.After(h.period):
		}
	}
}

// testFrames returns n JPEG frames whose width (16+i) tells them apart.
func testFrames(t testing.TB, n int) [][]byte {
	var out [][]byte
	for i := 0; i < n; i++ {
		out = append(out, encodeJPEG(t, solid(16+i, 12, color.RGBA{200, uint8(50 * i), 30, 255})))
	}
	return out
}

// startServer serves h on addr ("" for any port) and returns the server.
func startServer(t testing.TB, addr string, h http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewUnstartedServer(h)
	if addr != "" {
		l, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		srv.Listener.Close()
		srv.Listener = l
	}
	srv.Start()
	return srv
}

func stopServer(srv *httptest.Server) {
	srv.CloseClientConnections()
	srv.Close()
}

func TestMJPEGFramesInOrder(t *testing.T) {
	checkLeaks(t)
	frames := testFrames(t, 4)
	for _, b := range []struct{ header, delim string }{
		{"frame", "--frame"},
		{`"--myboundary"`, "--myboundary"}, // cameras that put the dashes in the parameter
		{"--myboundary", "----myboundary"},
	} {
		srv := startServer(t, "", &mjpegHandler{frames: frames, period: 2 * time.Millisecond, boundary: b.header, delim: b.delim})
		d := &MJPEG{URL: srv.URL}
		if err := d.Open(context.Background()); err != nil {
			t.Fatal(err)
		}
		for i := 0; i < 9; i++ {
			if err := d.Grab(context.Background()); err != nil {
				t.Fatalf("boundary %s, part %d: %v", b.header, i, err)
			}
			f, err := d.Decode()
			if err != nil {
				t.Fatal(err)
			}
			if w := f.Image.Bounds().Dx(); w != 16+i%4 || !bytes.Equal(f.JPEG, frames[i%4]) {
				t.Errorf("boundary %s, part %d: width %d, JPEG equal %v", b.header, i, w, bytes.Equal(f.JPEG, frames[i%4]))
			}
		}
		d.Close()
		stopServer(srv)
	}
}

func TestMJPEGServerRestart(t *testing.T) {
	checkLeaks(t)
	h := &mjpegHandler{frames: testFrames(t, 3), period: 5 * time.Millisecond, boundary: "b", delim: "--b"}
	srv := startServer(t, "127.0.0.1:0", h)
	addr := srv.Listener.Addr().String()
	s, err := Open(srv.URL, Options{MinBackoff: 10 * time.Millisecond, MaxBackoff: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	first, err := s.Next(context.Background())
	if err != nil {
		t.Fatal(err)
	}

	stopServer(srv) // the camera goes away
	waitFor(t, "the outage to show", func() bool {
		st := s.Stats()
		return !st.Connected && st.Reconnects >= 2 && strings.Contains(st.LastError, "connection refused")
	})
	srv = startServer(t, addr, h) // and comes back on the same address
	defer stopServer(srv)
	waitFor(t, "frames after the restart", func() bool { return s.Stats().Captured > first.Seq+3 })
	f, err := s.Next(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st := s.Stats(); !st.Connected || f.Seq <= first.Seq {
		t.Errorf("after restart: frame %d (first was %d), %+v", f.Seq, first.Seq, st)
	}
}

func TestMJPEGTruncatedPartReconnects(t *testing.T) {
	checkLeaks(t)
	h := &mjpegHandler{frames: testFrames(t, 2), period: time.Millisecond, boundary: "b", delim: "--b", truncateAfter: 3}
	srv := startServer(t, "", h)
	defer stopServer(srv)
	s, err := Open(srv.URL, Options{MinBackoff: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	waitFor(t, "reconnects after truncated parts", func() bool { return s.Stats().Reconnects >= 3 })
	st := s.Stats()
	if !strings.Contains(st.LastError, "unexpected EOF") || st.Captured < 9 {
		t.Errorf("stats %+v: want an unexpected EOF error and 3 frames per connection", st)
	}
}

func TestMJPEGCorruptPartSkipped(t *testing.T) {
	checkLeaks(t)
	frames := append(testFrames(t, 2), []byte("\xff\xd8 garbage, not a JPEG"))
	srv := startServer(t, "", &mjpegHandler{frames: frames, period: time.Millisecond, boundary: "b", delim: "--b"})
	defer stopServer(srv)
	s, err := Open(srv.URL, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	waitFor(t, "skipped parts", func() bool { return s.Stats().Skipped >= 3 })
	if st := s.Stats(); st.Reconnects != 0 || st.Captured < 6 || !strings.Contains(st.LastError, "frame skipped") {
		t.Errorf("stats %+v: corrupt parts must be skipped without reconnecting", st)
	}
}

func TestMJPEGBadServers(t *testing.T) {
	checkLeaks(t)
	mux := http.NewServeMux()
	mux.HandleFunc("/html", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Write([]byte("<html></html>"))
	})
	mux.HandleFunc("/silent", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "multipart/x-mixed-replace; boundary=b")
		w.(http.Flusher).Flush()
		<-r.Context().Done()
	})
	srv := startServer(t, "", mux)
	defer stopServer(srv)
	for path, want := range map[string]string{
		"/html":    `Content-Type "text/html" is not an MJPEG stream`,
		"/missing": "404 Not Found",
		"/silent":  "sent nothing for 100ms",
	} {
		s, err := Open(srv.URL+path, Options{StallTimeout: 100 * time.Millisecond, MinBackoff: 10 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, path+" error", func() bool { return strings.Contains(s.Stats().LastError, want) })
		if st := s.Stats(); st.Captured != 0 {
			t.Errorf("%s: %+v", path, st)
		}
		s.Close()
	}
}

func TestMJPEGPartReaderLimits(t *testing.T) {
	for name, body := range map[string]string{
		"huge length":     "--b\r\nContent-Length: 999999999999\r\n\r\n",
		"bad length":      "--b\r\nContent-Length: -5\r\n\r\n",
		"no boundary":     strings.Repeat("x", 300) + "\n",
		"closing":         "--b--\r\n",
		"long header":     "--b\r\nX: " + strings.Repeat("y", 5000) + "\r\n\r\n",
		"many headers":    "--b\r\n" + strings.Repeat("X: y\r\n", 100) + "\r\n",
		"unterminated":    "--b\r\n\r\nabc",
		"oversized part":  "--b\r\n\r\n" + strings.Repeat("z", 400) + "\r\n--b\r\n",
		"length too long": "--b\r\nContent-Length: 10\r\n\r\nabc",
	} {
		p := newPartReader(strings.NewReader(body), "b")
		p.maxBytes = 256
		if part, err := p.next(); err == nil {
			t.Errorf("%s: got a %d-byte part, want an error", name, len(part))
		}
	}
}
