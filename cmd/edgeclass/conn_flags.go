package main

import (
	"flag"
	"os"

	"github.com/edgeclass/edgeclass/mqtt"
)

// connFlags registers the flags that reach a broker, shared by the tools
// that talk to devices. The password comes from $EDGECLASS_MQTT_PASSWORD:
// on the command line it would show in ps.
func connFlags(fs *flag.FlagSet) func() mqtt.ConnConfig {
	var c mqtt.ConnConfig
	fs.StringVar(&c.Broker, "broker", "tcp://127.0.0.1:1883", "broker URL: tcp://host:port or ssl://host:port")
	fs.StringVar(&c.Username, "username", "", "MQTT username (the password comes from $EDGECLASS_MQTT_PASSWORD)")
	fs.StringVar(&c.CAFile, "ca", "", "CA file that verifies the broker (ssl://)")
	fs.StringVar(&c.CertFile, "cert", "", "client certificate for mutual TLS")
	fs.StringVar(&c.KeyFile, "key", "", "client key for mutual TLS")
	return func() mqtt.ConnConfig {
		c.Password = os.Getenv("EDGECLASS_MQTT_PASSWORD")
		return c
	}
}
