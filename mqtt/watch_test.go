package mqtt

import (
	"context"
	"strings"
	"testing"
	"time"
)

func TestWatch(t *testing.T) {
	eachBroker(t, brokerOpts{}, func(t *testing.T, b testBroker) {
		out := &syncBuffer{}
		raw := newConsumer(t, ConnConfig{Broker: b.URL()}, "cam-7", KindEvents)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- Watch(ctx, WatchConfig{ConnConfig: ConnConfig{Broker: b.URL()}, Label: "tabby"}, out) }()

		p, err := NewPublisher(testConfig(b.URL(), "cam-7", t.TempDir()), nil)
		if err != nil {
			t.Fatal(err)
		}
		waitFor(t, 5*time.Second, "watch sees the device online", func() bool { return strings.Contains(out.String(), "cam-7 is online") })
		ev := testEvent(5)
		p.PublishEvent(ev)
		other := testEvent(6)
		other.Label = "dog"
		p.PublishEvent(other) // filtered out by --label
		ev = testEvent(7)
		ev.Confident, ev.Changed, ev.Previous, ev.Reason = false, true, "tabby", ReasonChange
		p.PublishEvent(ev)
		waitFor(t, 5*time.Second, "two event lines", func() bool { return strings.Count(out.String(), "cam-7 #") == 2 })

		// A repeat (same seq) and a malformed event, sent by hand.
		waitFor(t, 5*time.Second, "the raw consumer sees the events", func() bool { return len(raw.received(KindEvents)) == 3 })
		repeat := raw.received(KindEvents)[0]
		for _, payload := range [][]byte{repeat, []byte(`{"schema":"edgeclass.event/1"}`)} {
			if tok := raw.client.Publish(p.Topics().Events(), 1, false, payload); tok.Wait() && tok.Error() != nil {
				t.Fatal(tok.Error())
			}
		}
		waitFor(t, 5*time.Second, "the bad event line", func() bool { return strings.Contains(out.String(), "cam-7: bad event") })
		p.Close()
		waitFor(t, 5*time.Second, "offline", func() bool { return strings.Contains(out.String(), "cam-7 is offline") })
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}

		lines := strings.Split(strings.TrimSpace(out.String()), "\n")
		var events []string
		for _, l := range lines {
			if strings.Contains(l, " cam-7 #") {
				events = append(events, l)
			}
		}
		if len(events) != 2 ||
			!strings.HasSuffix(events[0], "cam-7 #1 tabby 0.50 first, frame 5, inference 30.0 ms") ||
			!strings.HasSuffix(events[1], "cam-7 #3 none (best tabby 0.50) change (was tabby), frame 7, inference 30.0 ms") {
			t.Fatalf("watch printed:\n%s", out.String())
		}
	})
}

func TestWatchFailsWithoutBroker(t *testing.T) {
	err := Watch(context.Background(), WatchConfig{ConnConfig: ConnConfig{Broker: "tcp://127.0.0.1:" + freePort(t)}}, &syncBuffer{})
	if err == nil || !strings.Contains(err.Error(), "127.0.0.1") {
		t.Fatalf("watch without a broker: %v", err)
	}
	if err := Watch(context.Background(), WatchConfig{ConnConfig: ConnConfig{Broker: "tcp://h:1"}, Device: "a/+"}, &syncBuffer{}); err == nil {
		t.Fatal("watch accepted a wildcard device")
	}
}

func TestReadUsers(t *testing.T) {
	users, err := ReadUsers(strings.NewReader("# devices\ncam-1:s3cret\n\nops:a:b\n"))
	if err != nil || len(users) != 2 || users["cam-1"] != "s3cret" || users["ops"] != "a:b" {
		t.Fatalf("%v %v", users, err)
	}
	for _, bad := range []string{"cam-1\n", "cam-1:\n", "a:1\na:2\n"} {
		if _, err := ReadUsers(strings.NewReader(bad)); err == nil || !strings.Contains(err.Error(), "line") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}
