package flash

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// System is where the safety checks look: the real /sys and /proc, or a
// fabricated tree in tests.
type System struct {
	Sys       string // /sys
	MountInfo string // /proc/self/mountinfo
	Swaps     string // /proc/swaps
}

// Host is the running system.
var Host = System{Sys: "/sys", MountInfo: "/proc/self/mountinfo", Swaps: "/proc/swaps"}

// Disk describes a whole-disk block device about to be overwritten.
type Disk struct {
	Name       string // kernel name: sdb, mmcblk0
	Size       int64  // bytes
	Model      string
	Removable  bool
	Partitions []DiskPartition
}

// DiskPartition is a partition the kernel knows on a Disk.
type DiskPartition struct {
	Name string
	Size int64
}

func (d *Disk) String() string {
	var b strings.Builder
	model := d.Model
	if model == "" {
		model = "unknown model"
	}
	fmt.Fprintf(&b, "/dev/%s: %s, %s", d.Name, humanBytes(d.Size), model)
	if d.Removable {
		b.WriteString(", removable")
	}
	if len(d.Partitions) == 0 {
		b.WriteString(", no partitions")
	}
	for _, p := range d.Partitions {
		fmt.Fprintf(&b, "\n  /dev/%s  %s", p.Name, humanBytes(p.Size))
	}
	return b.String()
}

// devDir is the device's folder in sysfs, with symbolic links resolved, so
// a partition's folder lies inside its disk's.
func (s System) devDir(name string) (string, error) {
	return filepath.EvalSymlinks(filepath.Join(s.Sys, "class", "block", name))
}

func readTrim(p string) string {
	data, _ := os.ReadFile(p)
	return strings.TrimSpace(string(data))
}

func sectors(p string) int64 {
	n, _ := strconv.ParseInt(readTrim(p), 10, 64)
	return n * 512 // sysfs sizes are in 512-byte units whatever the device's sector size
}

// Inspect checks that the block device name (sdb, mmcblk0) may be
// overwritten and describes it. It refuses a partition, the disk the
// running system lives on, and a disk any of whose parts is mounted, used
// as swap or held by device mapper or RAID.
func (s System) Inspect(name string) (*Disk, error) {
	dir, err := s.devDir(name)
	if err != nil {
		return nil, fmt.Errorf("/dev/%s is not a block device the kernel lists: %w", name, err)
	}
	if _, err := os.Stat(filepath.Join(dir, "partition")); err == nil {
		parent := filepath.Base(filepath.Dir(dir))
		return nil, fmt.Errorf("/dev/%s is a partition; give the whole disk (/dev/%s)", name, parent)
	}
	d := &Disk{Name: name, Size: sectors(filepath.Join(dir, "size")), Removable: readTrim(filepath.Join(dir, "removable")) == "1"}
	d.Model = strings.TrimSpace(readTrim(filepath.Join(dir, "device", "vendor")) + " " + readTrim(filepath.Join(dir, "device", "model")))
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		if _, err := os.Stat(filepath.Join(dir, e.Name(), "partition")); err == nil {
			d.Partitions = append(d.Partitions, DiskPartition{Name: e.Name(), Size: sectors(filepath.Join(dir, e.Name(), "size"))})
		}
	}
	if d.Size == 0 {
		return nil, fmt.Errorf("/dev/%s has size 0 (no medium inserted?)", name)
	}

	mounts, err := s.mounts()
	if err != nil {
		return nil, err
	}
	inside := func(p string) bool { return p == dir || strings.HasPrefix(p, dir+string(filepath.Separator)) }
	// The root file system first, for the clearer message.
	for _, m := range mounts {
		if m.point == "/" && s.usesAny(m.devDir, inside) {
			return nil, fmt.Errorf("/dev/%s holds the running system's root file system; refusing to overwrite it", name)
		}
	}
	for _, m := range mounts {
		if s.usesAny(m.devDir, inside) {
			return nil, fmt.Errorf("/dev/%s is in use: %s is mounted at %s; unmount every partition first (sudo umount /dev/%s*)", name, m.source, m.point, name)
		}
	}
	swaps, err := s.swaps()
	if err != nil {
		return nil, err
	}
	for _, sw := range swaps {
		if s.usesAny(sw, inside) {
			return nil, fmt.Errorf("/dev/%s is in use as swap (%s); swapoff first", name, filepath.Base(sw))
		}
	}
	for _, p := range append([]string{dir}, partitionDirs(dir, d.Partitions)...) {
		if holders, _ := os.ReadDir(filepath.Join(p, "holders")); len(holders) > 0 {
			return nil, fmt.Errorf("/dev/%s is in use: /dev/%s is held by /dev/%s (device mapper, LVM, RAID or encryption)", name, filepath.Base(p), holders[0].Name())
		}
	}
	return d, nil
}

func partitionDirs(dir string, parts []DiskPartition) []string {
	var out []string
	for _, p := range parts {
		out = append(out, filepath.Join(dir, p.Name))
	}
	return out
}

// usesAny reports whether the device at devDir, or any device it is built
// on (device mapper and RAID slaves, recursively), satisfies match.
func (s System) usesAny(devDir string, match func(string) bool) bool {
	return s.walkSlaves(devDir, match, 0)
}

func (s System) walkSlaves(devDir string, match func(string) bool, depth int) bool {
	if devDir == "" || depth > 16 {
		return false
	}
	if match(devDir) {
		return true
	}
	slaves, _ := os.ReadDir(filepath.Join(devDir, "slaves"))
	for _, sl := range slaves {
		if d, err := s.devDir(sl.Name()); err == nil && s.walkSlaves(d, match, depth+1) {
			return true
		}
	}
	return false
}

type mount struct {
	devDir, source, point string
}

// mounts lists block-device mounts from mountinfo, resolving each through
// its major:minor, which also covers names like /dev/root.
func (s System) mounts() ([]mount, error) {
	data, err := os.ReadFile(s.MountInfo)
	if err != nil {
		return nil, fmt.Errorf("reading the mount table: %w", err)
	}
	var out []mount
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		// id parent major:minor root mountpoint options [optional...] - fstype source superoptions
		f := strings.Fields(sc.Text())
		sep := -1
		for i, x := range f {
			if x == "-" {
				sep = i
				break
			}
		}
		if len(f) < 5 || sep < 0 || sep+2 >= len(f) {
			continue
		}
		d, err := filepath.EvalSymlinks(filepath.Join(s.Sys, "dev", "block", f[2]))
		if err != nil {
			continue // not a block device (tmpfs, proc, ...)
		}
		out = append(out, mount{devDir: d, source: f[sep+2], point: unescapeMount(f[4])})
	}
	return out, nil
}

// unescapeMount undoes mountinfo's octal escapes (\040 for a space).
func unescapeMount(s string) string {
	if !strings.Contains(s, `\`) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+3 < len(s) {
			if n, err := strconv.ParseUint(s[i+1:i+4], 8, 8); err == nil {
				b.WriteByte(byte(n))
				i += 3
				continue
			}
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// swaps lists the sysfs folders of swap partitions.
func (s System) swaps() ([]string, error) {
	data, err := os.ReadFile(s.Swaps)
	if os.IsNotExist(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the swap table: %w", err)
	}
	var out []string
	for i, line := range strings.Split(string(data), "\n") {
		f := strings.Fields(line)
		if i == 0 || len(f) < 2 || f[1] != "partition" {
			continue
		}
		if d, err := s.devDir(filepath.Base(f[0])); err == nil {
			out = append(out, d)
		}
	}
	return out, nil
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
