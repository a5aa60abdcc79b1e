//go:build tflitec && cgo

// C helpers of the TensorFlow Lite C backend: a working error reporter,
// delegates loaded at run time with dlopen, and a delegate that reads the
// execution plan.
#ifndef EDGECLASS_TFLITEC_CAPI_H
#define EDGECLASS_TFLITEC_CAPI_H

#include <stddef.h>

#include "tensorflow/lite/c/c_api.h"
#include "tensorflow/lite/c/common.h"

// A reporter collects the runtime's error messages, formatted with
// vsnprintf (go-tflite's own reporter hands a va_list to asprintf, which
// prints garbage).
typedef struct ec_reporter ec_reporter;
ec_reporter* ec_reporter_new(void);
void ec_reporter_free(ec_reporter* r);
void ec_reporter_attach(ec_reporter* r, TfLiteInterpreterOptions* options);
// ec_reporter_take returns the messages since the last call (malloc'd, may
// be empty) and clears them.
char* ec_reporter_take(ec_reporter* r);

// dlopen/dlsym with their errors copied out.
void* ec_dlopen(const char* name, char* err, size_t errlen);
// ec_dlsym looks name up in handle, or in the whole process when handle is
// NULL.
void* ec_dlsym(void* handle, const char* name);
// ec_dlpath names the file that holds address p.
const char* ec_dlpath(void* p);

// Delegate constructors called through pointers found with ec_dlsym.
TfLiteDelegate* ec_xnnpack_create(void* create, void* defaults, int threads);
int ec_xnnpack_has_options(void);
TfLiteDelegate* ec_gpu_create(void* create);
void ec_delegate_delete(void* del, TfLiteDelegate* d);
// ec_edgetpu_devices copies up to cap devices' types (0 PCI, 1 USB) and
// paths (malloc'd) out and returns how many there are.
size_t ec_edgetpu_devices(void* list, void* free_list, int* types, char** paths, size_t cap);
TfLiteDelegate* ec_edgetpu_create(void* create, int type, const char* path);
const char* ec_edgetpu_version(void* version);

// The inspector is a delegate that replaces nothing: added after the real
// one, its Prepare sees the execution plan that delegate left and counts the
// nodes that are delegate kernels.
typedef struct ec_plan {
  int ok;       // the plan was read
  int nodes;    // nodes in the plan
  int kernels;  // of which delegate kernels
  char names[512]; // their kernels' names, comma-separated
} ec_plan;
TfLiteDelegate* ec_inspector_new(ec_plan* plan);
void ec_inspector_free(TfLiteDelegate* d);

#endif
