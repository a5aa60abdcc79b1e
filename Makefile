# edgeclass: see README.md. Every target works on a fresh machine with Go;
# .ci/run installs the system packages some tests need.

GO      ?= go
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS := -s -w -X main.version=$(VERSION)
QEMU    ?= qemu-aarch64-static

.PHONY: all build run test test-arm64 vet cross bench fuzz clean

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/edgeclass ./cmd/edgeclass

# The main job on embedded defaults: the agent with its demo model, test
# pattern camera, embedded MQTT broker and HTTP server.
run:
	$(GO) run ./cmd/edgeclass agent

# All tests: vet, the whole suite with the race detector off and cgo off
# (the shipped configuration), then the engine's tests on arm64 under qemu.
test: vet
	CGO_ENABLED=0 $(GO) test -count=1 -timeout 20m ./...
	$(MAKE) test-arm64

vet:
	$(GO) vet ./...

# The inference engine on arm64 (portable and NEON kernels), under qemu.
test-arm64:
	@if command -v $(QEMU) >/dev/null; then \
		CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) test -count=1 -short -exec $(QEMU) ./tflite/...; \
	elif [ "$$CI" = true ]; then echo "test-arm64: $(QEMU) is missing" >&2; exit 1; \
	else echo "test-arm64: skipped, $(QEMU) is not installed (apt-get install qemu-user-static)"; fi

cross:
	CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/edgeclass-linux-arm64 ./cmd/edgeclass
	CGO_ENABLED=0 GOOS=linux GOARCH=arm GOARM=7 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/edgeclass-linux-armv7 ./cmd/edgeclass
	CGO_ENABLED=0 GOOS=linux GOARCH=amd64 $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/edgeclass-linux-amd64 ./cmd/edgeclass

# Speed against Google's runtime in the same run (see tflite/bench_test.go).
bench:
	$(GO) test -run '^$$' -bench 'BenchmarkVsOracle' -benchtime 1x -timeout 30m ./tflite/

# A short run of every fuzz target; the corpus lives in testdata/fuzz.
fuzz:
	$(GO) test -run '^$$' -fuzz FuzzLoad -fuzztime 60s ./tflite/

clean:
	rm -rf bin
