package flash

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/edgeclass/edgeclass/internal/testenv"
)

// Test disk images are made the way Raspberry Pi OS images are: a
// partition table, a FAT32 boot partition made by mkfs.vfat with the
// firmware's text files, and an ext4 root partition.
const (
	bootStart   = 2048   // sectors
	bootSectors = 131072 // 64 MiB: enough clusters for FAT32 at 512 bytes each
	rootSectors = 32768  // 16 MiB
	imageSize   = (bootStart + bootSectors + rootSectors + 2048) * sector
)

type imageSpec struct {
	gpt      bool
	fat16    bool
	files    map[string]string // boot partition files
	noBootFS bool
}

const piCmdline = "console=serial0,115200 console=tty1 root=PARTUUID=4e639091-02 rootfstype=ext4 fsck.repair=yes rootwait quiet init=/usr/lib/raspberrypi-sys-mods/firstboot\n"

// piBoot is a bookworm boot partition's text files.
func piBoot() map[string]string {
	return map[string]string{
		"cmdline.txt": piCmdline,
		"config.txt":  "# For more options and information see\n# http://rptl.io/configtxt\n# Additional overlays and parameters are documented\n# /boot/firmware/overlays/README\ndtparam=audio=on\ncamera_auto_detect=1\narm_64bit=1\n",
		"issue.txt":   "Raspberry Pi reference 2024-11-19\n",
	}
}

func tools(t *testing.T) {
	t.Helper()
	for _, p := range []string{"sfdisk", "mkfs.vfat", "mkfs.ext4", "mcopy", "mtype", "fsck.fat"} {
		testenv.Program(t, p)
	}
}

func sh(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return string(out)
}

// makeImage writes a disk image file and returns its path.
func makeImage(t *testing.T, spec imageSpec) string {
	t.Helper()
	tools(t)
	dir := t.TempDir()
	img := filepath.Join(dir, "os.img")
	if err := os.WriteFile(img, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(img, imageSize); err != nil {
		t.Fatal(err)
	}
	table := fmt.Sprintf("label: dos\nstart=%d, size=%d, type=c\nstart=%d, size=%d, type=83\n", bootStart, bootSectors, bootStart+bootSectors, rootSectors)
	if spec.gpt {
		table = fmt.Sprintf("label: gpt\nstart=%d, size=%d, type=U, name=boot\nstart=%d, size=%d, type=L, name=root\n", bootStart, bootSectors, bootStart+bootSectors, rootSectors)
	}
	cmd := exec.Command("sfdisk", "--quiet", img)
	cmd.Stdin = strings.NewReader(table)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sfdisk: %v\n%s", err, out)
	}
	if !spec.noBootFS {
		fatType := "32"
		if spec.fat16 {
			fatType = "16"
		}
		sh(t, "mkfs.vfat", "-F", fatType, "-n", "BOOTFS", "--offset", fmt.Sprint(bootStart), img, fmt.Sprint(bootSectors/2))
	}
	sh(t, "mkfs.ext4", "-q", "-F", "-L", "rootfs", "-E", fmt.Sprintf("offset=%d", (bootStart+bootSectors)*sector), img, fmt.Sprintf("%dk", rootSectors/2))
	for name, content := range spec.files {
		p := filepath.Join(dir, "src-"+name)
		os.WriteFile(p, []byte(content), 0o644)
		sh(t, "mcopy", "-i", fmt.Sprintf("%s@@%d", img, bootStart*sector), p, "::"+name)
	}
	return img
}

// bootRef addresses the boot partition of an image for mtools.
func bootRef(img string) string { return fmt.Sprintf("%s@@%d", img, bootStart*sector) }

// mread reads a file from the image's boot partition with mtools, which
// shares no code with the FAT library that wrote it.
func mread(t *testing.T, img, name string) string {
	t.Helper()
	out, err := exec.Command("mtype", "-i", bootRef(img), "::"+name).Output()
	if err != nil {
		t.Fatalf("mtype %s: %v", name, err)
	}
	return string(out)
}

func mexists(img, name string) bool {
	return exec.Command("mdir", "-b", "-i", bootRef(img), "::"+name).Run() == nil
}

// fsckBoot checks the boot file system with dosfsck, read-only.
func fsckBoot(t *testing.T, img string) {
	t.Helper()
	part := filepath.Join(t.TempDir(), "boot.part")
	data, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(part, data[bootStart*sector:(bootStart+bootSectors)*sector], 0o644)
	if out, err := exec.Command("fsck.fat", "-n", part).CombinedOutput(); err != nil {
		t.Errorf("fsck.fat finds problems: %v\n%s", err, out)
	}
}
