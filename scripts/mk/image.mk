# SD-card image for the Raspberry Pi 3 / 4 / Zero 2 W (issue 8).
#   GOARCH=arm64 make image   -> bin/camerad-arm64.img
#   make image-test           -> builds it, checks its layout, boots it in qemu, plays its stream
#   make image-run            -> builds it and boots it in qemu's Raspberry Pi 3 B model, its
#                                console here and its stream on rtsp://127.0.0.1:8554/stream
# Debian inputs are cached in .cache/image (pinned in scripts/image/packages.lock).

IMAGE       ?= bin/camerad-arm64.img
IMAGE_CACHE ?= .cache/image

# image-run: IMAGE_MACHINE=virt boots qemu's generic arm64 board instead; IMAGE_RUN_PORT is the
# host port the camera's RTSP port 554 is forwarded to.
IMAGE_MACHINE  ?= pi3b
IMAGE_RUN_PORT ?= 8554

.PHONY: image image-inputs image-test image-run

image-inputs:
	@scripts/image/fetch.sh $(IMAGE_CACHE)

image:
	@if [ "$(GOARCH)" != "arm64" ]; then \
		echo "make image: GOARCH=$(GOARCH) is not supported; the image is for 64-bit Raspberry Pi 3, 4 and Zero 2 W: run GOARCH=arm64 make image" >&2; \
		exit 1; \
	fi
	@scripts/image/fetch.sh $(IMAGE_CACHE)
	@GOOS=linux GOARCH=arm64 scripts/build.sh bin/linux_arm64
	GOOS= GOARCH= $(GO) run ./scripts/mkimage build -inputs $(IMAGE_CACHE)/root \
		-camerad bin/linux_arm64/camerad -out $(IMAGE)
	GOOS= GOARCH= $(GO) run ./scripts/mkimage check -image $(IMAGE)

image-test:
	@GOARCH=arm64 $(MAKE) --no-print-directory image
	@scripts/image/qemu-test.sh $(IMAGE)

image-run:
	@GOARCH=arm64 $(MAKE) --no-print-directory image
	@IMAGE=$(IMAGE) PORT=$(IMAGE_RUN_PORT) scripts/image/run.sh $(IMAGE_MACHINE)

TEST_TARGETS += image-test
