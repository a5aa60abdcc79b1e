//go:build tflitec && cgo

package agent

import (
	"testing"
	"time"

	"github.com/edgeclass/edgeclass/engines"
)

// TestAgentTFLiteC runs the agent end to end on the TensorFlow Lite C
// backend (in tests, the stand-in over our engine): events flow and the
// status names the engine.
func TestAgentTFLiteC(t *testing.T) {
	cfg := testConfig(t)
	cfg.Engine.Backend = engines.TFLiteC
	cfg.Engine.Delegate = "xnnpack"
	a := startAgent(t, cfg)
	sub := subscribe(t, a.BrokerURL(), "edgeclass/#")
	checkEvents(t, sub.wait(t, "edgeclass/test-cam/events", 2, 15*time.Second))
	st := a.Status()
	if st.Engine.Backend != engines.TFLiteC || st.Engine.Active != "xnnpack" || st.Placement == nil || st.Placement.Ops == 0 {
		t.Fatalf("status engine %+v placement %+v", st.Engine, st.Placement)
	}
	t.Logf("engine: %s; %s", st.Engine, st.Placement.Text)
}
