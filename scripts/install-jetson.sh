#!/usr/bin/env bash
# Install the edgeclass agent on an NVIDIA Jetson (JetPack 5/6, Ubuntu) or
# any Debian/Ubuntu machine: the package, optionally a device bundle from
# 'edgeclass enroll' and a GoCV build of the binary, then the service.
#
#   sudo scripts/install-jetson.sh edgeclass_VERSION_arm64.deb [--bundle DIR] [--gocv-binary FILE]
#
# The package's binary is pure Go: it reads test patterns, files and MJPEG
# HTTP streams. The CSI camera (nvarguscamerasrc) needs a GoCV build
# (edgeclass-gocv-linux-arm64 from 'make dist' on a machine with the arm64
# OpenCV, see scripts/README.md); --gocv-binary installs it beside the
# package and points the service at it.
set -euo pipefail

usage() { echo "usage: sudo $0 edgeclass_VERSION_arm64.deb [--bundle DIR] [--gocv-binary FILE]" >&2; exit 2; }

deb="" bundle="" gocv=""
while [ $# -gt 0 ]; do
	case "$1" in
	--bundle) bundle=${2:?--bundle needs a folder}; shift 2 ;;
	--gocv-binary) gocv=${2:?--gocv-binary needs a file}; shift 2 ;;
	-h | --help) usage ;;
	-*) echo "unknown option $1" >&2; usage ;;
	*) [ -z "$deb" ] || usage; deb=$1; shift ;;
	esac
done
[ -n "$deb" ] || usage
[ -f "$deb" ] || { echo "no such package: $deb" >&2; exit 1; }
[ "$(id -u)" = 0 ] || { echo "run as root (sudo)" >&2; exit 1; }
if [ -n "$bundle" ] && [ ! -f "$bundle/agent.yaml" ]; then
	echo "$bundle is not a device bundle (no agent.yaml); make one with 'edgeclass enroll'" >&2
	exit 1
fi
if [ ! -f /etc/nv_tegra_release ]; then
	echo "note: /etc/nv_tegra_release is missing: not a Jetson; installing anyway" >&2
fi

# The identity goes in first, so the package keeps it as the configuration.
if [ -n "$bundle" ]; then
	install -d -m 0755 /etc/edgeclass
	cp -R "$bundle/." /etc/edgeclass/
	echo "device identity installed in /etc/edgeclass"
fi

# apt resolves the dependencies; dpkg alone where apt cannot (offline).
deb_path=$(cd "$(dirname "$deb")" && pwd)/$(basename "$deb")
if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -o Dpkg::Options::=--force-confold "$deb_path" 2>/dev/null; then
	DEBIAN_FRONTEND=noninteractive dpkg --force-confdef --force-confold -i "$deb_path"
fi
chown -R root:edgeclass /etc/edgeclass
find /etc/edgeclass -type d -exec chmod 0750 {} +
find /etc/edgeclass -type f -exec chmod 0640 {} +

# Jetson specifics, as a drop-in so package upgrades keep them: Argus
# (nvarguscamerasrc) talks to nvargus-daemon through a socket in /tmp, and
# the GPU and codec devices belong to the video and render groups.
dropin=/etc/systemd/system/edgeclass.service.d
install -d "$dropin"
{
	echo "# Written by install-jetson.sh."
	echo "[Service]"
	echo "PrivateTmp=false"
	if getent group render >/dev/null; then echo "SupplementaryGroups=video render"; fi
} >"$dropin/jetson.conf"
if [ -n "$gocv" ]; then
	install -m 0755 "$gocv" /usr/local/bin/edgeclass-gocv
	printf '# Written by install-jetson.sh: the GoCV build, for GStreamer and V4L2 sources.\n[Service]\nExecStart=\nExecStart=/usr/local/bin/edgeclass-gocv agent --config /etc/edgeclass/agent.yaml\n' >"$dropin/gocv.conf"
	echo "GoCV build installed as /usr/local/bin/edgeclass-gocv"
fi

if [ -d /run/systemd/system ]; then
	systemctl daemon-reload
	systemctl enable edgeclass.service
	systemctl restart edgeclass.service
	state=$(systemctl is-active edgeclass.service || true)
else
	state="not started (no systemd running here)"
fi

cat <<MSG

edgeclass $(dpkg-query -W -f '${Version}' edgeclass) is installed; the service is $state.

Next steps:
  journalctl -u edgeclass -f                # the agent's log
  curl -s localhost:8080/healthz            # health (status page: http://$(hostname):8080/)
  sudoedit /etc/edgeclass/agent.yaml        # configuration, then: sudo systemctl restart edgeclass

CSI camera on a Jetson (GoCV build, --gocv-binary), in /etc/edgeclass/agent.yaml:
  source: "gst:nvarguscamerasrc sensor-id=0 ! video/x-raw(memory:NVMM),width=1280,height=720,framerate=30/1 ! nvvidconv ! video/x-raw,format=BGRx ! videoconvert ! video/x-raw,format=BGR ! appsink drop=true max-buffers=1 sync=false"
USB camera: source: v4l2:0 (GoCV build), or an MJPEG stream: source: http://HOST:PORT/stream (any build).
MSG
