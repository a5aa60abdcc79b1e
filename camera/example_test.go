package camera_test

import (
	"context"
	"fmt"

	"github.com/edgeclass/edgeclass/camera"
)

func ExampleOpen() {
	src, err := camera.Open("testpattern", camera.Options{FPS: 10, Width: 320, Height: 240})
	if err != nil {
		panic(err)
	}
	defer src.Close()
	f, err := src.Next(context.Background())
	if err != nil {
		panic(err)
	}
	fmt.Println(f.Label, f.Image.Bounds(), src.Stats().Connected)
	// Output: red (0,0)-(320,240) true
}
