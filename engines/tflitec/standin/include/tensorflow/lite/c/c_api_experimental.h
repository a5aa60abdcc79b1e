/* Stand-in header written for edgeclass's tests (see docs/tflite-c.md): the
 * experimental C API functions that github.com/mattn/go-tflite declares. */
#ifndef EDGECLASS_STANDIN_C_API_EXPERIMENTAL_H
#define EDGECLASS_STANDIN_C_API_EXPERIMENTAL_H

#include "tensorflow/lite/builtin_ops.h"
#include "tensorflow/lite/c/c_api.h"

#ifdef __cplusplus
extern "C" {
#endif

TFL_CAPI_EXPORT TfLiteStatus TfLiteInterpreterResetVariableTensors(TfLiteInterpreter* interpreter);
TFL_CAPI_EXPORT void TfLiteInterpreterOptionsAddBuiltinOp(TfLiteInterpreterOptions* options,
                                                          TfLiteBuiltinOperator op,
                                                          const TfLiteRegistration* registration,
                                                          int32_t min_version, int32_t max_version);
TFL_CAPI_EXPORT void TfLiteInterpreterOptionsAddCustomOp(TfLiteInterpreterOptions* options,
                                                         const char* name,
                                                         const TfLiteRegistration* registration,
                                                         int32_t min_version, int32_t max_version);
TFL_CAPI_EXPORT void TfLiteInterpreterOptionsSetUseNNAPI(TfLiteInterpreterOptions* options,
                                                         bool enable);

#ifdef __cplusplus
}
#endif
#endif
