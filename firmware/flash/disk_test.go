package flash

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// fakeSys builds a sysfs-like tree: each device is a folder under
// devices/, with class/block/NAME and dev/block/MAJ:MIN links to it, as
// the kernel lays it out.
type fakeSys struct {
	t    *testing.T
	root string
	next int
}

func newFakeSys(t *testing.T) *fakeSys {
	return &fakeSys{t: t, root: t.TempDir()}
}

func (f *fakeSys) write(p, content string) {
	f.t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		f.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		f.t.Fatal(err)
	}
}

// device adds a device folder at rel (under devices/) and returns its
// major:minor.
func (f *fakeSys) device(rel string, sectors int64) string {
	f.t.Helper()
	dir := filepath.Join(f.root, "devices", rel)
	name := filepath.Base(rel)
	f.next++
	mm := fmt.Sprintf("8:%d", f.next)
	f.write(filepath.Join(dir, "size"), fmt.Sprintf("%d\n", sectors))
	f.write(filepath.Join(dir, "dev"), mm+"\n")
	for _, link := range []string{filepath.Join(f.root, "class", "block", name), filepath.Join(f.root, "dev", "block", mm)} {
		os.MkdirAll(filepath.Dir(link), 0o755)
		if err := os.Symlink(dir, link); err != nil {
			f.t.Fatal(err)
		}
	}
	return mm
}

func (f *fakeSys) disk(rel, model string, sectors int64, parts ...string) map[string]string {
	mms := map[string]string{filepath.Base(rel): f.device(rel, sectors)}
	f.write(filepath.Join(f.root, "devices", rel, "device", "model"), model+"\n")
	f.write(filepath.Join(f.root, "devices", rel, "removable"), "1\n")
	for i, p := range parts {
		mms[p] = f.device(filepath.Join(rel, p), sectors/int64(len(parts)+1))
		f.write(filepath.Join(f.root, "devices", rel, p, "partition"), fmt.Sprintf("%d\n", i+1))
	}
	return mms
}

func (f *fakeSys) system(mountinfo, swaps string) System {
	f.write(filepath.Join(f.root, "mountinfo"), mountinfo)
	f.write(filepath.Join(f.root, "swaps"), "Filename\t\t\t\tType\t\tSize\t\tUsed\t\tPriority\n"+swaps)
	return System{Sys: f.root, MountInfo: filepath.Join(f.root, "mountinfo"), Swaps: filepath.Join(f.root, "swaps")}
}

func mountLine(id int, mm, point, source string) string {
	return fmt.Sprintf("%d 1 %s / %s rw,relatime shared:1 - ext4 %s rw\n", id, mm, point, source)
}

func TestInspect(t *testing.T) {
	fs := newFakeSys(t)
	sda := fs.disk("pci0/host0/block/sda", "Samsung SSD 870", 1000215216, "sda1", "sda2")
	sdb := fs.disk("usb1/host6/block/sdb", "SD/MMC Reader", 62333952, "sdb1", "sdb2")
	fs.disk("usb2/host7/block/sdc", "Flash Drive", 30000000, "sdc1", "sdc2")
	fs.disk("usb3/host8/block/sdd", "Card", 30000000, "sdd1")
	fs.disk("usb4/host9/block/sde", "Card", 30000000, "sde1")
	fs.disk("usb5/host10/block/sdf", "Empty reader", 0)
	sdg := fs.disk("usb6/host11/block/sdg", "Flash Drive", 30000000, "sdg1")
	dm := fs.device("virtual/block/dm-0", 1000)
	os.MkdirAll(filepath.Join(fs.root, "devices/virtual/block/dm-0/slaves/sdc2"), 0o755)
	os.MkdirAll(filepath.Join(fs.root, "devices/usb4/host9/block/sde/sde1/holders/dm-1"), 0o755)

	mountinfo := "22 1 0:21 / /proc rw,relatime - proc proc rw\n" +
		mountLine(30, sda["sda2"], "/", "/dev/root") +
		mountLine(31, sda["sda1"], "/boot/efi", "/dev/sda1") +
		mountLine(32, sdb["sdb1"], `/media/pi/boot\040fs`, "/dev/sdb1") +
		mountLine(33, dm, "/home", "/dev/mapper/vg-home") +
		mountLine(34, sdg["sdg"], "/mnt/whole", "/dev/sdg") +
		"40 1 0:40 / /tmp rw - tmpfs tmpfs rw\n"
	sys := fs.system(mountinfo, "/dev/sdd1\tpartition\t1048572\t0\t-2\n/swapfile\tfile\t100\t0\t-3\n")

	cases := map[string]string{
		"sda":     "root file system",
		"sda2":    "is a partition; give the whole disk (/dev/sda)",
		"sdb":     `sdb1 is mounted at /media/pi/boot fs`,
		"sdb1":    "partition",
		"sdc":     "/dev/mapper/vg-home is mounted at /home",
		"sdd":     "swap",
		"sde":     "held by /dev/dm-1",
		"sdf":     "size 0",
		"sdg":     "/dev/sdg is mounted at /mnt/whole",
		"nothere": "not a block device",
	}
	for name, want := range cases {
		d, err := sys.Inspect(name)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Inspect(%s) = %v, %v; want an error about %q", name, d, err, want)
		}
	}

	// An unmounted card is described, and may be written.
	clean := newFakeSys(t)
	clean.disk("usb1/host6/block/sdb", "SD/MMC Reader", 62333952, "sdb1", "sdb2")
	d, err := clean.system(mountLine(30, "8:99", "/", "/dev/root"), "").Inspect("sdb")
	if err != nil {
		t.Fatal(err)
	}
	if d.Size != 62333952*512 || d.Model != "SD/MMC Reader" || !d.Removable || len(d.Partitions) != 2 || d.Partitions[0].Name != "sdb1" {
		t.Errorf("disk %+v", d)
	}
	if s := d.String(); !strings.Contains(s, "/dev/sdb: 29.7 GiB, SD/MMC Reader, removable") || !strings.Contains(s, "/dev/sdb2") {
		t.Errorf("description:\n%s", s)
	}
}

// TestHostRootDisk runs the checks against this machine: the disk holding
// / must be refused.
func TestHostRootDisk(t *testing.T) {
	mounts, err := Host.mounts()
	if err != nil {
		t.Skipf("no mount table: %v", err)
	}
	for _, m := range mounts {
		if m.point != "/" {
			continue
		}
		disk := m.devDir
		if _, err := os.Stat(filepath.Join(disk, "partition")); err == nil {
			disk = filepath.Dir(disk)
		}
		_, err := Host.Inspect(filepath.Base(disk))
		if err == nil || !strings.Contains(err.Error(), "root file system") {
			t.Errorf("Inspect(%s), the root disk: %v", filepath.Base(disk), err)
		}
		return
	}
	t.Skip("the root file system is not on a block device here (container overlay)")
}

// TestFlashLoopDevice flashes a real block device: a loop device over a
// file. A mounted one is refused first.
func TestFlashLoopDevice(t *testing.T) {
	losetup, err := exec.LookPath("losetup")
	if err != nil || os.Geteuid() != 0 {
		t.Skip("needs root and losetup")
	}
	img := makeImage(t, imageSpec{files: piBoot()})
	backing := filepath.Join(t.TempDir(), "card")
	os.WriteFile(backing, nil, 0o644)
	os.Truncate(backing, imageSize+8<<20)
	sh(t, "mkfs.ext4", "-q", "-F", backing) // something to mount
	out, err := exec.Command(losetup, "--find", "--show", backing).Output()
	if err != nil {
		t.Skipf("no loop device available: %v", err)
	}
	dev := strings.TrimSpace(string(out))
	defer exec.Command(losetup, "-d", dev).Run()

	mnt := t.TempDir()
	if out, err := exec.Command("mount", dev, mnt).CombinedOutput(); err != nil {
		t.Logf("cannot mount here (%v: %s); skipping the mounted case", err, out)
	} else {
		err := Flash(Options{Image: img, Target: dev, Yes: true})
		exec.Command("umount", mnt).Run()
		if err == nil || !strings.Contains(err.Error(), "is mounted at "+mnt) {
			t.Errorf("flash to a mounted device: %v", err)
		}
	}
	var log strings.Builder
	if err := Flash(Options{Image: img, Target: dev, Log: &log, Setup: Setup{Hostname: "loop-cam"}}); err != ErrNeedYes {
		t.Errorf("without Yes: %v", err)
	}
	if !strings.Contains(log.String(), "About to overwrite ALL data on\n"+dev) {
		t.Errorf("no description of the device:\n%s", log.String())
	}
	if err := Flash(Options{Image: img, Target: dev, Yes: true, Setup: Setup{Hostname: "loop-cam"}}); err != nil {
		t.Fatal(err)
	}
	if got := mread(t, backing, "edgeclass/hostname"); got != "loop-cam\n" {
		t.Errorf("hostname on the device: %q", got)
	}
	fsckBoot(t, backing)
}

func TestReadPartitions(t *testing.T) {
	for _, gpt := range []bool{false, true} {
		img := makeImage(t, imageSpec{gpt: gpt})
		f, err := os.Open(img)
		if err != nil {
			t.Fatal(err)
		}
		parts, err := ReadPartitions(f, imageSize)
		f.Close()
		if err != nil {
			t.Fatal(err)
		}
		if len(parts) != 2 || parts[0].Start != bootStart*sector || parts[0].Size != bootSectors*sector ||
			parts[1].Start != (bootStart+bootSectors)*sector || parts[1].Size != rootSectors*sector ||
			!parts[0].MaybeFAT() || parts[1].MaybeFAT() {
			t.Errorf("gpt=%v: %+v", gpt, parts)
		}
		if gpt && (parts[0].Name != "boot" || parts[0].Type != "C12A7328-F81F-11D2-BA4B-00A0C93EC93B") {
			t.Errorf("GPT entry %+v", parts[0])
		}
		// The same table on a disk too small for it is refused.
		f, _ = os.Open(img)
		if _, err := ReadPartitions(f, bootStart*sector); err == nil {
			t.Errorf("gpt=%v: partitions past the end accepted", gpt)
		}
		f.Close()
	}
}
