# camerad build entry points. Area-specific targets (image, v4l2-test, ...) live in
# scripts/mk/*.mk so each stays next to the scripts it drives.

GO      ?= go
GOOS    ?= $(shell $(GO) env GOOS)
GOARCH  ?= $(shell $(GO) env GOARCH)
BIN     := bin/$(GOOS)_$(GOARCH)
LISTEN  ?= :8554

export GOOS GOARCH

.PHONY: all build run test unit bench vet fuzz clean

all: build

# build: camerad and rtspsim for GOOS/GOARCH (cross builds: GOARCH=arm64 make build).
build:
	@scripts/build.sh $(BIN)

# run: camerad on its embedded default source, serving rtsp://127.0.0.1:8554/stream.
run:
	GOOS= GOARCH= $(GO) run ./cmd/camerad -listen $(LISTEN)

# unit: unit, in-process end-to-end and interop tests (interop skips when a player is missing).
unit:
	GOOS= GOARCH= $(GO) test -race -count=1 -timeout 20m ./...

vet:
	GOOS= GOARCH= $(GO) vet ./...

bench:
	GOOS= GOARCH= $(GO) test -run '^$$' -bench . -benchmem -count 1 ./...

clean:
	rm -rf bin

include $(wildcard scripts/mk/*.mk)

# test: everything CI runs; each mk fragment adds its targets to TEST_TARGETS.
test: vet unit $(TEST_TARGETS)
