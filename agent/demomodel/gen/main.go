// Command gen writes the demo model: go run ./agent/demomodel/gen OUT.tflite
package main

import (
	"fmt"
	"os"

	"github.com/edgeclass/edgeclass/agent/demomodel"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: gen OUT.tflite")
		os.Exit(2)
	}
	data, err := demomodel.Build().Marshal()
	if err == nil {
		err = os.WriteFile(os.Args[1], data, 0o644)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "gen:", err)
		os.Exit(1)
	}
}
