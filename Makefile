# edgeclass: see README.md. Every target works on a fresh machine with Go;
# .ci/run installs the system packages some tests need.

GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
QEMU    ?= qemu-aarch64-static

# GoCV (camera sources over OpenCV) builds against Debian's OpenCV 4.6 module
# packages (see .ci/run) without pkg-config's libopencv-dev.
GOCV_ENV := CGO_CPPFLAGS=-I/usr/include/opencv4 CGO_LDFLAGS="-lopencv_core -lopencv_imgproc -lopencv_imgcodecs -lopencv_videoio -lopencv_highgui -lopencv_objdetect -lopencv_dnn -lopencv_features2d -lopencv_calib3d -lopencv_photo -lopencv_video -lopencv_flann"
GOCV_TAGS := gocv,customenv

# The TensorFlow Lite C backend (-tags tflitec) builds against the headers
# in engines/tflitec/standin/include; its tests run on a stand-in C library
# over our own engine (see docs/tflite-c.md).
STANDIN     := $(CURDIR)/bin/tflite-standin
TFLITEC_ENV := CGO_ENABLED=1 CGO_CFLAGS="-I$(CURDIR)/engines/tflitec/standin/include" CGO_LDFLAGS="-L$(STANDIN)/lib -Wl,-rpath,$(STANDIN)/lib"

.PHONY: all build build-gocv run test test-race test-gocv test-tflitec test-arm64 vet cross dist bench fuzz clean

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/edgeclass ./cmd/edgeclass

# The agent with OpenCV camera sources (V4L2, GStreamer, RTSP, video files).
build-gocv:
	$(GOCV_ENV) $(GO) build -tags $(GOCV_TAGS) -trimpath -ldflags '$(LDFLAGS)' -o bin/edgeclass-gocv ./cmd/edgeclass

# The main job on embedded defaults: the agent with its demo model, test
# pattern camera, embedded MQTT broker and HTTP server.
run:
	$(GO) run ./cmd/edgeclass agent

# All tests: vet, the whole suite with cgo off (the shipped configuration),
# the race detector over the concurrent code, the GoCV camera sources, then
# the engine's tests on arm64 under qemu.
test: vet
	CGO_ENABLED=0 $(GO) test -count=1 -timeout 20m ./...
	$(MAKE) test-race
	$(MAKE) test-gocv
	$(MAKE) test-tflitec
	$(MAKE) test-arm64
	$(MAKE) cross

# The race detector needs cgo. The agent, MQTT, camera and model store
# suites run whole; the compute-heavy engine and trainer ones in -short form
# (their thread pools and work queues are still exercised).
test-race:
	CGO_ENABLED=1 $(GO) test -race -count=1 -timeout 20m ./agent/... ./mqtt/... ./camera/... ./modelstore/... ./classify/... ./engines/... ./internal/... ./firmware/fleet/ ./firmware/sdnotify/
	CGO_ENABLED=1 $(GO) test -race -count=1 -short -timeout 20m ./tflite/... ./trainer/... ./quantize/...

test-gocv:
	@if [ -f /usr/include/opencv4/opencv2/core.hpp ]; then \
		$(GOCV_ENV) $(GO) vet -tags $(GOCV_TAGS) ./camera/ && \
		$(GOCV_ENV) $(GO) build -tags $(GOCV_TAGS) -o /dev/null ./cmd/edgeclass && \
		$(GOCV_ENV) $(GO) test -count=1 -tags $(GOCV_TAGS) ./camera/...; \
	elif [ "$$CI" = true ]; then echo "test-gocv: OpenCV headers are missing" >&2; exit 1; \
	else echo "test-gocv: skipped, OpenCV is not installed (see .ci/run)"; fi

vet:
	$(GO) vet ./...

test-tflitec:
	engines/tflitec/standin/build.sh $(STANDIN)
	$(TFLITEC_ENV) $(GO) vet -tags tflitec ./engines/... ./cmd/edgeclass/
	$(TFLITEC_ENV) $(GO) test -count=1 -tags tflitec ./engines/... ./cmd/edgeclass/
	$(TFLITEC_ENV) $(GO) test -count=1 -tags tflitec -run TFLiteC -v ./agent/

# The inference engine and preprocessing on arm64 (portable and NEON
# kernels), under qemu.
test-arm64:
	@if command -v $(QEMU) >/dev/null; then \
		CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) test -count=1 -short -exec $(QEMU) ./tflite/... ./camera/ ./classify/; \
	elif [ "$$CI" = true ]; then echo "test-arm64: $(QEMU) is missing" >&2; exit 1; \
	else echo "test-arm64: skipped, $(QEMU) is not installed (apt-get install qemu-user-static)"; fi

cross:
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/edgeclass-linux-arm64 ./cmd/edgeclass
	CGO_ENABLED=0 GOOS=linux GOARCH=arm GOARM=7 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/edgeclass-linux-armv7 ./cmd/edgeclass
	CGO_ENABLED=0 GOOS=linux GOARCH=amd64 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/edgeclass-linux-amd64 ./cmd/edgeclass

# Release builds for arm64, armv7 and amd64, their Debian packages and
# SHA256SUMS in dist/ (see scripts/README.md).
dist:
	VERSION=$(VERSION) GO=$(GO) scripts/dist.sh

# Speed against Google's runtime in the same run (see tflite/bench_test.go).
bench:
	$(GO) test -run '^$$' -bench 'BenchmarkVsOracle' -benchtime 1x -timeout 30m ./tflite/
	$(GO) test -run '^$$' -bench 'BenchmarkPublisher' -benchtime 3s ./mqtt/
	$(GO) test -run '^$$' -bench 'BenchmarkPipeline' -benchtime 1x ./agent/

# A short run of every fuzz target; the corpus lives in testdata/fuzz.
fuzz:
	$(GO) test -run '^$$' -fuzz FuzzLoad -fuzztime 60s -fuzzminimizetime 100x ./tflite/
	$(GO) test -run '^$$' -fuzz FuzzParseCommand -fuzztime 60s ./mqtt/
	$(GO) test -run '^$$' -fuzz FuzzMJPEGParts -fuzztime 60s ./camera/
	$(GO) test -run '^$$' -fuzz FuzzParse -fuzztime 60s ./modelpkg/
	$(GO) test -run '^$$' -fuzz FuzzQuantize -fuzztime 60s ./quantize/
	$(GO) test -run '^$$' -fuzz FuzzServingRequest -fuzztime 60s -fuzzminimizetime 100x ./agent/

clean:
	rm -rf bin
