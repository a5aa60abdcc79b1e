/* Stand-in delegates for edgeclass's tests, built into three libraries:
 *   -DSTANDIN_XNNPACK: the XNNPACK delegate's C functions, inside the
 *     stand-in libtensorflowlite_c.so (where CMake builds of the real
 *     library export them too);
 *   -DSTANDIN_GPU: libtensorflowlite_gpu_delegate.so's C functions;
 *   -DSTANDIN_EDGETPU: libedgetpu.so.1's C functions (edgetpu_c.h). Its
 *     "devices" come from $EDGETPU_STANDIN_DEVICES, a comma-separated list
 *     of usb:PATH or pci:PATH; unset or empty means none is attached.
 *
 * Each delegate claims the nodes the real one would typically take (a fixed
 * rule, below) through the runtime's delegate interface, so callers see an
 * execution plan with delegate kernels. The kernels compute nothing: the
 * stand-in runtime runs the whole graph on edgeclass's engine. The Edge TPU
 * kernels fail when invoked, since no Edge TPU is emulated. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tensorflow/lite/builtin_ops.h"
#include "tensorflow/lite/c/common.h"

typedef struct standin {
  TfLiteDelegate base; /* first, so the delegate pointer is the struct's */
  const char* kernel;  /* the custom_name of its kernels */
  int (*claims)(const TfLiteRegistration* r);
  const char* invoke_error; /* non-NULL: kernels fail with this message */
  int threads;
} standin;

static void* kernel_init(TfLiteContext* ctx, const char* buffer, size_t length) {
  (void)ctx, (void)length;
  return ((const TfLiteDelegateParams*)buffer)->delegate;
}

static TfLiteStatus kernel_invoke(TfLiteContext* ctx, TfLiteNode* node) {
  standin* s = node->user_data;
  if (!s->invoke_error) return kTfLiteOk;
  const TfLiteDelegateParams* p = node->builtin_data;
  ctx->ReportError(ctx, "%s: %s (kernel for %d nodes)", s->kernel, s->invoke_error,
                   p->nodes_to_replace->size);
  return kTfLiteError;
}

static TfLiteStatus prepare(TfLiteContext* ctx, TfLiteDelegate* d) {
  standin* s = (standin*)d;
  TfLiteIntArray* plan;
  if (ctx->GetExecutionPlan(ctx, &plan) != kTfLiteOk) return kTfLiteError;
  TfLiteIntArray* take = calloc(1, sizeof(TfLiteIntArray) + sizeof(int) * (size_t)plan->size);
  if (!take) return kTfLiteError;
  for (int i = 0; i < plan->size; i++) {
    TfLiteNode* n;
    TfLiteRegistration* r;
    if (ctx->GetNodeAndRegistration(ctx, plan->data[i], &n, &r) != kTfLiteOk) {
      free(take);
      return kTfLiteError;
    }
    if (s->claims(r)) take->data[take->size++] = plan->data[i];
  }
  TfLiteStatus st = kTfLiteOk;
  if (take->size > 0) {
    TfLiteRegistration k;
    memset(&k, 0, sizeof k);
    k.init = kernel_init;
    k.invoke = kernel_invoke;
    k.custom_name = s->kernel;
    k.version = 1;
    st = ctx->ReplaceNodeSubsetsWithDelegateKernels(ctx, k, take, d);
  }
  free(take);
  return st;
}

static standin* new_standin(const char* kernel, int (*claims)(const TfLiteRegistration*)) {
  standin* s = calloc(1, sizeof *s);
  if (!s) return NULL;
  s->base.data_ = s;
  s->base.Prepare = prepare;
  s->kernel = kernel;
  s->claims = claims;
  return s;
}

#define EXPORT __attribute__((visibility("default")))

#ifdef STANDIN_XNNPACK
#include "tensorflow/lite/delegates/xnnpack/xnnpack_delegate.h"

/* Common float and quantized operators XNNPACK handles. */
static int xnnpack_claims(const TfLiteRegistration* r) {
  switch (r->builtin_code) {
    case kTfLiteBuiltinAdd:
    case kTfLiteBuiltinAveragePool2d:
    case kTfLiteBuiltinConcatenation:
    case kTfLiteBuiltinConv2d:
    case kTfLiteBuiltinDepthwiseConv2d:
    case kTfLiteBuiltinFullyConnected:
    case kTfLiteBuiltinHardSwish:
    case kTfLiteBuiltinLogistic:
    case kTfLiteBuiltinMaxPool2d:
    case kTfLiteBuiltinMean:
    case kTfLiteBuiltinMul:
    case kTfLiteBuiltinPad:
    case kTfLiteBuiltinRelu:
    case kTfLiteBuiltinRelu6:
    case kTfLiteBuiltinReshape:
    case kTfLiteBuiltinSoftmax:
    case kTfLiteBuiltinSub:
      return 1;
  }
  return 0;
}

TfLiteXNNPackDelegateOptions TfLiteXNNPackDelegateOptionsDefault(void) {
  TfLiteXNNPackDelegateOptions o = {0, 0};
  return o;
}

TfLiteDelegate* TfLiteXNNPackDelegateCreate(const TfLiteXNNPackDelegateOptions* options) {
  standin* s = new_standin("TfLiteXNNPackDelegate", xnnpack_claims);
  if (s && options) s->threads = options->num_threads;
  return s ? &s->base : NULL;
}

void TfLiteXNNPackDelegateDelete(TfLiteDelegate* d) { free(d); }
#endif

#ifdef STANDIN_GPU
/* Every builtin operator (the real delegate's list is long). */
static int gpu_claims(const TfLiteRegistration* r) {
  return r->builtin_code != kTfLiteBuiltinCustom && r->builtin_code != kTfLiteBuiltinDelegate;
}

EXPORT TfLiteDelegate* TfLiteGpuDelegateV2Create(const void* options) {
  (void)options; /* NULL selects the defaults */
  standin* s = new_standin("TfLiteGpuDelegateV2", gpu_claims);
  return s ? &s->base : NULL;
}

EXPORT void TfLiteGpuDelegateV2Delete(TfLiteDelegate* d) { free(d); }
#endif

#ifdef STANDIN_EDGETPU
enum edgetpu_device_type { EDGETPU_APEX_PCI = 0, EDGETPU_APEX_USB = 1 };

struct edgetpu_device {
  enum edgetpu_device_type type;
  const char* path;
};

struct edgetpu_option {
  const char* name;
  const char* value;
};

/* What edgetpu_compiler emits for the part of a model it maps to the chip. */
static int edgetpu_claims(const TfLiteRegistration* r) {
  return r->builtin_code == kTfLiteBuiltinCustom && r->custom_name &&
         strcmp(r->custom_name, "edgetpu-custom-op") == 0;
}

/* Parses $EDGETPU_STANDIN_DEVICES into one allocation, paths after the
 * array (freed with one free). */
EXPORT struct edgetpu_device* edgetpu_list_devices(size_t* num_devices) {
  *num_devices = 0;
  const char* env = getenv("EDGETPU_STANDIN_DEVICES");
  if (!env || !*env) return NULL;
  size_t n = 1;
  for (const char* p = env; *p; p++) n += *p == ',';
  struct edgetpu_device* devs = calloc(1, n * sizeof *devs + strlen(env) + 1);
  if (!devs) return NULL;
  char* paths = (char*)(devs + n);
  strcpy(paths, env);
  for (char* item = strtok(paths, ","); item; item = strtok(NULL, ",")) {
    enum edgetpu_device_type type;
    if (strncmp(item, "usb:", 4) == 0) {
      type = EDGETPU_APEX_USB;
    } else if (strncmp(item, "pci:", 4) == 0) {
      type = EDGETPU_APEX_PCI;
    } else {
      continue;
    }
    devs[*num_devices].type = type;
    devs[*num_devices].path = item + 4;
    (*num_devices)++;
  }
  if (*num_devices == 0) {
    free(devs);
    return NULL;
  }
  return devs;
}

EXPORT void edgetpu_free_devices(struct edgetpu_device* devs) { free(devs); }

EXPORT TfLiteDelegate* edgetpu_create_delegate(enum edgetpu_device_type type, const char* name,
                                               const struct edgetpu_option* options,
                                               size_t num_options) {
  (void)options, (void)num_options;
  size_t n;
  struct edgetpu_device* devs = edgetpu_list_devices(&n);
  int found = 0;
  for (size_t i = 0; i < n; i++)
    if (devs[i].type == type && (!name || strcmp(devs[i].path, name) == 0)) found = 1;
  edgetpu_free_devices(devs);
  if (!found) return NULL;
  standin* s = new_standin("EdgeTpuDelegateForCustomOp", edgetpu_claims);
  if (!s) return NULL;
  s->invoke_error = "no Edge TPU is emulated by the stand-in";
  return &s->base;
}

EXPORT void edgetpu_free_delegate(TfLiteDelegate* d) { free(d); }

EXPORT void edgetpu_verbosity(int verbosity) { (void)verbosity; }

EXPORT const char* edgetpu_version(void) { return "edgeclass stand-in, RuntimeVersion(0)"; }
#endif
