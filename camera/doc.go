// Package camera turns cameras and camera-like inputs into frames, and
// frames into a model's input tensor.
//
// A Source (made by Open from a spec string such as "testpattern",
// "dir:/photos", "http://cam/video.mjpg" or, built with -tags gocv,
// "v4l2:0" and "gst:...") captures in its own goroutine and keeps only the
// newest frame: a consumer slower than the camera gets the newest frame
// and a count of the frames it missed, never a backlog. Sources cap the
// frame rate, reconnect with exponential backoff after an outage (Stats
// shows the state), and Close stops them without leaving goroutines.
// Stream runs any Device this way, so a new kind of input only implements
// Device.
//
// InputSpec (from SpecFor) resizes and normalizes a frame into the input
// tensor exactly as the TFLite reference tools do (x/image/draw BiLinear,
// squash or centre crop); with -tags gocv, InputSpec.LoadMat does the same
// with OpenCV.
//
// Building with -tags gocv needs OpenCV 4.6 (Debian bookworm): either
// libopencv-dev, or the module packages with -tags gocv,customenv and
//
//	CGO_CPPFLAGS=-I/usr/include/opencv4
//	CGO_LDFLAGS="-lopencv_core -lopencv_imgproc -lopencv_imgcodecs -lopencv_videoio -lopencv_highgui
//	  -lopencv_objdetect -lopencv_dnn -lopencv_features2d -lopencv_calib3d -lopencv_photo
//	  -lopencv_video -lopencv_flann"
package camera
