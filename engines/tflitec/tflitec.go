//go:build tflitec && cgo

// Package tflitec runs models on the TensorFlow Lite C library
// (libtensorflowlite_c) through github.com/mattn/go-tflite, optionally with a
// delegate: XNNPACK, the GPU delegate or a Coral Edge TPU. Delegates are
// loaded at run time (dlopen), so a binary built with -tags tflitec starts on
// devices that lack them and says what is missing.
//
// An Engine hands out *tflite.Tensor values over the library's own tensor
// memory, so classify and the agent use it like the pure-Go interpreter.
// Tests run against a stand-in for the library built from this repository
// (./standin); docs/tflite-c.md says what that proves and what it cannot.
package tflitec

/*
#cgo LDFLAGS: -ltensorflowlite_c -ldl
#include <stdlib.h>
#include "capi.h"
*/
import "C"

import (
	"errors"
	"fmt"
	"reflect"
	"strconv"
	"strings"
	"unsafe"

	gotflite "github.com/mattn/go-tflite"

	"github.com/edgeclass/edgeclass/tflite"
)

// Delegates by name.
const (
	None    = "none"
	XNNPACK = "xnnpack"
	GPU     = "gpu"
	EdgeTPU = "edgetpu"
)

// Options choose the delegate.
type Options struct {
	// Delegate is none (or ""), xnnpack, gpu or edgetpu.
	Delegate string
	// DelegateThreads is the XNNPACK delegate's thread count; 0 uses the
	// engine's.
	DelegateThreads int
	// EdgeTPUDevice picks the Edge TPU: "" (the first found), usb, usb:N,
	// pci, pci:N or :N (the Nth of any kind).
	EdgeTPUDevice string
	// DelegateLibrary is the file to load the delegate from; "" searches
	// the library itself and the usual file names.
	DelegateLibrary string
}

// UnavailableError says that the requested delegate cannot be used on this
// device (its library or its hardware is missing).
type UnavailableError struct {
	Delegate string
	Reason   string
}

func (e *UnavailableError) Error() string {
	return fmt.Sprintf("delegate %s is not available: %s", e.Delegate, e.Reason)
}

// delegateLib says where a delegate's C functions live and what its
// constructor and destructor are called.
type delegateLib struct {
	files           []string // "" is the process itself (libtensorflowlite_c)
	create, destroy string
}

var delegateLibs = map[string]delegateLib{
	XNNPACK: {[]string{"", "libtensorflowlite-delegate_xnnpack.so"}, "TfLiteXNNPackDelegateCreate", "TfLiteXNNPackDelegateDelete"},
	GPU:     {[]string{"", "libtensorflowlite_gpu_delegate.so"}, "TfLiteGpuDelegateV2Create", "TfLiteGpuDelegateV2Delete"},
	EdgeTPU: {[]string{"libedgetpu.so.1", "libedgetpu.so"}, "edgetpu_create_delegate", "edgetpu_free_delegate"},
}

// Backend is the C library with its delegate resolved; it makes engines.
// Delegate libraries stay loaded for the life of the process.
type Backend struct {
	opts     Options
	version  string
	lib      string // the file holding the delegate's functions
	create   unsafe.Pointer
	destroy  unsafe.Pointer
	defaults unsafe.Pointer // XNNPACK's options constructor, when usable
	note     string         // what the caller should know about the delegate's setup
	tpu      edgeTPU
}

// Open checks the library and finds the delegate's functions and, for the
// Edge TPU, the device. A missing delegate is an *UnavailableError.
func Open(opts Options) (*Backend, error) {
	if opts.Delegate == "" {
		opts.Delegate = None
	}
	b := &Backend{opts: opts, version: C.GoString(C.TfLiteVersion())}
	if opts.Delegate == None {
		return b, nil
	}
	lib, ok := delegateLibs[opts.Delegate]
	if !ok {
		return nil, fmt.Errorf("unknown delegate %q (want none, xnnpack, gpu or edgetpu)", opts.Delegate)
	}
	files := lib.files
	if opts.DelegateLibrary != "" {
		files = []string{opts.DelegateLibrary}
	}
	var handle unsafe.Pointer
	var tried []string
	for _, f := range files {
		h, err := dlopen(f)
		if err != nil {
			tried = append(tried, err.Error())
			continue
		}
		if b.create = sym(h, lib.create); b.create == nil {
			tried = append(tried, fmt.Sprintf("%s has no %s", orProcess(f), lib.create))
			continue
		}
		handle = h
		break
	}
	if b.create == nil {
		return nil, &UnavailableError{opts.Delegate, strings.Join(tried, "; ")}
	}
	b.lib = C.GoString(C.ec_dlpath(b.create))
	if b.destroy = sym(handle, lib.destroy); b.destroy == nil {
		return nil, &UnavailableError{opts.Delegate, fmt.Sprintf("%s has %s but no %s", b.lib, lib.create, lib.destroy)}
	}
	switch opts.Delegate {
	case XNNPACK:
		if b.defaults = sym(handle, "TfLiteXNNPackDelegateOptionsDefault"); b.defaults == nil || C.ec_xnnpack_has_options() == 0 {
			b.defaults = nil
			b.note = "XNNPACK runs with the library's default options (threads included); build with the TensorFlow source tree on the include path to set them"
		}
	case EdgeTPU:
		if err := b.findEdgeTPU(handle); err != nil {
			return nil, err
		}
	}
	return b, nil
}

func orProcess(file string) string {
	if file == "" {
		return "the TensorFlow Lite C library"
	}
	return file
}

func dlopen(file string) (unsafe.Pointer, error) {
	if file == "" {
		return nil, nil // the process: dlsym's RTLD_DEFAULT
	}
	name := C.CString(file)
	defer C.free(unsafe.Pointer(name))
	var msg [512]C.char
	h := C.ec_dlopen(name, &msg[0], C.size_t(len(msg)))
	if h == nil {
		return nil, errors.New(C.GoString(&msg[0]))
	}
	return h, nil
}

func sym(handle unsafe.Pointer, name string) unsafe.Pointer {
	if name == "" {
		return nil
	}
	n := C.CString(name)
	defer C.free(unsafe.Pointer(n))
	return C.ec_dlsym(handle, n)
}

// findEdgeTPU lists the attached Edge TPUs and picks the configured one.
func (b *Backend) findEdgeTPU(handle unsafe.Pointer) error {
	list, free, version := sym(handle, "edgetpu_list_devices"), sym(handle, "edgetpu_free_devices"), sym(handle, "edgetpu_version")
	if list == nil || free == nil {
		return &UnavailableError{EdgeTPU, b.lib + " has no edgetpu_list_devices/edgetpu_free_devices"}
	}
	if version != nil {
		b.note = "Edge TPU runtime " + C.GoString(C.ec_edgetpu_version(version))
	}
	const max = 16
	var types [max]C.int
	var paths [max]*C.char
	n := int(C.ec_edgetpu_devices(list, free, &types[0], &paths[0], max))
	var devs []edgeTPU
	for i := 0; i < min(n, max); i++ {
		devs = append(devs, edgeTPU{int(types[i]), C.GoString(paths[i])})
		C.free(unsafe.Pointer(paths[i]))
	}
	d, err := pickEdgeTPU(devs, b.opts.EdgeTPUDevice)
	if err != nil {
		return &UnavailableError{EdgeTPU, err.Error()}
	}
	b.tpu = d
	return nil
}

type edgeTPU struct {
	kind int // 0 PCIe, 1 USB (edgetpu_c.h's edgetpu_device_type)
	path string
}

func (d edgeTPU) String() string { return [...]string{"pci", "usb"}[d.kind&1] + " " + d.path }

// pickEdgeTPU applies the device syntax of Coral's tools: "", usb, usb:N,
// pci, pci:N or :N.
func pickEdgeTPU(devs []edgeTPU, want string) (edgeTPU, error) {
	if len(devs) == 0 {
		return edgeTPU{}, errors.New("no Edge TPU found (is the accelerator attached, and may this user open it? USB needs the udev rules of libedgetpu1-std, PCIe the gasket/apex driver)")
	}
	kind, index := -1, 0
	name, num, found := strings.Cut(want, ":")
	switch name {
	case "":
	case "usb":
		kind = 1
	case "pci":
		kind = 0
	default:
		return edgeTPU{}, fmt.Errorf("edgetpu_device %q: want usb, usb:N, pci, pci:N or :N", want)
	}
	if found {
		n, err := strconv.Atoi(num)
		if err != nil || n < 0 {
			return edgeTPU{}, fmt.Errorf("edgetpu_device %q: %q is not a device number", want, num)
		}
		index = n
	}
	var match []edgeTPU
	for _, d := range devs {
		if kind < 0 || d.kind == kind {
			match = append(match, d)
		}
	}
	if index >= len(match) {
		return edgeTPU{}, fmt.Errorf("edgetpu_device %q: not among the attached Edge TPUs %v", want, devs)
	}
	return match[index], nil
}

// Version is the C library's version (TfLiteVersion).
func (b *Backend) Version() string { return b.version }

// IsStandIn reports whether the library is this repository's test stand-in.
func (b *Backend) IsStandIn() bool { return strings.Contains(b.version, "edgeclass-standin") }

// Delegate is the delegate engines get: none, xnnpack, gpu or edgetpu.
func (b *Backend) Delegate() string { return b.opts.Delegate }

// DelegateLibrary is the file the delegate's functions come from.
func (b *Backend) DelegateLibrary() string { return b.lib }

// Device is the Edge TPU in use ("usb /sys/bus/usb/devices/2-1"), or "".
func (b *Backend) Device() string {
	if b.opts.Delegate != EdgeTPU {
		return ""
	}
	return b.tpu.String()
}

// Note says what else matters about the delegate's setup (its runtime
// version, options it could not be given), or "".
func (b *Backend) Note() string { return b.note }

// newDelegate makes a delegate instance for one interpreter.
func (b *Backend) newDelegate(threads int) *C.TfLiteDelegate {
	switch b.opts.Delegate {
	case XNNPACK:
		if b.opts.DelegateThreads > 0 {
			threads = b.opts.DelegateThreads
		}
		return C.ec_xnnpack_create(b.create, b.defaults, C.int(threads))
	case GPU:
		return C.ec_gpu_create(b.create)
	case EdgeTPU:
		path := C.CString(b.tpu.path)
		defer C.free(unsafe.Pointer(path))
		return C.ec_edgetpu_create(b.create, C.int(b.tpu.kind), path)
	}
	return nil
}

// cOptions returns the C options behind go-tflite's InterpreterOptions,
// whose field is unexported, to install an error reporter that formats
// correctly.
func cOptions(o *gotflite.InterpreterOptions) (*C.TfLiteInterpreterOptions, error) {
	v := reflect.ValueOf(o).Elem().FieldByName("o")
	if !v.IsValid() || v.Kind() != reflect.Pointer || v.IsNil() {
		return nil, errors.New("github.com/mattn/go-tflite's InterpreterOptions no longer holds the C options in field o")
	}
	return (*C.TfLiteInterpreterOptions)(v.UnsafePointer()), nil
}

// cDelegate lets go-tflite add a delegate whose lifetime the Engine owns.
type cDelegate struct{ p *C.TfLiteDelegate }

func (d cDelegate) Delete()             {}
func (d cDelegate) Ptr() unsafe.Pointer { return unsafe.Pointer(d.p) }

// tensorTypes maps the C API's TfLiteType codes.
var tensorTypes = map[gotflite.TensorType]tflite.TensorType{
	1: tflite.Float32, 2: tflite.Int32, 3: tflite.Uint8, 4: tflite.Int64, 5: tflite.String,
	6: tflite.Bool, 7: tflite.Int16, 9: tflite.Int8, 10: tflite.Float16, 11: tflite.Float64,
}
