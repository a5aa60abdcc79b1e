package deb

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/edgeclass/edgeclass/internal/testenv"
)

func TestVersionFromGit(t *testing.T) {
	good := map[string]string{
		"v1.2.0":                   "1.2.0",
		"1.2.0":                    "1.2.0",
		"v1.2.0-3-gabc1234":        "1.2.0+3.gabc1234",
		"v1.2.0-3-gabc1234-dirty":  "1.2.0+3.gabc1234+dirty",
		"v1.2.0-dirty":             "1.2.0+dirty",
		"v2.0.0rc1":                "2.0.0rc1",
		"d11e5d0":                  "0~gd11e5d0",
		"d11e5d0-dirty":            "0~gd11e5d0+dirty",
		"1234567":                  "0~g1234567", // an all-digit hash is still a hash
		"  v0.1.0\n":               "0.1.0",
		"v10.20.30-100-g0123abcd9": "10.20.30+100.g0123abcd9",
	}
	for in, want := range good {
		got, err := VersionFromGit(in)
		if err != nil || got != want {
			t.Errorf("VersionFromGit(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "dev", "release-1", "v1.0_beta", "vX"} {
		if got, err := VersionFromGit(bad); err == nil {
			t.Errorf("VersionFromGit(%q) = %q, want an error", bad, got)
		}
	}
}

// TestVersionOrder checks with dpkg itself that the versions sort the way
// releases happen: untagged builds, a release, builds after it, the next.
func TestVersionOrder(t *testing.T) {
	dpkg := testenv.Program(t, "dpkg")
	order := []string{"d11e5d0", "v0.1.0", "v0.1.0-1-gabc1234", "v0.1.0-2-g0000000", "v0.2.0"}
	for i := 1; i < len(order); i++ {
		a, _ := VersionFromGit(order[i-1])
		b, _ := VersionFromGit(order[i])
		if err := exec.Command(dpkg, "--compare-versions", a, "lt", b).Run(); err != nil {
			t.Errorf("dpkg does not sort %s (%s) before %s (%s)", a, order[i-1], b, order[i])
		}
	}
}

func TestArchFromGo(t *testing.T) {
	for _, c := range []struct{ goarch, goarm, want string }{{"amd64", "", "amd64"}, {"arm64", "", "arm64"}, {"arm", "7", "armhf"}} {
		if got, err := ArchFromGo(c.goarch, c.goarm); err != nil || got != c.want {
			t.Errorf("ArchFromGo(%s, %s) = %q, %v", c.goarch, c.goarm, got, err)
		}
	}
	for _, c := range [][2]string{{"arm", "6"}, {"386", ""}, {"riscv64", ""}} {
		if _, err := ArchFromGo(c[0], c[1]); err == nil {
			t.Errorf("ArchFromGo(%s, %s): no error", c[0], c[1])
		}
	}
}

// buildEdgeclass builds the real binary for this machine's architecture.
func buildEdgeclass(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "edgeclass")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w -X main.version=0.0.1", "-o", bin, "github.com/edgeclass/edgeclass/cmd/edgeclass")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func debArch(t *testing.T) string {
	arch, err := ArchFromGo(runtime.GOARCH, "7")
	if err != nil {
		t.Skipf("no Debian package for this machine: %v", err)
	}
	return arch
}

func testOptions(bin, arch string) Options {
	return Options{Binary: bin, Arch: arch, Version: "0.0.1", Maintainer: "Test <test@example.org>", Date: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
}

func TestBuildRefusals(t *testing.T) {
	self, err := os.Executable() // an ELF binary for this machine
	if err != nil {
		t.Fatal(err)
	}
	arch := debArch(t)
	other := map[string]string{"amd64": "arm64", "arm64": "armhf", "armhf": "amd64"}[arch]
	cases := []struct {
		mutate func(*Options)
		want   string
	}{
		{func(o *Options) { o.Arch = other }, "is for"},
		{func(o *Options) { o.Arch = "i386" }, "architecture"},
		{func(o *Options) { o.Version = "v1.0" }, "version"},
		{func(o *Options) { o.Maintainer = "nobody" }, "maintainer"},
		{func(o *Options) { o.Binary = "/nonexistent" }, "binary"},
		{func(o *Options) { o.Binary = "deb.go" }, "binary"},
		{func(o *Options) { o.Date = time.Time{} }, "date"},
	}
	for _, c := range cases {
		opts := testOptions(self, arch)
		c.mutate(&opts)
		err := Build(opts, io.Discard)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want an error about %q", opts, err, c.want)
		}
	}
}

// TestPackage builds the package from the real binary and inspects it with
// Debian's own tools.
func TestPackage(t *testing.T) {
	dpkgDeb := testenv.Program(t, "dpkg-deb")
	arch := debArch(t)
	bin := buildEdgeclass(t)
	dir := t.TempDir()
	path, err := BuildFile(testOptions(bin, arch), dir)
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(path) != "edgeclass_0.0.1_"+arch+".deb" {
		t.Errorf("file name %s", path)
	}
	// Reproducible: the same inputs make the same bytes.
	first, _ := os.ReadFile(path)
	var again bytes.Buffer
	if err := Build(testOptions(bin, arch), &again); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(first, again.Bytes()) {
		t.Error("two builds from the same inputs differ")
	}
	run := func(args ...string) string {
		out, err := exec.Command(dpkgDeb, args...).CombinedOutput()
		if err != nil {
			t.Fatalf("dpkg-deb %v: %v\n%s", args, err, out)
		}
		return string(out)
	}
	for field, want := range map[string]string{"Package": "edgeclass", "Version": "0.0.1", "Architecture": arch, "Depends": "adduser", "Maintainer": "Test <test@example.org>"} {
		if got := strings.TrimSpace(run("-f", path, field)); got != want {
			t.Errorf("%s: %q, want %q", field, got, want)
		}
	}
	root := filepath.Join(dir, "root")
	run("-x", path, root)
	ctrl := filepath.Join(dir, "control")
	run("-e", path, ctrl)

	got, _ := os.ReadFile(filepath.Join(root, BinaryPath))
	want, _ := os.ReadFile(bin)
	if !bytes.Equal(got, want) {
		t.Error("packaged binary differs from the input")
	}
	if conffiles, _ := os.ReadFile(filepath.Join(ctrl, "conffiles")); strings.TrimSpace(string(conffiles)) != ConfigPath {
		t.Errorf("conffiles %q", conffiles)
	}
	if cfg, _ := os.ReadFile(filepath.Join(root, ConfigPath)); !regexp.MustCompile(`(?m)^state_dir: /var/lib/edgeclass$`).Match(cfg) {
		t.Errorf("agent.yaml lacks state_dir:\n%s", cfg)
	}
	for _, script := range []string{"postinst", "prerm", "postrm"} {
		p := filepath.Join(ctrl, script)
		if st, err := os.Stat(p); err != nil || st.Mode().Perm()&0o111 == 0 {
			t.Errorf("%s missing or not executable", script)
			continue
		}
		if out, err := exec.Command("sh", "-n", p).CombinedOutput(); err != nil {
			t.Errorf("%s: %v %s", script, err, out)
		}
	}

	unit, _ := os.ReadFile(filepath.Join(root, UnitPath))
	for _, line := range []string{"Type=notify", "WatchdogSec=30s", "Restart=on-failure", "User=edgeclass", "SupplementaryGroups=video",
		"ProtectSystem=strict", "ReadWritePaths=/var/lib/edgeclass", "StateDirectory=edgeclass", "NoNewPrivileges=true", "PrivateTmp=true",
		"ProtectHome=true", "ExecStart=/usr/bin/edgeclass agent --config /etc/edgeclass/agent.yaml", "WantedBy=multi-user.target"} {
		if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(line) + `$`).Match(unit) {
			t.Errorf("unit lacks %q", line)
		}
	}

	// Documentation is gzip with maximum compression and parses.
	for _, doc := range []string{"/usr/share/doc/edgeclass/changelog.gz", "/usr/share/man/man1/edgeclass.1.gz"} {
		data, err := os.ReadFile(filepath.Join(root, doc))
		if err != nil {
			t.Fatal(err)
		}
		zr, err := gzip.NewReader(bytes.NewReader(data))
		if err != nil {
			t.Fatalf("%s: %v", doc, err)
		}
		text, _ := io.ReadAll(zr)
		if data[8] != 2 || len(text) == 0 {
			t.Errorf("%s: gzip XFL %d (want 2, maximum compression), %d bytes", doc, data[8], len(text))
		}
	}
	copyright, _ := os.ReadFile(filepath.Join(root, "/usr/share/doc/edgeclass/copyright"))
	if !bytes.HasPrefix(copyright, []byte("Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n")) {
		t.Errorf("copyright:\n%s", copyright)
	}

	t.Run("systemd-analyze", func(t *testing.T) {
		analyze := testenv.Program(t, "systemd-analyze")
		// Outside the target system some checks cannot pass (the binary
		// and man page are not installed here); what must not appear is a
		// complaint about the file itself, which names it with a line number.
		out, _ := exec.Command(analyze, "verify", "--man=no", filepath.Join(root, UnitPath)).CombinedOutput()
		if regexp.MustCompile(`edgeclass\.service:\d+:`).Match(out) {
			t.Errorf("systemd-analyze verify:\n%s", out)
		}
	})

	t.Run("lintian", func(t *testing.T) {
		lintian := testenv.Program(t, "lintian")
		start := time.Now()
		out, err := exec.Command(lintian, "--tag-display-limit", "0", "-I", "--pedantic", path).CombinedOutput()
		t.Logf("lintian (%.1fs):\n%s", time.Since(start).Seconds(), out)
		if err != nil || regexp.MustCompile(`(?m)^E: `).Match(out) {
			t.Errorf("lintian reports errors (%v)", err)
		}
	})
}
