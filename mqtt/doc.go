// Package mqtt is how an edgeclass device talks MQTT: the topics, the
// versioned JSON payloads (Event, Status, Telemetry, Command, Reply), the
// event policy that turns one classification per frame into events, the
// Publisher with its durable outbox, the command registry, the embedded
// broker (mochi-mqtt) and Watch, which prints events. README.md beside this
// file documents the topics and payloads for the people who consume them.
//
// The agent's path of an event:
//
//	policy, _ := mqtt.NewPolicy(cfg.Events)            // once
//	d := policy.Decide(frameTime, topK)                 // every frame
//	if d.Publish {
//		ev := &mqtt.Event{Frame: n, Time: mqtt.Timestamp{frameTime}, TopK: topK, Model: m, LatencyMs: lat, Ready: inferenceDone}
//		d.Fill(ev)
//		err = pub.PublishEvent(ev)                      // on disk when it returns
//	}
package mqtt
