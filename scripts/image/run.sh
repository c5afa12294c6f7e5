#!/usr/bin/env bash
# run.sh [pi3b|pi02w|virt]: boots the SD-card image in qemu with its console on this terminal and
# the camera's RTSP port (554) forwarded to 127.0.0.1:$PORT (default 8554), so that its stream
# can be watched from here as from a LAN: make image-run. The machines (qemu's Raspberry Pi 3 B
# model by default) are described in qemu-machine.sh.
#
# Each run boots a fresh copy of the image, as if just flashed: camera.yml as it is in the
# image (edit it there with mtools first to try settings), nothing kept from earlier runs.
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/image/qemu-machine.sh

machine="${1:-pi3b}"
img="${IMAGE:-bin/camerad-arm64.img}"
port="${PORT:-8554}"
fail() { echo "image-run: $*" >&2; exit 1; }
case "$machine" in pi3b | pi02w | virt) ;; *) fail "unknown machine \"$machine\": pi3b, pi02w or virt" ;; esac
command -v qemu-system-aarch64 >/dev/null || fail "qemu-system-aarch64 not installed (apt-get install qemu-system-arm)"
[ -f "$img" ] || fail "$img missing: run GOARCH=arm64 make image"

work=.cache/image-run
rm -rf "$work"
mkdir -p "$work"
GOOS= GOARCH= go run ./scripts/mkimage check -image "$img" -extract "$work/boot"
qemu_disk "$machine" "$img" "$work/card.img"
qemu_args "$machine" "$work/boot" "$work/card.img" mon:stdio "$(qemu_cmdline "$machine" "$work/boot")" \
	",hostfwd=tcp:127.0.0.1:$port-:554"
cat >&2 <<MSG
image-run: booting $img on qemu's $machine; its serial console follows. Ctrl-A X quits.
image-run: once it logs "msg=serving", watch it over TCP (qemu's user network forwards TCP only):
image-run:   ffplay -rtsp_transport tcp rtsp://127.0.0.1:$port/stream
MSG
exec qemu-system-aarch64 "${QEMU_ARGS[@]}"
