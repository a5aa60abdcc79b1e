package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/edgeclass/edgeclass/mqtt"
)

func init() {
	register("watch", "print the classification events of devices, one line each", runWatch)
}

func runWatch(args []string) error {
	fs := newFlags("watch", "")
	var cfg mqtt.WatchConfig
	fs.StringVar(&cfg.Broker, "broker", "tcp://127.0.0.1:1883", "broker URL: tcp://host:port or ssl://host:port")
	fs.StringVar(&cfg.Device, "device", "", "watch only this device (default: all)")
	fs.StringVar(&cfg.Label, "label", "", "print only events with this label")
	fs.StringVar(&cfg.Username, "username", "", "MQTT username (the password comes from $EDGECLASS_MQTT_PASSWORD)")
	fs.StringVar(&cfg.CAFile, "ca", "", "CA file that verifies the broker (ssl://)")
	fs.StringVar(&cfg.CertFile, "cert", "", "client certificate for mutual TLS")
	fs.StringVar(&cfg.KeyFile, "key", "", "client key for mutual TLS")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		fs.Usage()
		return fmt.Errorf("unexpected arguments %q", pos)
	}
	// A password on the command line would show in ps.
	cfg.Password = os.Getenv("EDGECLASS_MQTT_PASSWORD")
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return mqtt.Watch(ctx, cfg, os.Stdout)
}
