package flash

import (
	"bufio"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/edgeclass/edgeclass/firmware/deb"
	"github.com/edgeclass/edgeclass/internal/testenv"
)

// TestFirstBootInDebootstrap is the whole path a user takes, on a Debian
// bookworm root made by debootstrap instead of a Raspberry Pi: the
// edgeclass CLI creates a fleet, enrolls a device and flashes an image
// with the real amd64 package; the boot partition is copied to
// /boot/firmware of the root, and firstboot.sh runs there in a chroot as
// systemd would run it. Then the installed agent runs in the chroot as its
// service user and must answer /healthz; finally the package is purged.
func TestFirstBootInDebootstrap(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped in -short mode: builds a Debian root")
	}
	if runtime.GOARCH != "amd64" {
		t.Skip("the debootstrap root is amd64")
	}
	if os.Geteuid() != 0 {
		testenv.Missing(t, "root (debootstrap and chroot need it)")
	}
	for _, p := range []string{"debootstrap", "chroot", "mcopy"} {
		testenv.Program(t, p)
	}
	tools(t)
	start := time.Now()
	root := debianRoot(t)
	t.Logf("bookworm root ready in %.0fs", time.Since(start).Seconds())

	// The binary and package, built from this tree.
	work := t.TempDir()
	bin := filepath.Join(work, "edgeclass")
	build := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w -X main.version=0.0.1", "-o", bin, "github.com/edgeclass/edgeclass/cmd/edgeclass")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	debPath, err := deb.BuildFile(deb.Options{Binary: bin, Arch: "amd64", Version: "0.0.1", Maintainer: "Test <test@example.org>", Date: time.Now()}, work)
	if err != nil {
		t.Fatal(err)
	}

	// The user's commands.
	cli := func(args ...string) {
		t.Helper()
		cmd := exec.Command(bin, args...)
		cmd.Dir = work
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("edgeclass %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	os.WriteFile(filepath.Join(work, "id.pub"), []byte(testKey+"\n"), 0o644)
	img := makeImage(t, imageSpec{files: piBoot()})
	card := filepath.Join(work, "card.img")
	cli("fleet", "init", "--dir", "fleet")
	cli("enroll", "--fleet", "fleet", "--device", "cam-42", "--broker", "ssl://broker.test:8883", "--out", "cam-42")
	cli("flash", "--image", img, "--target", card, "--device-bundle", "cam-42", "--deb", debPath,
		"--wifi", "shop floor:correct horse", "--wifi-country", "GB", "--ssh-key", "id.pub", "--user", "admin", "--yes")

	// A bookworm Raspberry Pi OS has NetworkManager and a first user
	// (uid 1000) waiting to be renamed.
	inRoot := func(args ...string) string {
		t.Helper()
		out, err := exec.Command("chroot", append([]string{root}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("chroot %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}
	os.MkdirAll(filepath.Join(root, "etc/NetworkManager/system-connections"), 0o755)
	inRoot("useradd", "-m", "-u", "1000", "-s", "/bin/bash", "pi")
	boot := filepath.Join(root, "boot/firmware")
	os.MkdirAll(boot, 0o755)
	sh(t, "mcopy", "-s", "-n", "-i", bootRef(card), "::*", boot)

	// systemd.run= runs the script named on the kernel command line.
	cmdline, _ := os.ReadFile(filepath.Join(boot, "cmdline.txt"))
	var script string
	for _, arg := range strings.Fields(string(cmdline)) {
		if s, ok := strings.CutPrefix(arg, "systemd.run="); ok {
			script = s
		}
	}
	if script != "/boot/firmware/edgeclass/firstboot.sh" {
		t.Fatalf("cmdline.txt runs %q", script)
	}
	fbStart := time.Now()
	out, err := exec.Command("chroot", root, "/bin/sh", script).CombinedOutput()
	logText, _ := os.ReadFile(filepath.Join(boot, "edgeclass-firstboot.log"))
	t.Logf("firstboot.sh (%.1fs): %s\nlog:\n%s", time.Since(fbStart).Seconds(), out, logText)
	if err != nil {
		t.Fatalf("firstboot.sh: %v", err)
	}

	read := func(p string) string {
		data, err := os.ReadFile(filepath.Join(root, p))
		if err != nil {
			t.Errorf("%v", err)
		}
		return string(data)
	}
	mode := func(p string) os.FileMode {
		st, err := os.Stat(filepath.Join(root, p))
		if err != nil {
			t.Errorf("%v", err)
			return 0
		}
		return st.Mode().Perm()
	}
	if got := read("etc/hostname"); got != "cam-42\n" {
		t.Errorf("/etc/hostname %q", got)
	}
	if !strings.Contains(read("etc/hosts"), "127.0.1.1\tcam-42") {
		t.Errorf("/etc/hosts:\n%s", read("etc/hosts"))
	}
	if got := strings.TrimSpace(inRoot("id", "-u", "admin")); got != "1000" {
		t.Errorf("admin has uid %s, want the renamed first user", got)
	}
	if got := read("home/admin/.ssh/authorized_keys"); got != testKey+"\n" || mode("home/admin/.ssh/authorized_keys") != 0o600 {
		t.Errorf("authorized_keys %q, mode %v", got, mode("home/admin/.ssh/authorized_keys"))
	}
	nm := "etc/NetworkManager/system-connections/edgeclass-wifi.nmconnection"
	if got := read(nm); !strings.Contains(got, "psk="+wifiKey("shop floor", "correct horse")) || mode(nm) != 0o600 {
		t.Errorf("%s (mode %v):\n%s", nm, mode(nm), got)
	}
	if got := inRoot("dpkg-query", "-W", "-f", "${Status} ${Version}", "edgeclass"); got != "install ok installed 0.0.1" {
		t.Errorf("package status %q", got)
	}
	bundleCfg, _ := os.ReadFile(filepath.Join(work, "cam-42", "agent.yaml"))
	if got := read("etc/edgeclass/agent.yaml"); got != string(bundleCfg) {
		t.Errorf("dpkg replaced the enrolled configuration:\n%s", got)
	}
	if got := inRoot("stat", "-c", "%U:%G %a", "/etc/edgeclass/tls/device.key", "/var/lib/edgeclass"); got != "root:edgeclass 640\nedgeclass:edgeclass 750\n" {
		t.Errorf("owners and modes:\n%s", got)
	}
	if got := inRoot("id", "-nG", "edgeclass"); !strings.Contains(got, "video") {
		t.Errorf("edgeclass groups: %s", got)
	}
	if target, err := os.Readlink(filepath.Join(root, "etc/systemd/system/multi-user.target.wants/edgeclass.service")); err != nil || target != "/lib/systemd/system/edgeclass.service" {
		t.Errorf("service not enabled: %q %v", target, err)
	}
	if got := read("boot/firmware/cmdline.txt"); got != piCmdline {
		t.Errorf("cmdline.txt after first boot: %q", got)
	}
	if _, err := os.Stat(filepath.Join(boot, "edgeclass")); !os.IsNotExist(err) {
		t.Errorf("the first-boot folder (with the device key and Wi-Fi key) is still on the boot partition: %v", err)
	}
	if !strings.Contains(string(logText), "edgeclass first boot: done") {
		t.Error("the log does not say done")
	}

	t.Run("agent", func(t *testing.T) { runAgentInRoot(t, root) })

	inRoot("dpkg", "--purge", "edgeclass")
	for _, gone := range []string{"usr/bin/edgeclass", "var/lib/edgeclass", "etc/edgeclass", "etc/systemd/system/multi-user.target.wants/edgeclass.service"} {
		if _, err := os.Lstat(filepath.Join(root, gone)); !os.IsNotExist(err) {
			t.Errorf("/%s survived the purge", gone)
		}
	}

	t.Run("install-jetson.sh", func(t *testing.T) {
		// The Jetson path on the same root: the script installs the
		// package and a bundle and adds its service drop-in.
		repo, _ := filepath.Abs("../..")
		script, _ := os.ReadFile(filepath.Join(repo, "scripts/install-jetson.sh"))
		os.WriteFile(filepath.Join(root, "tmp/install-jetson.sh"), script, 0o755)
		data, _ := os.ReadFile(debPath)
		os.WriteFile(filepath.Join(root, "tmp/edgeclass.deb"), data, 0o644)
		sh(t, "cp", "-a", filepath.Join(work, "cam-42"), filepath.Join(root, "tmp/bundle"))
		out := inRoot("bash", "/tmp/install-jetson.sh", "/tmp/edgeclass.deb", "--bundle", "/tmp/bundle")
		t.Logf("install-jetson.sh:\n%s", out)
		if !strings.Contains(out, "edgeclass 0.0.1 is installed") || !strings.Contains(out, "nvarguscamerasrc") {
			t.Error("no summary with next steps")
		}
		if got := read("etc/edgeclass/agent.yaml"); got != string(bundleCfg) {
			t.Errorf("configuration after install-jetson.sh:\n%s", got)
		}
		if got := read("etc/systemd/system/edgeclass.service.d/jetson.conf"); !strings.Contains(got, "PrivateTmp=false") {
			t.Errorf("drop-in:\n%s", got)
		}
		if got := inRoot("stat", "-c", "%U:%G %a", "/etc/edgeclass/tls/device.key"); got != "root:edgeclass 640\n" {
			t.Errorf("device key: %s", got)
		}
	})
	t.Logf("whole test %.0fs", time.Since(start).Seconds())
}

// runAgentInRoot starts the installed agent in the chroot as the service
// would (its user, its configuration), with a test pattern instead of a
// camera and the embedded broker instead of the fleet's, and waits for
// /healthz.
func runAgentInRoot(t *testing.T, root string) {
	probe, _ := exec.Command("chroot", root, "/usr/bin/edgeclass", "agent", "-h").CombinedOutput()
	if strings.Contains(string(probe), "unknown command") {
		testenv.Missing(t, "the agent subcommand (edgeclass agent) in this build")
	}
	httpAddr, mqttAddr := freeAddr(t), freeAddr(t)
	cmd := exec.Command("chroot", "--userspec=edgeclass:edgeclass", "--groups=video", root,
		"/usr/bin/edgeclass", "agent", "--config", "/etc/edgeclass/agent.yaml")
	cmd.Env = []string{"PATH=/usr/bin:/bin", "EDGECLASS_SOURCE=testpattern", "EDGECLASS_HTTP_ADDR=" + httpAddr,
		"EDGECLASS_MQTT_BROKER=", "EDGECLASS_MQTT_LISTEN=" + mqttAddr}
	var log strings.Builder
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cmd.Process.Kill()
		cmd.Wait()
		t.Logf("agent log:\n%s", log.String())
	}()
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			t.Fatalf("the agent exited: %v (an enrolled agent.yaml needs the agent to know updates.trusted_keys)", err)
		default:
		}
		if healthy(httpAddr) {
			// Healthy once; still running and healthy a few seconds of
			// frames later.
			time.Sleep(3 * time.Second)
			select {
			case err := <-exited:
				t.Fatalf("the agent exited after becoming healthy: %v", err)
			default:
			}
			if !healthy(httpAddr) {
				t.Fatal("/healthz failed after 3 s of running")
			}
			return
		}
		time.Sleep(250 * time.Millisecond)
	}
	t.Fatal("no healthy /healthz within 30s")
}

func healthy(addr string) bool {
	resp, err := http.Get("http://" + addr + "/healthz")
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// debianRoot returns a fresh copy of a minimal bookworm root. The root is
// made once by debootstrap (about 3 minutes, 200 MB) and kept in
// /var/cache/edgeclass-test, or $EDGECLASS_DEBOOTSTRAP_CACHE.
func debianRoot(t *testing.T) string {
	t.Helper()
	cache := os.Getenv("EDGECLASS_DEBOOTSTRAP_CACHE")
	if cache == "" {
		cache = "/var/cache/edgeclass-test"
	}
	cached := filepath.Join(cache, "bookworm-minbase-amd64")
	if _, err := os.Stat(filepath.Join(cached, "usr/bin/dpkg")); err != nil {
		mirror := debianMirror()
		tmp := cached + ".partial"
		os.RemoveAll(tmp)
		if err := os.MkdirAll(cache, 0o755); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		out, err := exec.Command("debootstrap", "--variant=minbase", "bookworm", tmp, mirror).CombinedOutput()
		if err != nil {
			tail := string(out)
			if len(tail) > 3000 {
				tail = tail[len(tail)-3000:]
			}
			t.Fatalf("debootstrap from %s: %v\n%s", mirror, err, tail)
		}
		if err := os.Rename(tmp, cached); err != nil {
			t.Fatal(err)
		}
		t.Logf("debootstrap from %s: %.0fs", mirror, time.Since(start).Seconds())
	}
	root := filepath.Join(t.TempDir(), "root")
	if out, err := exec.Command("cp", "-a", cached, root).CombinedOutput(); err != nil {
		t.Fatalf("copying the cached root: %v\n%s", err, out)
	}
	if err := exec.Command("mount", "-t", "proc", "proc", filepath.Join(root, "proc")).Run(); err == nil {
		t.Cleanup(func() { exec.Command("umount", "-l", filepath.Join(root, "proc")).Run() })
	}
	return root
}

// debianMirror is the Debian mirror this machine's apt uses, which is
// known to be reachable, else deb.debian.org.
func debianMirror() string {
	if m := os.Getenv("EDGECLASS_DEBIAN_MIRROR"); m != "" {
		return m
	}
	files, _ := filepath.Glob("/etc/apt/sources.list.d/*.sources")
	for _, f := range files {
		data, _ := os.ReadFile(f)
		sc := bufio.NewScanner(strings.NewReader(string(data)))
		for sc.Scan() {
			if uris, ok := strings.CutPrefix(sc.Text(), "URIs:"); ok {
				for _, u := range strings.Fields(uris) {
					if strings.HasSuffix(strings.TrimSuffix(u, "/"), "/debian") {
						return u
					}
				}
			}
		}
	}
	if data, err := os.ReadFile("/etc/apt/sources.list"); err == nil {
		for _, line := range strings.Split(string(data), "\n") {
			f := strings.Fields(line)
			if len(f) >= 3 && f[0] == "deb" && strings.HasSuffix(strings.TrimSuffix(f[1], "/"), "/debian") {
				return f[1]
			}
		}
	}
	return "http://deb.debian.org/debian"
}
