package camera

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// MJPEG is a Device reading an HTTP MJPEG stream (Content-Type
// multipart/x-mixed-replace, one JPEG per part), as IP cameras,
// mjpg-streamer and motion serve. A broken connection, a truncated part or
// a server restart makes the Stream reconnect.
type MJPEG struct {
	URL string
	// StallTimeout ends a connection that sends nothing for this long.
	StallTimeout time.Duration

	client  *http.Client
	cancel  context.CancelFunc
	body    io.Closer
	parts   *partReader
	stalled atomic.Bool
	timer   *time.Timer
	part    []byte
}

// Open implements Device.
func (m *MJPEG) Open(ctx context.Context) error {
	if m.StallTimeout <= 0 {
		m.StallTimeout = 10 * time.Second
	}
	stall := m.StallTimeout
	if m.client == nil {
		// Own transport without keep-alives: closing the body closes the
		// connection, and no idle connection outlives the device.
		m.client = &http.Client{Transport: &http.Transport{
			DialContext:           (&net.Dialer{Timeout: stall}).DialContext,
			ResponseHeaderTimeout: stall,
			DisableKeepAlives:     true,
		}}
	}
	rctx, cancel := context.WithCancel(ctx)
	req, err := http.NewRequestWithContext(rctx, http.MethodGet, m.URL, nil)
	if err != nil {
		cancel()
		return err
	}
	resp, err := m.client.Do(req)
	if err != nil {
		cancel()
		return err
	}
	fail := func(err error) error {
		resp.Body.Close()
		cancel()
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fail(fmt.Errorf("GET %s: %s", m.URL, resp.Status))
	}
	ct := resp.Header.Get("Content-Type")
	mt, params, err := mime.ParseMediaType(ct)
	if err != nil || !strings.HasPrefix(mt, "multipart/") || params["boundary"] == "" {
		return fail(fmt.Errorf("GET %s: Content-Type %q is not an MJPEG stream (want multipart/x-mixed-replace with a boundary)", m.URL, ct))
	}
	m.stalled.Store(false)
	m.timer = time.AfterFunc(stall, func() {
		m.stalled.Store(true)
		cancel()
	})
	m.cancel, m.body = cancel, resp.Body
	m.parts = newPartReader(&progressReader{r: resp.Body, timer: m.timer, d: stall}, params["boundary"])
	return nil
}

// Grab implements Device.
func (m *MJPEG) Grab(context.Context) error {
	part, err := m.parts.next()
	if err != nil {
		if m.stalled.Load() {
			return fmt.Errorf("MJPEG stream sent nothing for %v", m.StallTimeout)
		}
		if errors.Is(err, io.EOF) {
			err = io.ErrUnexpectedEOF // a stream has no end: the server went away
		}
		return fmt.Errorf("MJPEG stream: %w", err)
	}
	m.part = part
	return nil
}

// Decode implements Device.
func (m *MJPEG) Decode() (Frame, error) {
	img, err := DecodeImage(m.part)
	if err != nil {
		return Frame{}, &SkipError{err}
	}
	f := Frame{Image: img}
	if isJPEG(m.part) {
		f.JPEG = bytes.Clone(m.part)
	}
	return f, nil
}

// Live implements Device.
func (m *MJPEG) Live() bool { return true }

// Close implements Device.
func (m *MJPEG) Close() error {
	if m.timer != nil {
		m.timer.Stop()
	}
	if m.cancel != nil {
		m.cancel()
	}
	if m.body != nil {
		m.body.Close()
	}
	m.timer, m.cancel, m.body, m.parts = nil, nil, nil, nil
	return nil
}

// progressReader restarts a stall timer whenever data arrives.
type progressReader struct {
	r     io.Reader
	timer *time.Timer
	d     time.Duration
}

func (p *progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	if n > 0 {
		p.timer.Reset(p.d)
	}
	return n, err
}

// partReader splits a multipart/x-mixed-replace body into parts. It uses
// a part's Content-Length when given and otherwise scans for the next
// boundary line. Cameras differ in whether the boundary parameter already
// starts with "--", so both forms of the delimiter line are accepted.
type partReader struct {
	r        *bufio.Reader
	delims   [][]byte
	buf      []byte
	atPart   bool // the delimiter line of the next part has been read
	maxBytes int
}

const (
	maxHeaderLines = 64
	maxLineBytes   = 4096
)

func newPartReader(r io.Reader, boundary string) *partReader {
	p := &partReader{r: bufio.NewReaderSize(r, 64<<10), maxBytes: maxFileBytes}
	p.delims = append(p.delims, []byte("--"+boundary))
	if strings.HasPrefix(boundary, "--") {
		p.delims = append(p.delims, []byte(boundary))
	}
	return p
}

// delimiter reports whether line is a delimiter line, and whether it is
// the closing one.
func (p *partReader) delimiter(line []byte) (ok, closing bool) {
	line = bytes.TrimRight(line, " \t\r\n")
	for _, d := range p.delims {
		if rest, found := bytes.CutPrefix(line, d); found && (len(rest) == 0 || string(rest) == "--") {
			return true, len(rest) > 0
		}
	}
	return false, false
}

// next returns the body of the next part; the slice is reused by the next
// call.
func (p *partReader) next() ([]byte, error) {
	for skipped := 0; !p.atPart; {
		line, err := p.r.ReadSlice('\n')
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			return nil, err
		}
		if ok, closing := p.delimiter(line); ok {
			if closing {
				return nil, errors.New("server closed the multipart stream")
			}
			p.atPart = true
			break
		}
		if skipped += len(line); skipped > p.maxBytes {
			return nil, fmt.Errorf("no boundary in %d bytes", skipped)
		}
	}
	p.atPart = false

	length := -1
	for n := 0; ; n++ {
		line, err := p.r.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) || len(line) > maxLineBytes {
			return nil, errors.New("part header line too long")
		}
		if err != nil {
			return nil, err
		}
		line = bytes.TrimRight(line, "\r\n")
		if len(line) == 0 {
			break
		}
		if n == maxHeaderLines {
			return nil, fmt.Errorf("part has more than %d header lines", maxHeaderLines)
		}
		k, v, ok := bytes.Cut(line, []byte(":"))
		if ok && strings.EqualFold(string(bytes.TrimSpace(k)), "Content-Length") {
			n, err := strconv.Atoi(string(bytes.TrimSpace(v)))
			if err != nil || n < 0 || n > p.maxBytes {
				return nil, fmt.Errorf("bad part Content-Length %q", bytes.TrimSpace(v))
			}
			length = n
		}
	}

	if length >= 0 {
		if cap(p.buf) < length {
			p.buf = make([]byte, length)
		}
		p.buf = p.buf[:length]
		if _, err := io.ReadFull(p.r, p.buf); err != nil {
			return nil, fmt.Errorf("part of %d bytes: %w", length, err)
		}
		return p.buf, nil
	}

	// No length: the body runs to the next delimiter line, whose line
	// break belongs to the delimiter.
	p.buf = p.buf[:0]
	for lineStart := true; ; {
		line, err := p.r.ReadSlice('\n')
		if err != nil && !errors.Is(err, bufio.ErrBufferFull) {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return nil, fmt.Errorf("part without Content-Length: %w", err)
		}
		if lineStart {
			if ok, closing := p.delimiter(line); ok {
				p.atPart = !closing
				body := bytes.TrimSuffix(p.buf, []byte("\n"))
				return bytes.TrimSuffix(body, []byte("\r")), nil
			}
		}
		if len(p.buf)+len(line) > p.maxBytes {
			return nil, fmt.Errorf("part larger than %d bytes", p.maxBytes)
		}
		p.buf = append(p.buf, line...)
		lineStart = err == nil
	}
}
