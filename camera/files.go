package camera

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// maxFileBytes bounds one image file or stream part.
const maxFileBytes = 64 << 20

// Files is a Device reading image files (JPEG, PNG, BMP) one per frame:
// one file, or every image file of a folder in name order. Each pass ends
// with io.EOF; reopening lists the folder again. Unreadable files are
// skipped and counted.
type Files struct {
	Path string
	Dir  bool

	list []string
	i    int
	data []byte
}

// Open implements Device.
func (f *Files) Open(context.Context) error {
	f.i, f.list = 0, nil
	if !f.Dir {
		if _, err := os.Stat(f.Path); err != nil {
			return err
		}
		f.list = []string{f.Path}
		return nil
	}
	entries, err := os.ReadDir(f.Path) // sorted by name
	if err != nil {
		return err
	}
	for _, e := range entries {
		switch strings.ToLower(filepath.Ext(e.Name())) {
		case ".jpg", ".jpeg", ".png", ".bmp":
			if !e.IsDir() {
				f.list = append(f.list, filepath.Join(f.Path, e.Name()))
			}
		}
	}
	if len(f.list) == 0 {
		return fmt.Errorf("%s: no .jpg, .jpeg, .png or .bmp files", f.Path)
	}
	return nil
}

// Grab implements Device.
func (f *Files) Grab(context.Context) error {
	if f.i >= len(f.list) {
		return io.EOF
	}
	name := f.list[f.i]
	f.i++
	st, err := os.Stat(name)
	if err != nil {
		return &SkipError{err}
	}
	if st.Size() > maxFileBytes {
		return &SkipError{fmt.Errorf("%s: %d bytes is too large for an image", name, st.Size())}
	}
	if f.data, err = os.ReadFile(name); err != nil {
		return &SkipError{err}
	}
	return nil
}

// Decode implements Device.
func (f *Files) Decode() (Frame, error) {
	img, err := DecodeImage(f.data)
	if err != nil {
		return Frame{}, &SkipError{fmt.Errorf("%s: %w", f.list[f.i-1], err)}
	}
	fr := Frame{Image: img}
	if isJPEG(f.data) {
		fr.JPEG = f.data
	}
	return fr, nil
}

// Live implements Device.
func (f *Files) Live() bool { return false }

// Close implements Device.
func (f *Files) Close() error {
	f.data = nil
	return nil
}

func isJPEG(b []byte) bool { return len(b) > 2 && b[0] == 0xff && b[1] == 0xd8 }
