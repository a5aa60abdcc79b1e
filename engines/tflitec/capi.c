//go:build tflitec && cgo

#define _GNU_SOURCE
#include "capi.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tensorflow/lite/builtin_ops.h"

// The XNNPACK delegate's options struct grew over releases; with its header
// (the TensorFlow source tree on the include path) the defaults are read and
// only the thread count changed. Without it the delegate gets NULL options:
// the library's defaults, threads included.
#if defined(__has_include)
#if __has_include("tensorflow/lite/delegates/xnnpack/xnnpack_delegate.h")
#include "tensorflow/lite/delegates/xnnpack/xnnpack_delegate.h"
#define EC_XNNPACK_OPTIONS 1
#endif
#endif

struct ec_reporter {
  pthread_mutex_t mu;
  size_t len;
  char buf[8192];
};

ec_reporter* ec_reporter_new(void) {
  ec_reporter* r = calloc(1, sizeof *r);
  if (r) pthread_mutex_init(&r->mu, NULL);
  return r;
}

void ec_reporter_free(ec_reporter* r) {
  if (!r) return;
  pthread_mutex_destroy(&r->mu);
  free(r);
}

static void ec_report(void* user_data, const char* format, va_list args) {
  ec_reporter* r = user_data;
  char line[1024];
  vsnprintf(line, sizeof line, format, args);
  pthread_mutex_lock(&r->mu);
  size_t room = sizeof r->buf - r->len;
  if (room > 1) {
    int n = snprintf(r->buf + r->len, room, "%s%s", r->len ? "\n" : "", line);
    r->len += n > 0 && (size_t)n < room ? (size_t)n : room - 1;
  }
  pthread_mutex_unlock(&r->mu);
}

void ec_reporter_attach(ec_reporter* r, TfLiteInterpreterOptions* options) {
  TfLiteInterpreterOptionsSetErrorReporter(options, ec_report, r);
}

char* ec_reporter_take(ec_reporter* r) {
  pthread_mutex_lock(&r->mu);
  char* s = strndup(r->buf, r->len);
  r->len = 0;
  pthread_mutex_unlock(&r->mu);
  return s;
}

void* ec_dlopen(const char* name, char* err, size_t errlen) {
  void* h = dlopen(name, RTLD_NOW | RTLD_LOCAL);
  if (!h) snprintf(err, errlen, "%s", dlerror());
  return h;
}

void* ec_dlsym(void* handle, const char* name) {
  return dlsym(handle ? handle : RTLD_DEFAULT, name);
}

const char* ec_dlpath(void* p) {
  Dl_info info;
  return dladdr(p, &info) && info.dli_fname ? info.dli_fname : "";
}

int ec_xnnpack_has_options(void) {
#ifdef EC_XNNPACK_OPTIONS
  return 1;
#else
  return 0;
#endif
}

TfLiteDelegate* ec_xnnpack_create(void* create, void* defaults, int threads) {
#ifdef EC_XNNPACK_OPTIONS
  if (defaults) {
    TfLiteXNNPackDelegateOptions o = ((TfLiteXNNPackDelegateOptions(*)(void))defaults)();
    o.num_threads = threads;
    return ((TfLiteDelegate * (*)(const TfLiteXNNPackDelegateOptions*)) create)(&o);
  }
#else
  (void)defaults, (void)threads;
#endif
  return ((TfLiteDelegate * (*)(const void*)) create)(NULL);
}

TfLiteDelegate* ec_gpu_create(void* create) {
  return ((TfLiteDelegate * (*)(const void*)) create)(NULL);  // NULL: default options
}

void ec_delegate_delete(void* del, TfLiteDelegate* d) { ((void (*)(TfLiteDelegate*))del)(d); }

// The Edge TPU library's C interface (edgetpu_c.h), declared here so that
// building needs only the TensorFlow Lite headers.
struct ec_edgetpu_device {
  int type;
  const char* path;
};

size_t ec_edgetpu_devices(void* list, void* free_list, int* types, char** paths, size_t cap) {
  size_t n = 0;
  struct ec_edgetpu_device* devs = ((struct ec_edgetpu_device * (*)(size_t*)) list)(&n);
  for (size_t i = 0; i < n && i < cap; i++) {
    types[i] = devs[i].type;
    paths[i] = strdup(devs[i].path ? devs[i].path : "");
  }
  if (devs) ((void (*)(struct ec_edgetpu_device*))free_list)(devs);
  return n;
}

TfLiteDelegate* ec_edgetpu_create(void* create, int type, const char* path) {
  return ((TfLiteDelegate * (*)(int, const char*, const void*, size_t)) create)(type, path, NULL, 0);
}

const char* ec_edgetpu_version(void* version) { return ((const char* (*)(void))version)(); }

static TfLiteStatus ec_inspect(TfLiteContext* ctx, TfLiteDelegate* d) {
  ec_plan* p = d->data_;
  TfLiteIntArray* plan = NULL;
  if (ctx->GetExecutionPlan(ctx, &plan) != kTfLiteOk || !plan) return kTfLiteOk;
  memset(p, 0, sizeof *p);  // a later Prepare (delegates reapplied) starts over
  size_t used = 0;
  for (int i = 0; i < plan->size; i++) {
    TfLiteNode* node;
    TfLiteRegistration* reg;
    if (ctx->GetNodeAndRegistration(ctx, plan->data[i], &node, &reg) != kTfLiteOk) return kTfLiteOk;
    if (reg->builtin_code != kTfLiteBuiltinDelegate) continue;
    p->kernels++;
    const char* name = reg->custom_name ? reg->custom_name : "?";
    if (!strstr(p->names, name) && used + strlen(name) + 2 < sizeof p->names)
      used += (size_t)snprintf(p->names + used, sizeof p->names - used, "%s%s", used ? "," : "", name);
  }
  p->nodes = plan->size;
  p->ok = 1;
  return kTfLiteOk;
}

TfLiteDelegate* ec_inspector_new(ec_plan* plan) {
  TfLiteDelegate* d = calloc(1, sizeof *d);
  if (!d) return NULL;
  d->data_ = plan;
  d->Prepare = ec_inspect;
  d->flags = kTfLiteDelegateFlagsAllowDynamicTensors;
  return d;
}

void ec_inspector_free(TfLiteDelegate* d) { free(d); }
