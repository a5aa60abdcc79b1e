//go:build !(tflitec && cgo)

package engines

import (
	"strings"
	"testing"
)

// Without -tags tflitec, asking for the C library is a clear error, whatever
// on_missing says: the binary lacks the backend, not the device a delegate.
func TestSelectTFLiteCNotBuilt(t *testing.T) {
	for _, onMissing := range []string{"error", "cpu"} {
		_, _, err := Select(Config{Backend: TFLiteC, Delegate: "xnnpack", OnMissing: onMissing}, nil)
		if err == nil || !strings.Contains(err.Error(), "built without it (build with -tags tflitec") {
			t.Fatalf("on_missing %s: %v", onMissing, err)
		}
	}
}
