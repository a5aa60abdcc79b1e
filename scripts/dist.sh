#!/usr/bin/env bash
# Release build (make dist): edgeclass for linux/arm64, linux/armv7 and
# linux/amd64 (pure Go, static, CGO_ENABLED=0), a Debian package for each,
# GoCV builds where a cross toolchain and the target's OpenCV are installed,
# and SHA256SUMS. Everything lands in $DIST (default dist/).
#
# Environment: DIST, VERSION (default: git describe), GO, SOURCE_DATE_EPOCH
# (default: the last commit's time, so packages are reproducible),
# MAINTAINER ("Name <email>"), LICENSE_NAME with LICENSE_FILE (default:
# LICENSE, when the repository has one).
set -euo pipefail
cd "$(dirname "$0")/.."

GO=${GO:-go}
DIST=${DIST:-dist}
VERSION=${VERSION:-$(git describe --tags --always --dirty 2>/dev/null || echo dev)}
SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || date +%s)}
export SOURCE_DATE_EPOCH
LDFLAGS="-s -w -X main.version=$VERSION"

rm -rf "$DIST"
mkdir -p "$DIST"
echo "edgeclass $VERSION -> $DIST/"

# The packager is a host tool: build it once for this machine.
tools=$(mktemp -d)
trap 'rm -rf "$tools"' EXIT
CGO_ENABLED=0 GOOS= GOARCH= GOARM= $GO build -o "$tools/mkdeb" ./firmware/cmd/mkdeb

deb_args=(--git-describe "$VERSION" --date "$SOURCE_DATE_EPOCH" --out "$DIST")
if [ -n "${MAINTAINER:-}" ]; then deb_args+=(--maintainer "$MAINTAINER"); fi
LICENSE_FILE=${LICENSE_FILE:-$( [ -f LICENSE ] && echo LICENSE || true)}
if [ -n "$LICENSE_FILE" ]; then deb_args+=(--license-file "$LICENSE_FILE" --license "${LICENSE_NAME:?set LICENSE_NAME to the SPDX name of $LICENSE_FILE}"); fi

# name goarch goarm debian-arch
targets=(
	"edgeclass-linux-arm64 arm64 - arm64"
	"edgeclass-linux-armv7 arm 7 armhf"
	"edgeclass-linux-amd64 amd64 - amd64"
)
for t in "${targets[@]}"; do
	read -r name goarch goarm debarch <<<"$t"
	[ "$goarm" = - ] && goarm=
	echo "  $name"
	CGO_ENABLED=0 GOOS=linux GOARCH=$goarch GOARM=$goarm \
		$GO build -trimpath -ldflags "$LDFLAGS" -o "$DIST/$name" ./cmd/edgeclass
	echo "  $("$tools/mkdeb" --binary "$DIST/$name" --arch "$debarch" "${deb_args[@]}")"
done

# GoCV builds link the target's OpenCV through cgo, so they need a C++
# cross compiler and OpenCV's development files for that architecture. On
# Debian (multiarch), for arm64:
#   dpkg --add-architecture arm64 && apt-get update
#   apt-get install g++-aarch64-linux-gnu libopencv-dev:arm64
# (armhf: g++-arm-linux-gnueabihf libopencv-dev:armhf; amd64 on an amd64
# host: g++ libopencv-dev). A target without them is skipped.
# name goarch goarm compiler-prefix multiarch-triplet
gocv_targets=(
	"edgeclass-gocv-linux-arm64 arm64 - aarch64-linux-gnu aarch64-linux-gnu"
	"edgeclass-gocv-linux-armv7 arm 7 arm-linux-gnueabihf arm-linux-gnueabihf"
	"edgeclass-gocv-linux-amd64 amd64 - x86_64-linux-gnu x86_64-linux-gnu"
)
for t in "${gocv_targets[@]}"; do
	read -r name goarch goarm prefix triplet <<<"$t"
	[ "$goarm" = - ] && goarm=
	cc=$prefix-gcc cxx=$prefix-g++
	# The native compiler usually has no triplet prefix.
	if [ "$goarch" = "$($GO env GOHOSTARCH)" ] && ! command -v "$cxx" >/dev/null; then cc=gcc cxx=g++; fi
	pcdir=/usr/lib/$triplet/pkgconfig:/usr/share/pkgconfig
	if ! command -v "$cxx" >/dev/null; then
		echo "  $name: skipped, no C++ cross compiler $cxx (apt-get install g++-$prefix)"
		continue
	fi
	if ! PKG_CONFIG_LIBDIR=$pcdir pkg-config --exists opencv4 2>/dev/null; then
		echo "  $name: skipped, no OpenCV for $triplet (dpkg --add-architecture, then apt-get install libopencv-dev:<arch>)"
		continue
	fi
	echo "  $name"
	CGO_ENABLED=1 GOOS=linux GOARCH=$goarch GOARM=$goarm CC=$cc CXX=$cxx PKG_CONFIG_LIBDIR=$pcdir \
		$GO build -tags gocv -trimpath -ldflags "$LDFLAGS" -o "$DIST/$name" ./cmd/edgeclass
done

(cd "$DIST" && sha256sum -- edgeclass-* *.deb >SHA256SUMS)
echo "  SHA256SUMS"
