// Package flash writes an operating system image to an SD card, USB disk
// or image file and prepares its first boot: the edgeclass package, the
// device's enrolled identity, host name, SSH key and Wi-Fi, put into the
// image's FAT boot partition, from which Raspberry Pi OS (systemd.run= in
// cmdline.txt) or a cloud-init image (user-data) runs a setup script once.
//
// Overwriting a disk is destructive, so Flash refuses a partition, a disk
// with anything mounted or in use, and the disk the running system lives
// on; it shows what it is about to overwrite and wants Yes. It reads what
// it wrote back and compares hashes.
package flash

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ulikunitz/xz"
	"golang.org/x/sys/unix"
)

// Options for one flash.
type Options struct {
	Image  string // raw image, or .xz compressed
	Target string // block device (/dev/sdb) or image file
	Yes    bool   // the user agreed to overwrite Target
	Setup  Setup
	Log    io.Writer // messages and progress (stderr); nil discards
	System System    // where the safety checks look; the zero value means Host
}

// ErrNeedYes is returned, after the target was described, when Yes is not set.
var ErrNeedYes = errors.New("not overwriting without --yes")

// Flash writes the image to the target, verifies it, and customizes the
// boot partition.
func Flash(o Options) error {
	log := o.Log
	if log == nil {
		log = io.Discard
	}
	sys := o.System
	if sys.Sys == "" {
		sys = Host
	}
	if err := o.Setup.Check(); err != nil {
		return err
	}
	img, err := os.Open(o.Image)
	if err != nil {
		return fmt.Errorf("image: %w", err)
	}
	defer img.Close()
	imgInfo, err := img.Stat()
	if err != nil {
		return err
	}

	// What is being overwritten, and may it be?
	var capacity int64 = -1 // unlimited for files
	isDevice := false
	tinfo, err := os.Stat(o.Target)
	switch {
	case err == nil && tinfo.Mode()&os.ModeDevice != 0 && tinfo.Mode()&os.ModeCharDevice == 0:
		isDevice = true
		name, err := kernelName(o.Target)
		if err != nil {
			return err
		}
		disk, err := sys.Inspect(name)
		if err != nil {
			return err
		}
		capacity = disk.Size
		fmt.Fprintf(log, "About to overwrite ALL data on\n%s\n", disk)
	case err == nil && tinfo.Mode().IsRegular():
		if os.SameFile(tinfo, imgInfo) {
			return errors.New("the target is the image itself")
		}
		fmt.Fprintf(log, "About to overwrite the file %s (%s)\n", o.Target, humanBytes(tinfo.Size()))
	case err == nil:
		return fmt.Errorf("target %s is neither a block device nor a regular file", o.Target)
	case os.IsNotExist(err):
		if strings.HasPrefix(filepath.Clean(o.Target), "/dev/") {
			return fmt.Errorf("target %s does not exist", o.Target)
		}
		// A new image file: nothing to lose.
	default:
		return fmt.Errorf("target: %w", err)
	}
	if tinfo != nil && !o.Yes {
		return ErrNeedYes
	}

	flags := os.O_RDWR | os.O_CREATE
	if isDevice {
		flags = os.O_RDWR | os.O_EXCL // Linux refuses O_EXCL on a block device something holds open
	} else {
		flags |= os.O_TRUNC
	}
	dst, err := os.OpenFile(o.Target, flags, 0o644)
	if err != nil {
		return fmt.Errorf("target: %w", err)
	}
	defer dst.Close()

	fmt.Fprintf(log, "Writing %s to %s\n", o.Image, o.Target)
	in := &countingReader{r: img}
	src, compressed, err := openImage(in)
	if err != nil {
		return err
	}
	bar := &progress{w: log, in: in, total: imgInfo.Size(), compressed: compressed, start: time.Now()}
	written, sum, err := copyImage(dst, src, capacity, bar.update)
	bar.done()
	if err != nil {
		return err
	}
	if err := dst.Sync(); err != nil {
		return fmt.Errorf("target: flushing: %w", err)
	}
	fmt.Fprintf(log, "Verifying %s\n", humanBytes(written))
	if err := verify(dst, written, sum); err != nil {
		return err
	}

	mode, files, err := Customize(dst, written, o.Setup)
	if err != nil {
		return fmt.Errorf("first-boot setup: %w", err)
	}
	if err := dst.Sync(); err != nil {
		return err
	}
	if err := verifyFiles(dst, written, o.Setup, files); err != nil {
		return err
	}
	fmt.Fprintf(log, "First-boot setup (%s): %s\n", mode, strings.Join(files, " "))
	fmt.Fprintf(log, "Done: %s is ready to boot.\n", o.Target)
	return nil
}

// kernelName resolves /dev/disk/by-id/... and similar links to the kernel's
// name of the device (sdb, mmcblk0).
func kernelName(dev string) (string, error) {
	p, err := filepath.EvalSymlinks(dev)
	if err != nil {
		return "", fmt.Errorf("target: %w", err)
	}
	return filepath.Base(p), nil
}

// xzMagic starts every .xz file.
var xzMagic = []byte{0xfd, '7', 'z', 'X', 'Z', 0x00}

// openImage returns the image's bytes, decompressing .xz on the fly.
func openImage(r io.Reader) (io.Reader, bool, error) {
	br := bufio.NewReaderSize(r, 1<<20)
	head, _ := br.Peek(len(xzMagic))
	if !bytes.Equal(head, xzMagic) {
		return br, false, nil
	}
	zr, err := xz.NewReader(br)
	if err != nil {
		return nil, true, fmt.Errorf("image: xz: %w", err)
	}
	return zr, true, nil
}

// copyImage copies src to dst from offset 0, refusing to run past capacity
// (-1: unlimited), and returns the count and SHA-256 of what it wrote.
// onWrite, if set, hears the running count.
func copyImage(dst io.Writer, src io.Reader, capacity int64, onWrite func(int64)) (int64, [32]byte, error) {
	h := sha256.New()
	buf := make([]byte, 4<<20)
	var n int64
	for {
		k, rerr := io.ReadFull(src, buf)
		if k > 0 {
			if capacity >= 0 && n+int64(k) > capacity {
				return n, [32]byte{}, fmt.Errorf("the image is larger than the target (%s)", humanBytes(capacity))
			}
			if _, err := dst.Write(buf[:k]); err != nil {
				return n, [32]byte{}, fmt.Errorf("target: write at %d: %w", n, err)
			}
			h.Write(buf[:k])
			n += int64(k)
			if onWrite != nil {
				onWrite(n)
			}
		}
		if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			break
		}
		if rerr != nil {
			return n, [32]byte{}, fmt.Errorf("image: %w", rerr)
		}
	}
	if n == 0 {
		return 0, [32]byte{}, errors.New("image: empty")
	}
	var sum [32]byte
	copy(sum[:], h.Sum(nil))
	return n, sum, nil
}

// verify reads the first n bytes of f back and compares their hash. The
// page cache is dropped first, so a block device is really read again.
func verify(f *os.File, n int64, want [32]byte) error {
	_ = unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED)
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(f, 0, n)); err != nil {
		return fmt.Errorf("verify: reading back: %w", err)
	}
	if !bytes.Equal(h.Sum(nil), want[:]) {
		return errors.New("verify: what was read back differs from the image (a failing card or reader?)")
	}
	return nil
}

// verifyFiles reopens the boot partition and checks that every file that
// came from this machine reads back identical.
func verifyFiles(f *os.File, size int64, s Setup, written []string) error {
	_ = unix.Fadvise(int(f.Fd()), 0, 0, unix.FADV_DONTNEED)
	parts, err := ReadPartitions(f, size)
	if err != nil {
		return err
	}
	fat, err := bootPartition(f, parts)
	if err != nil {
		return err
	}
	checks := map[string]string{}
	if s.Deb != "" {
		checks[bootDir+"/edgeclass.deb"] = s.Deb
	}
	if s.Bundle != "" {
		files, err := bundleFiles(s.Bundle)
		if err != nil {
			return err
		}
		for _, bf := range files {
			checks[bf.name] = bf.src
		}
	}
	for name, src := range checks {
		want, err := os.ReadFile(src)
		if err != nil {
			return err
		}
		got, err := fat.readFile(name)
		if err != nil {
			return fmt.Errorf("verify: %w", err)
		}
		if sha256.Sum256(got) != sha256.Sum256(want) {
			return fmt.Errorf("verify: %s in the boot partition differs from %s", name, src)
		}
	}
	if len(written) == 0 || !fat.exists(scriptPath) {
		return errors.New("verify: the first-boot script is missing")
	}
	return nil
}

// countingReader counts the image file's bytes read, for the progress bar.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	k, err := c.r.Read(p)
	c.n += int64(k)
	return k, err
}

// progress draws a bar on one line, at most five times a second: the share
// of the image file read (compressed or not), and the bytes written.
type progress struct {
	w          io.Writer
	in         *countingReader
	total      int64
	compressed bool
	start      time.Time
	last       time.Time
	n          int64 // written
}

func (p *progress) update(n int64) {
	p.n = n
	if time.Since(p.last) < 200*time.Millisecond {
		return
	}
	p.last = time.Now()
	p.draw()
}

func (p *progress) draw() {
	frac := 1.0
	if p.total > 0 {
		frac = min(float64(p.in.n)/float64(p.total), 1)
	}
	const width = 30
	filled := int(frac * width)
	rate := float64(p.n) / max(time.Since(p.start).Seconds(), 0.001)
	fmt.Fprintf(p.w, "\r[%s%s] %3.0f%%  %s written, %s/s ", strings.Repeat("=", filled), strings.Repeat(" ", width-filled),
		frac*100, humanBytes(p.n), humanBytes(int64(rate)))
}

func (p *progress) done() {
	p.draw()
	fmt.Fprintln(p.w)
}
