// Command mkdeb packages an edgeclass binary as a Debian package (see
// package firmware/deb). It is a build tool, kept out of the edgeclass
// binary so devices do not carry the packager; scripts/dist.sh runs it:
//
//	go run ./firmware/cmd/mkdeb --binary bin/edgeclass-linux-arm64 --arch arm64 \
//	    --git-describe "$(git describe --tags --always --dirty)" --out dist
package main

import (
	"flag"
	"fmt"
	"os"
	"strconv"
	"time"

	"github.com/edgeclass/edgeclass/firmware/deb"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintf(os.Stderr, "mkdeb: %v\n", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	fs := flag.NewFlagSet("mkdeb", flag.ContinueOnError)
	binary := fs.String("binary", "", "the edgeclass executable (required)")
	arch := fs.String("arch", "", "Debian architecture: amd64, arm64 or armhf (required)")
	version := fs.String("version", "", "Debian version (or --git-describe)")
	describe := fs.String("git-describe", "", "output of git describe --tags --always --dirty, turned into the version")
	maintainer := fs.String("maintainer", "edgeclass maintainers <maintainers@edgeclass.invalid>", "package maintainer, \"Name <email>\"")
	date := fs.String("date", os.Getenv("SOURCE_DATE_EPOCH"), "changelog date and file times as Unix seconds (default $SOURCE_DATE_EPOCH, else now)")
	license := fs.String("license", "", "license short name (SPDX), with --license-file")
	licenseFile := fs.String("license-file", "", "full license text for the copyright file")
	out := fs.String("out", ".", "output folder")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *binary == "" || *arch == "" || (*version == "") == (*describe == "") {
		fs.Usage()
		return fmt.Errorf("need --binary, --arch and one of --version or --git-describe")
	}
	opts := deb.Options{Binary: *binary, Arch: *arch, Version: *version, Maintainer: *maintainer,
		Date: time.Now().UTC().Truncate(time.Second), License: *license, LicenseFile: *licenseFile}
	if *describe != "" {
		v, err := deb.VersionFromGit(*describe)
		if err != nil {
			return err
		}
		opts.Version = v
	}
	if *date != "" {
		sec, err := strconv.ParseInt(*date, 10, 64)
		if err != nil {
			return fmt.Errorf("--date %q: want Unix seconds", *date)
		}
		opts.Date = time.Unix(sec, 0).UTC()
	}
	path, err := deb.BuildFile(opts, *out)
	if err != nil {
		return err
	}
	fmt.Println(path)
	return nil
}
