package camera

import (
	"bytes"
	"strings"
	"testing"
)

// FuzzMJPEGParts feeds arbitrary stream bodies to the multipart splitter:
// it must never panic, never return a part over its size limit, and stop
// (each part consumes at least its delimiter line).
func FuzzMJPEGParts(f *testing.F) {
	f.Add([]byte("--b\r\nContent-Type: image/jpeg\r\nContent-Length: 3\r\n\r\nabc\r\n--b\r\n\r\nxyz\r\n--b--\r\n"), "b")
	f.Add([]byte("junk\n--b\nContent-Length: 0\n\n\n--b\n\n"), "b")
	f.Add([]byte("----x\r\n\r\n\xff\xd8\xff\r\n----x\r\n"), "--x")
	f.Fuzz(func(t *testing.T, body []byte, boundary string) {
		if boundary == "" || strings.ContainsAny(boundary, "\r\n") {
			return
		}
		p := newPartReader(bytes.NewReader(body), boundary)
		p.maxBytes = 1 << 12
		for i := 0; ; i++ {
			part, err := p.next()
			if err != nil {
				return
			}
			if len(part) > p.maxBytes {
				t.Fatalf("part of %d bytes over the %d limit", len(part), p.maxBytes)
			}
			if i > len(body) {
				t.Fatalf("%d parts from %d bytes", i, len(body))
			}
		}
	})
}
