package main

import (
	"bytes"
	"debug/elf"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/edgeclass/edgeclass/firmware/deb"
	"github.com/edgeclass/edgeclass/internal/testenv"
)

// TestDist runs the release recipe (scripts/dist.sh, what `make dist`
// runs) and checks what it made: checksums, static binaries for the right
// machines that run under qemu and compute what Google's runtime computes,
// and lintian-clean packages.
func TestDist(t *testing.T) {
	if testing.Short() {
		t.Skip("skipped in -short mode: builds every release target")
	}
	if runtime.GOOS != "linux" || runtime.GOARCH != "amd64" {
		t.Skip("the release is built on linux/amd64")
	}
	for _, p := range []string{"git", "sha256sum", "bash"} {
		testenv.Program(t, p)
	}
	root, err := filepath.Abs("../../..")
	if err != nil {
		t.Fatal(err)
	}
	dist := t.TempDir()
	start := time.Now()
	cmd := exec.Command("bash", "scripts/dist.sh")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "DIST="+dist)
	out, err := cmd.CombinedOutput()
	t.Logf("scripts/dist.sh (%.0fs):\n%s", time.Since(start).Seconds(), out)
	if err != nil {
		t.Fatalf("scripts/dist.sh: %v", err)
	}
	describe, err := exec.Command("git", "-C", root, "describe", "--tags", "--always", "--dirty").Output()
	if err != nil {
		t.Fatal(err)
	}
	version := strings.TrimSpace(string(describe))
	debVersion, err := deb.VersionFromGit(version)
	if err != nil {
		t.Fatal(err)
	}

	check := exec.Command("sha256sum", "--check", "--strict", "SHA256SUMS")
	check.Dir = dist
	if out, err := check.CombinedOutput(); err != nil {
		t.Fatalf("SHA256SUMS: %v\n%s", err, out)
	}
	sums, _ := os.ReadFile(filepath.Join(dist, "SHA256SUMS"))
	if n := strings.Count(string(sums), "\n"); n != 6 {
		t.Errorf("SHA256SUMS lists %d files, want 3 binaries and 3 packages:\n%s", n, sums)
	}

	model := testenv.TestData(t, "models/mobilenet_v1_0.25_128_quant.tflite")
	photo := testenv.TestData(t, "images/cat.jpg")
	goldenIn := testenv.TestData(t, "golden/mobilenet_v1_0.25_128_quant__cat.in.bin")
	goldenOut, err := os.ReadFile(testenv.TestData(t, "golden/mobilenet_v1_0.25_128_quant__cat.out0.bin"))
	if err != nil {
		t.Fatal(err)
	}
	native := filepath.Join(dist, "edgeclass-linux-amd64")
	want, err := exec.Command(native, "classify", "--model", model, "--top", "5", photo).Output()
	if err != nil {
		t.Fatalf("classify on amd64: %v", err)
	}

	for _, target := range []struct {
		name    string
		machine elf.Machine
		qemu    string // "" runs natively
		debArch string
	}{
		{"edgeclass-linux-amd64", elf.EM_X86_64, "", "amd64"},
		{"edgeclass-linux-arm64", elf.EM_AARCH64, "qemu-aarch64-static", "arm64"},
		{"edgeclass-linux-armv7", elf.EM_ARM, "qemu-arm-static", "armhf"},
	} {
		t.Run(target.name, func(t *testing.T) {
			bin := filepath.Join(dist, target.name)
			f, err := elf.Open(bin)
			if err != nil {
				t.Fatal(err)
			}
			for _, p := range f.Progs {
				if p.Type == elf.PT_INTERP {
					t.Error("dynamically linked (has an interpreter)")
				}
			}
			if f.Machine != target.machine {
				t.Errorf("machine %v, want %v", f.Machine, target.machine)
			}
			f.Close()

			deb := filepath.Join(dist, "edgeclass_"+debVersion+"_"+target.debArch+".deb")
			if arch, err := exec.Command("dpkg-deb", "-f", deb, "Architecture").Output(); err != nil || strings.TrimSpace(string(arch)) != target.debArch {
				t.Errorf("%s: Architecture %q, %v", deb, arch, err)
			}

			run := func(args ...string) []byte {
				t.Helper()
				name := bin
				if target.qemu != "" {
					name = testenv.Program(t, target.qemu)
					args = append([]string{bin}, args...)
				}
				out, err := exec.Command(name, args...).CombinedOutput()
				if err != nil {
					t.Fatalf("%s %v: %v\n%s", target.name, args, err, out)
				}
				return out
			}
			if got := strings.TrimSpace(string(run("--version"))); got != version {
				t.Errorf("--version %q, want %q", got, version)
			}
			// The engine computes what Google's runtime computes, bit for
			// bit, on this architecture too.
			prefix := filepath.Join(t.TempDir(), "out")
			run("run-model", model, goldenIn, "--out", prefix)
			if got, _ := os.ReadFile(prefix + ".0.bin"); !bytes.Equal(got, goldenOut) {
				t.Errorf("run-model output differs from Google's runtime (%d bytes vs %d)", len(got), len(goldenOut))
			}
			// A photo goes through JPEG decoding and preprocessing too.
			if got := run("classify", "--model", model, "--top", "5", photo); !bytes.Equal(got, want) {
				t.Errorf("classify:\n%s\nwant (amd64):\n%s", got, want)
			}
		})
	}

	t.Run("lintian", func(t *testing.T) {
		lintian := testenv.Program(t, "lintian")
		debs, _ := filepath.Glob(filepath.Join(dist, "*.deb"))
		start := time.Now()
		out, err := exec.Command(lintian, append([]string{"--tag-display-limit", "0", "-I"}, debs...)...).CombinedOutput()
		t.Logf("lintian, %d packages (%.0fs):\n%s", len(debs), time.Since(start).Seconds(), out)
		if err != nil || regexp.MustCompile(`(?m)^E: `).Match(out) {
			t.Errorf("lintian reports errors (%v)", err)
		}
	})
}
