package mqtt

import (
	"encoding/json"
	"fmt"
	"testing"
	"time"

	paho "github.com/eclipse/paho.mqtt.golang"
)

// BenchmarkPublisher measures events/s through the publisher (outbox with
// fsync, then the broker; QoS 1 counts an event when its PUBACK came back,
// QoS 0 when it was written) to each broker, and the same payloads sent
// by a bare paho client with the same QoS and window in the same run: the
// ratio is what the outbox costs.
func BenchmarkPublisher(b *testing.B) {
	brokers := map[string]func(testing.TB) testBroker{
		"mochi":     func(t testing.TB) testBroker { return startMochi(t, brokerOpts{}) },
		"mosquitto": func(t testing.TB) testBroker { return startMosquitto(t, brokerOpts{}) },
	}
	for _, name := range []string{"mochi", "mosquitto"} {
		b.Run(name, func(b *testing.B) {
			br := brokers[name](b)
			for _, qos := range []int{0, 1} {
				b.Run(fmt.Sprintf("qos%d/publisher", qos), func(b *testing.B) { benchPublisher(b, br.URL(), qos) })
				b.Run(fmt.Sprintf("qos%d/paho", qos), func(b *testing.B) { benchPaho(b, br.URL(), qos) })
			}
		})
	}
}

func benchPublisher(b *testing.B, url string, qos int) {
	cfg := testConfig(url, "bench", b.TempDir())
	cfg.QoS = qos
	cfg.Outbox = OutboxLimits{MaxEvents: 1 << 20, MaxBytes: 1 << 30} // no drops: each event must go out
	p, err := NewPublisher(cfg, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	waitFor(b, 5*time.Second, "connected", func() bool { ok, _ := p.Connected(); return ok })
	ev := testEvent(1)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ev.Frame = uint64(i)
		if err := p.PublishEvent(ev); err != nil {
			b.Fatal(err)
		}
	}
	for p.Counts().Pending > 0 {
		time.Sleep(100 * time.Microsecond)
	}
	b.StopTimer()
	if n := p.Counts(); n.Dropped > 0 || n.Delivered != uint64(b.N) {
		b.Fatalf("%d of %d events delivered, %d dropped", n.Delivered, b.N, n.Dropped)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}

func benchPaho(b *testing.B, url string, qos int) {
	opts, err := ConnConfig{Broker: url}.ClientOptions(fmt.Sprintf("bench-paho-%d", time.Now().UnixNano()))
	if err != nil {
		b.Fatal(err)
	}
	c := paho.NewClient(opts)
	if tok := c.Connect(); tok.Wait() && tok.Error() != nil {
		b.Fatal(tok.Error())
	}
	defer c.Disconnect(100)
	ev := testEvent(1)
	ev.Schema, ev.Device, ev.Seq = EventSchema, "bench", 1
	window := make(chan paho.Token, DefaultConfig().InFlight)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ev.Frame = uint64(i)
		payload, _ := json.Marshal(ev)
		if len(window) == cap(window) {
			if tok := <-window; tok.Wait() && tok.Error() != nil {
				b.Fatal(tok.Error())
			}
		}
		window <- c.Publish("edgeclass/bench/events", byte(qos), false, payload)
	}
	for len(window) > 0 {
		if tok := <-window; tok.Wait() && tok.Error() != nil {
			b.Fatal(tok.Error())
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "events/s")
}
