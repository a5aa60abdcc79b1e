#!/bin/sh
# Checks the TensorFlow Lite C backend on a device (Raspberry Pi, Jetson,
# Coral): every available delegate against edgeclass's pure-Go engine on the
# golden cases, with latencies side by side. See docs/tflite-c.md.
#
#   scripts/selftest-tflite-c.sh TESTDATA [edgeclass selftest flags...]
#
# TESTDATA holds golden/ and models/ copied from the shared test data, e.g.
#   rsync -a shared/testdata/golden shared/testdata/models pi@device:edgeclass-testdata/
# The binary is $EDGECLASS if set (built with -tags tflitec), else this
# checkout is built into bin/edgeclass-tflitec (needs Go and a C compiler,
# and the library's headers where CGO_CFLAGS points).
set -eu
testdata=${1:?usage: $0 TESTDATA [edgeclass selftest flags...]}
shift

bin=${EDGECLASS:-}
if [ -z "$bin" ]; then
	root=$(cd "$(dirname "$0")/.." && pwd)
	command -v go >/dev/null || { echo "$0: no Go toolchain: set EDGECLASS to an edgeclass built with -tags tflitec" >&2; exit 2; }
	bin=$root/bin/edgeclass-tflitec
	echo "building $bin (-tags tflitec)"
	(cd "$root" && CGO_ENABLED=1 go build -tags tflitec -o "$bin" ./cmd/edgeclass)
fi

# What the dynamic loader can find (the binary links libtensorflowlite_c;
# delegates are loaded when asked for).
echo "libraries:"
for lib in libtensorflowlite_c.so libtensorflowlite_gpu_delegate.so libedgetpu.so.1; do
	where=$(ldconfig -p 2>/dev/null | awk -v l="$lib" '$1 == l { print $NF; exit }')
	echo "  $lib: ${where:-not in the loader cache (LD_LIBRARY_PATH or delegate_library may still find it)}"
done
if command -v lsusb >/dev/null && lsusb | grep -qiE '1a6e:089a|18d1:9302'; then
	echo "  Coral USB Accelerator: attached"
fi
[ -e /dev/apex_0 ] && echo "  Coral PCIe Edge TPU: /dev/apex_0"
echo

exec "$bin" selftest -testdata "$testdata" "$@"
