package camera

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// BenchmarkSources measures each pure-Go source delivering 640x480 frames
// as fast as it can, through a Stream to a consumer that only takes
// them: frames/s delivered, the capture latency (read and decode) and
// the frame's age when the consumer got it.
func BenchmarkSources(b *testing.B) {
	_, jpg := cameraFrame(b)
	dir := b.TempDir()
	for _, name := range []string{"a.jpg", "b.jpg", "c.jpg"} {
		if err := os.WriteFile(filepath.Join(dir, name), jpg, 0o644); err != nil {
			b.Fatal(err)
		}
	}
	srv := startServer(b, "", &mjpegHandler{frames: [][]byte{jpg}, boundary: "b", delim: "--b"})
	defer stopServer(srv)
	for _, spec := range []string{"testpattern", "dir:" + dir, srv.URL} {
		name := spec
		if len(name) > 12 {
			name = name[:4]
		}
		b.Run(name, func(b *testing.B) {
			fps := 0.0
			if spec == "testpattern" {
				fps = 1e6 // the pattern defaults to 30 fps: lift the cap
			}
			s, err := Open(spec, Options{FPS: fps})
			if err != nil {
				b.Fatal(err)
			}
			defer s.Close()
			var latency, age time.Duration
			for b.Loop() {
				f, err := s.Next(context.Background())
				if err != nil {
					b.Fatal(err)
				}
				latency += f.Latency
				age += time.Since(f.Time)
			}
			b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "frames/s")
			b.ReportMetric(float64(latency.Microseconds())/float64(b.N), "latency-µs")
			b.ReportMetric(float64(age.Microseconds())/float64(b.N), "age-µs")
		})
	}
}
