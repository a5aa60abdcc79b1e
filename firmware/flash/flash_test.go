package flash

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ulikunitz/xz"
	"go.yaml.in/yaml/v3"

	"github.com/edgeclass/edgeclass/firmware/fleet"
)

const testKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIIm0dUZ3L2lkHXm7Xj0cFVq4y4Q8u9lV0lP5QxUuS3bN admin@laptop"

// testBundle enrolls a device in a new fleet.
func testBundle(t *testing.T, id string) string {
	t.Helper()
	f, err := fleet.Init(filepath.Join(t.TempDir(), "fleet"), "test")
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), id)
	if err := f.Enroll(fleet.EnrollOptions{DeviceID: id, Broker: "ssl://broker.test:8883"}, out); err != nil {
		t.Fatal(err)
	}
	return out
}

// fakeDeb is package-sized random bytes: this test checks the transfer;
// the chroot test installs a real package.
func fakeDeb(t *testing.T) string {
	t.Helper()
	data := make([]byte, 3<<20+517)
	rand.Read(data)
	p := filepath.Join(t.TempDir(), "edgeclass_1.0_arm64.deb")
	os.WriteFile(p, data, 0o644)
	return p
}

func xzCompress(t *testing.T, img string) string {
	t.Helper()
	data, err := os.ReadFile(img)
	if err != nil {
		t.Fatal(err)
	}
	out := img + ".xz"
	f, _ := os.Create(out)
	w, err := xz.NewWriter(f)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(data)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	return out
}

func hashRange(t *testing.T, path string, from, to int64) [32]byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(data[from:to])
}

func TestFlashRaspberryPiOS(t *testing.T) {
	img := makeImage(t, imageSpec{files: piBoot()})
	bundle := testBundle(t, "cam-07")
	deb := fakeDeb(t)
	target := filepath.Join(t.TempDir(), "sd.img")
	var log bytes.Buffer
	err := Flash(Options{Image: xzCompress(t, img), Target: target, Log: &log, Setup: Setup{
		Bundle: bundle, Deb: deb, Hostname: "cam-07", User: "admin", SSHKeys: testKey + "\n",
		WifiSSID: "IEEE", WifiPSK: "password", WifiCountry: "GB",
	}})
	t.Logf("log:\n%s", log.String())
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"Writing", "100%", "Verifying", "First-boot setup (firstrun)", "Done"} {
		if !strings.Contains(log.String(), want) {
			t.Errorf("log lacks %q", want)
		}
	}

	// The image itself arrived intact outside the boot partition.
	if st, _ := os.Stat(target); st.Size() != imageSize {
		t.Errorf("target size %d, want %d", st.Size(), imageSize)
	}
	rootFrom, rootTo := int64(bootStart+bootSectors)*sector, int64(imageSize)
	if hashRange(t, target, rootFrom, rootTo) != hashRange(t, img, rootFrom, rootTo) {
		t.Error("the root partition changed")
	}
	if hashRange(t, target, 0, bootStart*sector) != hashRange(t, img, 0, bootStart*sector) {
		t.Error("the partition table changed")
	}
	fsckBoot(t, target)

	// What the device will find on its first boot, read with mtools.
	cmdline := mread(t, target, "cmdline.txt")
	wantCmdline := strings.TrimSpace(piCmdline) + " systemd.run=/boot/firmware/edgeclass/firstboot.sh systemd.run_success_action=reboot systemd.run_failure_action=reboot systemd.unit=kernel-command-line.target\n"
	if cmdline != wantCmdline {
		t.Errorf("cmdline.txt:\n%q\nwant\n%q", cmdline, wantCmdline)
	}
	if got := mread(t, target, "edgeclass/firstboot.sh"); got != string(firstbootScript) {
		t.Error("firstboot.sh differs")
	}
	checks := map[string]string{
		"edgeclass/hostname":        "cam-07\n",
		"edgeclass/user":            "admin\n",
		"edgeclass/authorized_keys": testKey + "\n",
		"edgeclass/wifi-country":    "GB\n",
		"config.txt":                piBoot()["config.txt"], // untouched
	}
	for name, want := range checks {
		if got := mread(t, target, name); got != want {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
	if !mexists(target, "ssh") {
		t.Error("no ssh file (sshd stays off)")
	}
	// IEEE 802.11i test vector: passphrase "password", SSID "IEEE".
	const ieeeKey = "f42c6fc52df0ebef9ebb4b90b38a5f902e83fe1b135a70e23aed762e9710a12e"
	if nm := mread(t, target, "edgeclass/wifi.nmconnection"); !strings.Contains(nm, "\nssid=IEEE\n") || !strings.Contains(nm, "\npsk="+ieeeKey+"\n") {
		t.Errorf("wifi.nmconnection:\n%s", nm)
	}
	if wpa := mread(t, target, "edgeclass/wpa_supplicant.conf"); !strings.Contains(wpa, "ssid=49454545\n") || !strings.Contains(wpa, "psk="+ieeeKey+"\n") || !strings.Contains(wpa, "country=GB\n") {
		t.Errorf("wpa_supplicant.conf:\n%s", wpa)
	}
	// The package and every bundle file, byte for byte.
	same := func(name, src string) {
		t.Helper()
		out := filepath.Join(t.TempDir(), "out")
		sh(t, "mcopy", "-n", "-i", bootRef(target), "::"+name, out)
		got, _ := os.ReadFile(out)
		want, _ := os.ReadFile(src)
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from %s (%d vs %d bytes)", name, src, len(got), len(want))
		}
	}
	same("edgeclass/edgeclass.deb", deb)
	for _, f := range []string{fleet.BundleConfig, fleet.BundleCA, fleet.BundleCert, fleet.BundleKey, fleet.BundleTrustedKey} {
		same("edgeclass/etc/"+f, filepath.Join(bundle, f))
	}

	// Flashing again over the same file needs --yes, and the hook is not
	// added twice.
	if err := Flash(Options{Image: img, Target: target, Setup: Setup{Bundle: bundle}}); !errors.Is(err, ErrNeedYes) {
		t.Errorf("overwriting an existing file without Yes: %v", err)
	}
	if err := Flash(Options{Image: img, Target: target, Yes: true, Setup: Setup{Bundle: bundle}}); err != nil {
		t.Fatal(err)
	}
	if got := mread(t, target, "cmdline.txt"); strings.Count(got, "systemd.run=") != 1 {
		t.Errorf("cmdline after a second flash: %q", got)
	}
	if mexists(target, "edgeclass/hostname") {
		t.Error("a host name file without --hostname")
	}
}

func TestFlashCloudInit(t *testing.T) {
	files := map[string]string{
		"cmdline.txt":    piCmdline,
		"meta-data":      "instance-id: iid-local01\n",
		"user-data":      "#cloud-config\nhostname: ubuntu\nchpasswd:\n  expire: true\nruncmd:\n  - [echo, hello]\nssh_authorized_keys:\n  - ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7 old@key\n",
		"network-config": "network:\n  version: 2\n  ethernets:\n    eth0:\n      dhcp4: true\n      optional: true\n",
	}
	img := makeImage(t, imageSpec{files: files})
	target := filepath.Join(t.TempDir(), "sd.img")
	err := Flash(Options{Image: img, Target: target, Setup: Setup{
		Bundle: testBundle(t, "jetson-1"), Hostname: "jetson-1", SSHKeys: testKey, User: "ubuntu",
		WifiSSID: "shop floor;2", WifiPSK: "correct horse", WifiCountry: "DE",
	}})
	if err != nil {
		t.Fatal(err)
	}
	if got := mread(t, target, "cmdline.txt"); got != piCmdline {
		t.Errorf("cmdline.txt changed in cloud-init mode: %q", got)
	}
	ud := mread(t, target, "user-data")
	if !strings.HasPrefix(ud, "#cloud-config\n") {
		t.Errorf("user-data lost its header:\n%s", ud)
	}
	var u struct {
		Hostname string   `yaml:"hostname"`
		Keys     []string `yaml:"ssh_authorized_keys"`
		Chpasswd struct {
			Expire bool `yaml:"expire"`
		} `yaml:"chpasswd"`
		Runcmd [][]string `yaml:"runcmd"`
	}
	if err := yaml.Unmarshal([]byte(ud), &u); err != nil {
		t.Fatal(err)
	}
	if u.Hostname != "jetson-1" || len(u.Keys) != 2 || u.Keys[1] != testKey || !u.Chpasswd.Expire || len(u.Runcmd) != 2 || u.Runcmd[0][0] != "echo" {
		t.Errorf("user-data merged wrongly: %+v", u)
	}
	// The runcmd finds the script where the boot partition is mounted:
	// run it with a fake /boot/firmware made of this partition's layout.
	last := u.Runcmd[1]
	if len(last) != 3 || last[0] != "sh" || !strings.Contains(last[2], "/boot/firmware") || !strings.Contains(last[2], "/edgeclass/firstboot.sh") {
		t.Errorf("runcmd %q", last)
	}
	var nc struct {
		Network struct {
			Version   int                       `yaml:"version"`
			Ethernets map[string]map[string]any `yaml:"ethernets"`
			Wifis     map[string]struct {
				Domain string `yaml:"regulatory-domain"`
				APs    map[string]struct {
					Password string `yaml:"password"`
				} `yaml:"access-points"`
			} `yaml:"wifis"`
		} `yaml:"network"`
	}
	if err := yaml.Unmarshal([]byte(mread(t, target, "network-config")), &nc); err != nil {
		t.Fatal(err)
	}
	w := nc.Network.Wifis["wlan0"]
	if nc.Network.Version != 2 || nc.Network.Ethernets["eth0"] == nil || w.Domain != "DE" || w.APs["shop floor;2"].Password != wifiKey("shop floor;2", "correct horse") {
		t.Errorf("network-config merged wrongly: %+v", nc)
	}
	// In this mode cloud-init sets host name, keys and Wi-Fi itself.
	for _, name := range []string{"edgeclass/hostname", "edgeclass/authorized_keys", "edgeclass/wifi.nmconnection"} {
		if mexists(target, name) {
			t.Errorf("%s written in cloud-init mode", name)
		}
	}
	fsckBoot(t, target)
}

func TestFlashGPT(t *testing.T) {
	img := makeImage(t, imageSpec{gpt: true, files: map[string]string{"cmdline.txt": piCmdline}})
	target := filepath.Join(t.TempDir(), "sd.img")
	if err := Flash(Options{Image: img, Target: target, Setup: Setup{Hostname: "gpt-box"}}); err != nil {
		t.Fatal(err)
	}
	// No /boot/firmware in config.txt or cmdline.txt: an older release.
	if got := mread(t, target, "cmdline.txt"); !strings.Contains(got, " systemd.run=/boot/edgeclass/firstboot.sh ") {
		t.Errorf("cmdline.txt %q", got)
	}
	if got := mread(t, target, "edgeclass/hostname"); got != "gpt-box\n" {
		t.Errorf("hostname %q", got)
	}
}

func TestFlashRefusals(t *testing.T) {
	img := makeImage(t, imageSpec{files: piBoot()})
	dir := t.TempDir()
	existing := filepath.Join(dir, "existing.img")
	os.WriteFile(existing, []byte("precious"), 0o644)

	cases := []struct {
		name string
		opts Options
		want string
	}{
		{"no --yes", Options{Image: img, Target: existing}, "--yes"},
		{"image onto itself", Options{Image: img, Target: img, Yes: true}, "image itself"},
		{"missing image", Options{Image: filepath.Join(dir, "none.img"), Target: filepath.Join(dir, "t1")}, "image"},
		{"missing device", Options{Image: img, Target: "/dev/edgeclass-no-such-disk"}, "does not exist"},
		{"character device", Options{Image: img, Target: "/dev/null", Yes: true}, "neither a block device"},
		{"folder", Options{Image: img, Target: dir, Yes: true}, "neither a block device"},
		{"bad host name", Options{Image: img, Target: filepath.Join(dir, "t2"), Setup: Setup{Hostname: "Bad_Name"}}, "host name"},
		{"wifi without country", Options{Image: img, Target: filepath.Join(dir, "t3"), Setup: Setup{WifiSSID: "x", WifiPSK: "password1"}}, "country"},
		{"short passphrase", Options{Image: img, Target: filepath.Join(dir, "t4"), Setup: Setup{WifiSSID: "x", WifiPSK: "short", WifiCountry: "GB"}}, "passphrase"},
		{"not a key", Options{Image: img, Target: filepath.Join(dir, "t5"), Setup: Setup{SSHKeys: "-----BEGIN OPENSSH PRIVATE KEY-----", User: "pi"}}, "SSH key"},
		{"bad user", Options{Image: img, Target: filepath.Join(dir, "t6"), Setup: Setup{SSHKeys: testKey, User: "Root Admin"}}, "user"},
		{"missing deb", Options{Image: img, Target: filepath.Join(dir, "t7"), Setup: Setup{Deb: filepath.Join(dir, "none.deb")}}, "package"},
	}
	for _, c := range cases {
		err := Flash(c.opts)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error about %q", c.name, err, c.want)
		}
	}
	if data, _ := os.ReadFile(existing); string(data) != "precious" {
		t.Error("a refused flash changed the target")
	}
}

func TestFlashUnsuitableImages(t *testing.T) {
	cases := []struct {
		name string
		spec imageSpec
		want string
	}{
		{"FAT16 boot", imageSpec{fat16: true}, "FAT16"},
		{"no file system", imageSpec{noBootFS: true}, "FAT"},
		{"no boot files", imageSpec{files: map[string]string{"readme.txt": "hi"}}, "neither cmdline.txt"},
	}
	for _, c := range cases {
		img := makeImage(t, c.spec)
		err := Flash(Options{Image: img, Target: filepath.Join(t.TempDir(), "t.img")})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error about %q", c.name, err, c.want)
		}
	}
	// Not a disk image at all.
	junk := filepath.Join(t.TempDir(), "junk.img")
	os.WriteFile(junk, bytes.Repeat([]byte("x"), 4096), 0o644)
	if err := Flash(Options{Image: junk, Target: filepath.Join(t.TempDir(), "t.img")}); err == nil || !strings.Contains(err.Error(), "MBR signature") {
		t.Errorf("junk image: %v", err)
	}
}

func TestCopyImageCapacity(t *testing.T) {
	var dst bytes.Buffer
	_, _, err := copyImage(&dst, bytes.NewReader(make([]byte, 10<<20)), 8<<20, nil)
	if err == nil || !strings.Contains(err.Error(), "larger than the target") {
		t.Errorf("oversized image: %v", err)
	}
	if dst.Len() > 8<<20 {
		t.Errorf("wrote %d bytes past an 8 MiB target", dst.Len())
	}
	n, sum, err := copyImage(&dst, bytes.NewReader([]byte("abc")), -1, nil)
	if err != nil || n != 3 || sum != sha256.Sum256([]byte("abc")) {
		t.Errorf("copy: %d %x %v", n, sum, err)
	}
}

// TestWifiKey checks the WPA key derivation against the IEEE 802.11i
// test vectors and against wpa_passphrase where installed.
func TestWifiKey(t *testing.T) {
	vectors := map[[2]string]string{
		{"IEEE", "password"}:               "f42c6fc52df0ebef9ebb4b90b38a5f902e83fe1b135a70e23aed762e9710a12e",
		{"ThisIsASSID", "ThisIsAPassword"}: "0dc0d6eb90555ed6419756b9a15ec3e3209b63df707dd508d14581f8982721af",
	}
	for in, want := range vectors {
		if got := wifiKey(in[0], in[1]); got != want {
			t.Errorf("wifiKey(%q, %q) = %s, want %s", in[0], in[1], got, want)
		}
	}
	hex := strings.Repeat("AB", 32)
	if got := wifiKey("x", hex); got != strings.ToLower(hex) {
		t.Errorf("a hex key is used as given, got %s", got)
	}
	if p, err := exec.LookPath("wpa_passphrase"); err == nil {
		out, _ := exec.Command(p, "shop floor", "correct horse").Output()
		if !strings.Contains(string(out), "\tpsk="+wifiKey("shop floor", "correct horse")+"\n") {
			t.Errorf("differs from wpa_passphrase:\n%s", out)
		}
	}
}
