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
	conn := connFlags(fs)
	fs.StringVar(&cfg.Device, "device", "", "watch only this device (default: all)")
	fs.StringVar(&cfg.Label, "label", "", "print only events with this label")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		fs.Usage()
		return fmt.Errorf("unexpected arguments %q", pos)
	}
	cfg.ConnConfig = conn()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return mqtt.Watch(ctx, cfg, os.Stdout)
}
