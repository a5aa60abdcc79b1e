// Package deb builds the edgeclass Debian package for one architecture: the
// binary in /usr/bin, a hardened Type=notify systemd unit, the agent
// configuration as a conffile, maintainer scripts that create the
// edgeclass user and enable the service, and the copyright, changelog and
// lintian override files Debian expects. The same package serves Raspberry
// Pi OS, Debian and Ubuntu (Jetson's JetPack).
package deb

import (
	"bytes"
	"compress/gzip"
	"debug/elf"
	"embed"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"time"

	"github.com/goreleaser/nfpm/v2"
	_ "github.com/goreleaser/nfpm/v2/deb" // registers the "deb" packager
	"github.com/goreleaser/nfpm/v2/files"
)

//go:embed files
var assets embed.FS

// Installed paths.
const (
	BinaryPath = "/usr/bin/edgeclass"
	UnitPath   = "/lib/systemd/system/edgeclass.service"
	ConfigPath = "/etc/edgeclass/agent.yaml"
	docDir     = "/usr/share/doc/edgeclass"
)

// Options describe one package.
type Options struct {
	Binary     string    // the edgeclass executable built for Arch
	Arch       string    // Debian architecture: amd64, arm64 or armhf
	Version    string    // Debian version (see VersionFromGit)
	Maintainer string    // "Name <email>"
	Date       time.Time // changelog date and file times, for reproducible packages

	// The license: an SPDX-style short name and, optionally, the full text
	// (the repository's LICENSE file). Without them the copyright file says
	// that no license has been granted.
	License, LicenseFile string
}

// elfMachines maps Debian architectures to the ELF machine their binaries
// carry, so a binary built for the wrong target is caught here rather than
// on a device.
var elfMachines = map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64, "armhf": elf.EM_ARM}

// ArchFromGo maps a Go target to a Debian architecture.
func ArchFromGo(goarch, goarm string) (string, error) {
	switch {
	case goarch == "amd64", goarch == "arm64":
		return goarch, nil
	case goarch == "arm" && (goarm == "7" || goarm == ""):
		return "armhf", nil
	}
	return "", fmt.Errorf("no Debian architecture for GOARCH=%s GOARM=%s (want amd64, arm64 or arm with GOARM=7)", goarch, goarm)
}

// FileName is the conventional package file name.
func FileName(version, arch string) string {
	return fmt.Sprintf("edgeclass_%s_%s.deb", version, arch)
}

var (
	describePattern = regexp.MustCompile(`^v?([0-9][0-9A-Za-z.]*)(?:-([0-9]+)-g([0-9a-f]+))?(-dirty)?$`)
	hashPattern     = regexp.MustCompile(`^([0-9a-f]{4,40})(-dirty)?$`)
	debVersion      = regexp.MustCompile(`^[0-9][A-Za-z0-9.+~]*$`)
)

// VersionFromGit turns `git describe --tags --always --dirty` output into a
// Debian version that sorts the way releases do: v1.2.0 -> 1.2.0,
// v1.2.0-3-gabc123 -> 1.2.0+3.gabc123 (after 1.2.0), a bare commit hash
// (no tag yet) -> 0~gabc123 (before any release), -dirty -> +dirty.
func VersionFromGit(describe string) (string, error) {
	d := strings.TrimSpace(describe)
	var v string
	if m := describePattern.FindStringSubmatch(d); m != nil && !hashPattern.MatchString(d) {
		v = m[1]
		if m[2] != "" {
			v += "+" + m[2] + ".g" + m[3]
		}
		if m[4] != "" {
			v += "+dirty"
		}
	} else if m := hashPattern.FindStringSubmatch(d); m != nil {
		v = "0~g" + m[1]
		if m[2] != "" {
			v += "+dirty"
		}
	} else {
		return "", fmt.Errorf("cannot make a Debian version from %q (want vX.Y.Z[-N-gHASH][-dirty] or a commit hash)", describe)
	}
	if !debVersion.MatchString(v) {
		return "", fmt.Errorf("cannot make a Debian version from %q: %q is not valid", describe, v)
	}
	return v, nil
}

// Build writes the package to w.
func Build(opts Options, w io.Writer) error {
	if err := checkOptions(opts); err != nil {
		return fmt.Errorf("deb: %w", err)
	}
	// nfpm reads every file from disk: lay the generated ones out first.
	tmp, err := os.MkdirTemp("", "edgeclass-deb-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	changelog, err := gzipMax([]byte(changelogText(opts)))
	if err != nil {
		return err
	}
	copyright, err := copyrightFile(opts)
	if err != nil {
		return err
	}
	manPage, err := assets.ReadFile("files/edgeclass.1")
	if err != nil {
		return err
	}
	if manPage, err = gzipMax(manPage); err != nil {
		return err
	}
	generated := map[string][]byte{"changelog.gz": changelog, "copyright": copyright, "edgeclass.1.gz": manPage}
	for _, name := range []string{"edgeclass.service", "agent.yaml", "postinst", "prerm", "postrm", "lintian-overrides"} {
		if generated[name], err = assets.ReadFile("files/" + name); err != nil {
			return err
		}
	}
	for name, data := range generated {
		if err := os.WriteFile(filepath.Join(tmp, name), data, 0o644); err != nil {
			return err
		}
	}
	src := func(name string) string { return filepath.Join(tmp, name) }
	file := func(source, dest string, mode os.FileMode, typ string) *files.Content {
		return &files.Content{Source: source, Destination: dest, Type: typ,
			FileInfo: &files.ContentFileInfo{Mode: mode, MTime: opts.Date, Owner: "root", Group: "root"}}
	}
	info := nfpm.WithDefaults(&nfpm.Info{
		Name:          "edgeclass",
		Arch:          opts.Arch,
		Platform:      "linux",
		Version:       opts.Version,
		VersionSchema: "none",
		Section:       "misc",
		Priority:      "optional",
		Maintainer:    opts.Maintainer,
		Description: "image classification agent for edge devices\n" +
			"edgeclass watches a camera, classifies each frame with a TensorFlow Lite\n" +
			"model (pure-Go engine, no accelerator needed) and publishes what it sees\n" +
			"as MQTT events. It serves a status page, health checks and Prometheus\n" +
			"metrics over HTTP, and installs signed model updates.\n" +
			"\n" +
			"This package runs the agent as a hardened systemd service under its own\n" +
			"user, configured in /etc/edgeclass/agent.yaml.",
		MTime: opts.Date,
		Overridables: nfpm.Overridables{
			Depends: []string{"adduser"},
			Contents: files.Contents{
				file(opts.Binary, BinaryPath, 0o755, files.TypeFile),
				file(src("edgeclass.service"), UnitPath, 0o644, files.TypeFile),
				file(src("agent.yaml"), ConfigPath, 0o644, files.TypeConfig), // postinst narrows it to 0640 root:edgeclass
				file(src("edgeclass.1.gz"), "/usr/share/man/man1/edgeclass.1.gz", 0o644, files.TypeFile),
				file(src("copyright"), docDir+"/copyright", 0o644, files.TypeFile),
				file(src("changelog.gz"), docDir+"/changelog.gz", 0o644, files.TypeFile),
				file(src("lintian-overrides"), "/usr/share/lintian/overrides/edgeclass", 0o644, files.TypeFile),
			},
			Scripts: nfpm.Scripts{PostInstall: src("postinst"), PreRemove: src("prerm"), PostRemove: src("postrm")},
			Deb:     nfpm.Deb{Compression: "xz"},
		},
	})
	if err := info.Validate(); err != nil {
		return fmt.Errorf("deb: %w", err)
	}
	packager, err := nfpm.Get("deb")
	if err != nil {
		return err
	}
	if err := packager.Package(info, w); err != nil {
		return fmt.Errorf("deb: %w", err)
	}
	return nil
}

// BuildFile writes the package into dir under its conventional name and
// returns the path.
func BuildFile(opts Options, dir string) (string, error) {
	path := filepath.Join(dir, FileName(opts.Version, opts.Arch))
	var buf bytes.Buffer
	if err := Build(opts, &buf); err != nil {
		return "", err
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		return "", fmt.Errorf("deb: %w", err)
	}
	return path, nil
}

func checkOptions(opts Options) error {
	machine, ok := elfMachines[opts.Arch]
	if !ok {
		return fmt.Errorf("architecture %q: want amd64, arm64 or armhf", opts.Arch)
	}
	if !debVersion.MatchString(opts.Version) {
		return fmt.Errorf("version %q is not a Debian version starting with a digit", opts.Version)
	}
	if !strings.Contains(opts.Maintainer, "<") || !strings.HasSuffix(opts.Maintainer, ">") {
		return fmt.Errorf("maintainer %q: want \"Name <email>\"", opts.Maintainer)
	}
	if opts.Date.IsZero() {
		return fmt.Errorf("no date")
	}
	f, err := elf.Open(opts.Binary)
	if err != nil {
		return fmt.Errorf("binary: %w", err)
	}
	defer f.Close()
	if f.Machine != machine {
		return fmt.Errorf("binary %s is for %v, not %s", opts.Binary, f.Machine, opts.Arch)
	}
	return nil
}

// changelogText is a one-entry Debian changelog.
func changelogText(opts Options) string {
	return fmt.Sprintf("edgeclass (%s) unstable; urgency=medium\n\n"+
		"  * Release %s, built from the edgeclass source tree.\n\n"+
		" -- %s  %s\n", opts.Version, opts.Version, opts.Maintainer, opts.Date.UTC().Format(time.RFC1123Z))
}

// gzipMax compresses the way lintian wants documentation compressed:
// maximum compression, no name or time stamp in the header.
func gzipMax(data []byte) ([]byte, error) {
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(data); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// copyrightFile writes the machine-readable copyright format.
func copyrightFile(opts Options) ([]byte, error) {
	name, text := opts.License, "No license has been granted yet: all rights reserved by the edgeclass authors."
	if name == "" {
		name = "LicenseRef-edgeclass-unlicensed"
	}
	if opts.LicenseFile != "" {
		data, err := os.ReadFile(opts.LicenseFile)
		if err != nil {
			return nil, fmt.Errorf("license: %w", err)
		}
		text = string(data)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/\n"+
		"Upstream-Name: edgeclass\n\n"+
		"Files: *\nCopyright: %d The edgeclass authors\nLicense: %s\n", opts.Date.Year(), name)
	// Continuation lines start with a space; empty lines become " .".
	for _, line := range strings.Split(strings.TrimRight(text, "\n"), "\n") {
		if strings.TrimSpace(line) == "" {
			b.WriteString(" .\n")
		} else {
			b.WriteString(" " + line + "\n")
		}
	}
	return []byte(b.String()), nil
}
