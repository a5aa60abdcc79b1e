package main

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/edgeclass/edgeclass/agent"
	"github.com/edgeclass/edgeclass/firmware/sdnotify"
)

func init() {
	register("agent", "run the device agent (camera -> model -> MQTT events, HTTP)", runAgent)
}

func runAgent(args []string) error {
	cfg, err := agent.LoadConfig(args, os.LookupEnv)
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	agent.Version = version
	a, err := agent.New(cfg, log)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// Under systemd (Type=notify): ready once started, and watchdog pings
	// while the agent's state can still be read (a deadlock stops them).
	n := sdnotify.FromEnv()
	n.Ready()
	go n.RunWatchdog(ctx, func() error { a.Status(); return nil })
	defer n.Stopping()
	log.Info("agent running", "device", cfg.DeviceID, "source", cfg.Source, "broker", a.BrokerURL(),
		"http", a.HTTPAddr(), "events", "edgeclass/"+cfg.DeviceID+"/events")
	return a.Run(ctx)
}
