//go:build !gocv

package camera

import "fmt"

func newGoCVDevice(spec string, _ Options) (Device, error) {
	return nil, fmt.Errorf("camera source %q needs OpenCV: built without GoCV; rebuild with -tags gocv", spec)
}
