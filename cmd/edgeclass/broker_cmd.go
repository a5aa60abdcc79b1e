package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/edgeclass/edgeclass/mqtt"
)

func init() {
	register("broker", "run an MQTT broker (for devices and tools without one)", runBroker)
}

func runBroker(args []string) error {
	fs := newFlags("broker", "")
	var cfg mqtt.BrokerConfig
	fs.StringVar(&cfg.Addr, "listen", ":1883", "TCP address to listen on")
	fs.StringVar(&cfg.CertFile, "tls-cert", "", "server certificate (PEM); turns on TLS")
	fs.StringVar(&cfg.KeyFile, "tls-key", "", "server key (PEM)")
	fs.StringVar(&cfg.ClientCAFile, "client-ca", "", "require client certificates signed by this CA (mutual TLS)")
	usersFile := fs.String("users", "", "file of name:password lines; without it anyone may connect")
	verbose := fs.Bool("v", false, "log every connection")
	pos, err := parseInterspersed(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 0 {
		fs.Usage()
		return fmt.Errorf("unexpected arguments %q", pos)
	}
	if *usersFile != "" {
		if cfg.Users, err = mqtt.ReadUsersFile(*usersFile); err != nil {
			return err
		}
	}
	level := slog.LevelWarn
	if *verbose {
		level = slog.LevelInfo
	}
	cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	b, err := mqtt.StartBroker(cfg)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "edgeclass broker: listening on %s\n", b.URL())
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	return b.Close()
}
