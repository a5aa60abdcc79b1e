/* Stand-in header written for edgeclass's tests (see docs/tflite-c.md): the
 * XNNPACK delegate's C functions. Real versions of the options struct have
 * more fields after these; callers only set num_threads. */
#ifndef EDGECLASS_STANDIN_XNNPACK_DELEGATE_H
#define EDGECLASS_STANDIN_XNNPACK_DELEGATE_H

#include "tensorflow/lite/c/common.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct {
  int32_t num_threads;
  uint32_t flags;
} TfLiteXNNPackDelegateOptions;

TFL_CAPI_EXPORT TfLiteXNNPackDelegateOptions TfLiteXNNPackDelegateOptionsDefault(void);
TFL_CAPI_EXPORT TfLiteDelegate* TfLiteXNNPackDelegateCreate(const TfLiteXNNPackDelegateOptions* options);
TFL_CAPI_EXPORT void TfLiteXNNPackDelegateDelete(TfLiteDelegate* delegate);

#ifdef __cplusplus
}
#endif
#endif
