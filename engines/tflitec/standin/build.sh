#!/bin/sh
# Builds the TensorFlow Lite C library stand-in for edgeclass's tests into
# OUTDIR/lib: libtensorflowlite_c.so (with the XNNPACK delegate's functions),
# libtensorflowlite_gpu_delegate.so, libedgetpu.so.1 and the model server
# they start. Headers: OUTDIR is used with -I<this folder>/include.
# See docs/tflite-c.md for what it proves and what it cannot.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
out=${1:?usage: build.sh OUTDIR}
mkdir -p "$out/lib"
lib=$(cd "$out/lib" && pwd)
cc=${CC:-cc}
flags="-std=gnu11 -O2 -g -fPIC -fvisibility=hidden -Wall -Wextra -Werror -I$here/include"
$cc $flags -shared -DSTANDIN_XNNPACK -Wl,-soname,libtensorflowlite_c.so \
	-o "$lib/libtensorflowlite_c.so" "$here/runtime.c" "$here/delegates.c"
$cc $flags -shared -DSTANDIN_GPU -o "$lib/libtensorflowlite_gpu_delegate.so" "$here/delegates.c"
$cc $flags -shared -DSTANDIN_EDGETPU -Wl,-soname,libedgetpu.so.1 \
	-o "$lib/libedgetpu.so.1" "$here/delegates.c"
(cd "$here" && CGO_ENABLED=0 ${GO:-go} build -o "$lib/tflite-standin-server" ./server)
