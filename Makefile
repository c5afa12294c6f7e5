# camerad build entry points. Area-specific targets (image, v4l2-test, ...) live in
# scripts/mk/*.mk so each stays next to the scripts it drives.

GO      ?= go
GOOS    ?= $(shell $(GO) env GOOS)
GOARCH  ?= $(shell $(GO) env GOARCH)
BIN     := bin/$(GOOS)_$(GOARCH)
LISTEN  ?= :8554
# MDNS: make run announces on the LAN only when asked (MDNS=true); the camera image always does.
MDNS    ?= false
# ONVIF_LISTEN: make run answers ONVIF NVRs (HTTP there, WS-Discovery on the LAN) only when
# asked, e.g. ONVIF_LISTEN=:8899; camerad itself and the image have it on.
ONVIF_LISTEN ?=

export GOOS GOARCH

.PHONY: all build run test unit allocs bench load vet cross-check clean

all: build

# build: camerad and rtspsim for GOOS/GOARCH (cross builds: GOARCH=arm64 make build).
build:
	@scripts/build.sh $(BIN)

# run: camerad on its embedded default source, serving rtsp://127.0.0.1:8554/stream. Built,
# then exec'd rather than "go run": Ctrl-C then reaches camerad alone, which shuts down and
# exits 0, and make reports no error.
run:
	@GOOS= GOARCH= scripts/build.sh bin/run camerad
	exec bin/run/camerad -listen $(LISTEN) -mdns=$(MDNS) -onvif-listen='$(ONVIF_LISTEN)'

# unit: unit, in-process end-to-end and interop tests (interop skips when a player is missing).
unit:
	GOOS= GOARCH= $(GO) test -race -count=1 -p 1 -timeout 30m ./...

# allocs: the zero-allocation tests, without -race (it makes sync.Pool drop items at random,
# so allocation counts mean nothing under it; those tests skip there).
allocs:
	GOOS= GOARCH= $(GO) test -count=1 -run 'Allocat' ./...

vet:
	GOOS= GOARCH= $(GO) vet ./...

# bench: micro-benchmarks (packetizer vs pion, fan-out vs gortsplib, test source, ...) and
# the 100-viewer load test over UDP and TCP. Figures are ratios to peers run side by side:
# scripts/benchratio prints camerad's against each peer's, with the issue's targets. The
# one-viewer fan-out cases are the noisiest on a VM (a fifth from run to run, more when the
# host steals time), so they run twice more; benchratio averages all three.
bench:
	@mkdir -p bin
	GOOS= GOARCH= bash -o pipefail -c '$(GO) test -run "^$$" -bench . -benchmem -count 1 ./... | tee bin/bench.txt'
	GOOS= GOARCH= bash -o pipefail -c '$(GO) test -run "^$$" -bench "Fanout/(udp|tcp)/viewers=1$$" -count 2 ./rtspsrv/ | tee -a bin/bench.txt'
	GOOS= GOARCH= $(GO) run ./scripts/benchratio bin/bench.txt
	$(MAKE) load

# load: camerad with 100 viewers (rtspsim) on a 4 Mbit/s 720p clip for 30 s, per transport;
# then on the test source, which makes keyframes on demand (a file source can only skip ahead
# to its next one, which it does for a viewer that is alone). MEDIAMTX=<path of a mediamtx
# binary> also measures mediamtx on the same clip, side by side; GST_RTSP_SERVER=1 also
# gst-rtsp-server (python3-gi, gir1.2-gst-rtsp-server-1.0).
MEDIAMTX ?=
GST_RTSP_SERVER ?=
LOAD_PEERS = $(if $(MEDIAMTX),-mediamtx $(MEDIAMTX)) $(if $(GST_RTSP_SERVER),-gst-rtsp-server)
load:
	GOOS= GOARCH= $(GO) run ./scripts/loadtest -n 100 -transport udp -duration 30s $(LOAD_PEERS)
	GOOS= GOARCH= $(GO) run ./scripts/loadtest -n 100 -transport tcp -duration 30s $(LOAD_PEERS)
	GOOS= GOARCH= $(GO) run ./scripts/loadtest -n 100 -transport udp -duration 30s -source testsrc

# cross-check: the arm64 build is static (what the image ships).
cross-check:
	GOARCH=arm64 scripts/build.sh bin/linux_arm64
	GOOS= GOARCH= $(GO) run ./scripts/elfcheck -arch arm64 bin/linux_arm64/camerad bin/linux_arm64/rtspsim

clean:
	rm -rf bin

include $(wildcard scripts/mk/*.mk)

# test: everything CI runs; each mk fragment adds its targets to TEST_TARGETS.
test: vet unit allocs cross-check $(TEST_TARGETS)
