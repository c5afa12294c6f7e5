# v4l2-test: the device package's capture tests against a real kernel (Debian's amd64 kernel
# in qemu with the vivid driver). Skips with a message when qemu-system-x86_64 is missing.
.PHONY: v4l2-test
v4l2-test:
	GOOS= GOARCH= scripts/v4l2test/run.sh

TEST_TARGETS += v4l2-test
