#!/usr/bin/env bash
# qemu-test.sh <image>: the image's hardware-free proof (make image-test).
#
#  1. rebuilds the image from the same inputs and compares bytes (reproducible);
#  2. checks its layout with independent tools: sfdisk (MBR), fsck.fat (FAT32), mtools
#     (files), cpio (initramfs), and `mkimage check` (config.txt, cmdline.txt, kernel);
#  3. boots the image's own kernel and initramfs in qemu-system-aarch64 -M virt, with the
#     image itself as a virtio disk (camera.yml edited with mtools, as a user would on a PC)
#     and virtio-net with a host port forward to the camera's RTSP port 554;
#  4. waits for camerad as PID 1 to walk through its boot steps, plays
#     rtsp://127.0.0.1:<port>/stream with ffprobe from the host, asks the VM to power off
#     on the serial console, checks the FAT partition with fsck.fat and reads camerad.log
#     back from it;
#  5. boots again and pulls the plug (kill -9 of qemu) just after PID 1's first log save:
#     the partition must be fsck-clean with no dirty bit, camerad.log the second boot's and
#     camerad-previous.log the first's;
#  6. boots it on qemu's model of the Raspberry Pi 3 B, with the Pi 3 B's device tree and then
#     the Zero 2 W's: the card on the Pi's SD controller, the serial console on the mini UART,
#     qemu's usb-net on the Pi's USB as its network; plays the stream again, asks the ONVIF
#     service for the model and the stream's address, and powers off.
# The machines are defined in qemu-machine.sh.
set -euo pipefail
cd "$(dirname "$0")/../.."
. scripts/image/qemu-machine.sh

img="${1:-bin/camerad-arm64.img}"
inputs="${IMAGE_CACHE:-.cache/image}/root"
camerad="${IMAGE_TEST_CAMERAD:-bin/linux_arm64/camerad}"
boot_timeout="${IMAGE_TEST_BOOT_TIMEOUT:-240}"
port="${IMAGE_TEST_PORT:-$((20000 + RANDOM % 20000))}"

skip() { echo "image-test: SKIP: $*" >&2; exit 0; }
fail() { echo "image-test: FAIL: $*" >&2; exit 1; }
say() { echo "image-test: $*" >&2; }

for tool in qemu-system-aarch64 ffprobe mcopy mtype sfdisk fsck.fat cpio; do
	command -v "$tool" >/dev/null ||
		skip "$tool not installed (apt-get install qemu-system-arm ffmpeg mtools fdisk dosfstools cpio)"
done
[ -f "$img" ] || fail "$img missing: run GOARCH=arm64 make image"

mkdir -p .cache
work="$(mktemp -d "$PWD/.cache/image-test.XXXXXX")"
qemu_pid=""
cat_pid=""
ntp_pid=""
cleanup() {
	[ -n "$qemu_pid" ] && kill "$qemu_pid" 2>/dev/null || true
	[ -n "$ntp_pid" ] && kill "$ntp_pid" 2>/dev/null || true
	[ -n "$cat_pid" ] && kill "$cat_pid" 2>/dev/null || true
	if [ "${IMAGE_TEST_KEEP:-}" = "" ]; then rm -rf "$work"; else say "kept $work"; fi
}
trap cleanup EXIT
start=$SECONDS

mkimage() { GOOS= GOARCH= go run ./scripts/mkimage "$@"; }

# 1. Reproducible: the same inputs give the same bytes.
mkimage build -inputs "$inputs" -camerad "$camerad" -out "$work/again.img" 2>/dev/null
cmp -s "$img" "$work/again.img" || fail "rebuilding from the same inputs gave different bytes"
rm -f "$work/again.img"
say "reproducible: rebuild is byte-identical ($(stat -c %s "$img") bytes, sha256 $(sha256sum "$img" | cut -c1-16)…)"

# 2. Layout, through tools that share no code with the builder.
mkimage check -image "$img" -extract "$work/boot"
sfdisk --dump "$img" | grep -q 'start=        8192,.*type=c, bootable' || { sfdisk --dump "$img"; fail "MBR is not one bootable FAT32-LBA partition at 4 MiB"; }
offset=$((8192 * 512))
dd if="$img" of="$work/part.img" bs=1M iflag=skip_bytes skip=$offset status=none
fsck.fat -n "$work/part.img" >"$work/fsck.log" 2>&1 || { cat "$work/fsck.log"; fail "fsck.fat found errors"; }
rm -f "$work/part.img"
export MTOOLS_SKIP_CHECK=1
listing="$(mdir -b -i "$img@@$offset" ::/)"
for f in bootcode.bin start_x.elf fixup_x.dat start4x.elf fixup4x.dat vmlinuz initrd.img config.txt \
	cmdline.txt camera.yml bcm2837-rpi-3-b.dtb bcm2837-rpi-zero-2-w.dtb bcm2711-rpi-4-b.dtb; do
	grep -qi "::/$f\$" <<<"$listing" || fail "boot partition lacks $f (mdir: $listing)"
done
zcat "$work/boot/initrd.img" | cpio -it --quiet >"$work/initrd.list" 2>/dev/null
for f in init dev/console 'lib/modules/.*/modules.dep' 'lib/modules/.*/virtio_net.ko' \
	'lib/modules/.*/bcm2835-v4l2.ko' 'lib/modules/.*/brcmfmac.ko' 'lib/firmware/brcm/brcmfmac43455-sdio.bin'; do
	grep -qx "$f" "$work/initrd.list" || fail "initramfs lacks $f"
done
say "layout ok: MBR, FAT32 (fsck clean), $(wc -l <<<"$listing") boot files, initramfs $(grep -c '\.ko$' "$work/initrd.list") modules"

# 3. Boot. The VM gets a copy of the image as its disk; camera.yml is edited the way a user
# would on a PC: the built-in test source (no camera in qemu), debug logging.
qemu_disk virt "$img" "$work/disk.img"
sed -e 's/^source: .*/source: testsrc/' -e 's/^log_level: .*/log_level: debug/' "$work/boot/camera.yml" >"$work/camera.yml"
mcopy -o -i "$work/disk.img@@$offset" "$work/camera.yml" ::/camera.yml
# A time server on the host, 36 h ahead: qemu's user network lets the VM reach the host's
# loopback as 10.0.2.2, and the jump shows the camera really stepped its clock.
ntp_port=$((port + 1))
GOOS= GOARCH= go build -o "$work/ntpserver" ./scripts/image/ntpserver
"$work/ntpserver" -listen "127.0.0.1:$ntp_port" -offset 36h 2>"$work/ntp.log" &
ntp_pid=$!
# The machine's command line from the card's cmdline.txt, plus the test switches: power off
# on "poweroff" typed on the console, or after a deadline no matter what; the test NTP server.
test_switches="camerad.test=1 camerad.poweroff_after=${boot_timeout}s camerad.ntp=10.0.2.2:$ntp_port"
console=""
# start_vm <name> <machine> <disk> [extra -netdev user options] [qemu -rtc options]: boots the
# disk image with its console piped to $work/<name>.log (and stderr), and commands from fd 3.
start_vm() {
	console="$work/$1.log"
	mkfifo "$work/$1.in" "$work/$1.out"
	(cat "$work/$1.out" | tee "$console" | sed "s/^/  $1| /" >&2) &
	cat_pid=$!
	qemu_args "$2" "$work/boot" "$3" "pipe:$work/$1" "$(qemu_cmdline "$2" "$work/boot") $test_switches" "${4:-}" "${5:-}"
	qemu-system-aarch64 "${QEMU_ARGS[@]}" &
	qemu_pid=$!
	exec 3>"$work/$1.in"
}
start_vm vm virt "$work/disk.img" ",hostfwd=tcp:127.0.0.1:$port-:554"
boot_start=$SECONDS
say "qemu started (pid $qemu_pid), RTSP forwarded to 127.0.0.1:$port"

wait_for() { # pattern timeout-seconds
	local deadline=$((SECONDS + $2))
	until grep -q -- "$1" "$console" 2>/dev/null; do
		kill -0 "$qemu_pid" 2>/dev/null || fail "VM stopped before \"$1\""
		[ $SECONDS -lt $deadline ] || fail "no \"$1\" on the console within $2 s"
		sleep 1
	done
}
# fsck_boot <when> [disk]: fsck.fat -n on the disk's boot partition: no errors, and no dirty
# bit (a PC would offer to scan and fix the card).
part_bytes=$(($(sfdisk --dump "$img" | sed -n 's/.*start= *8192, size= *\([0-9]*\),.*/\1/p') * 512))
fsck_boot() {
	dd if="${2:-$work/disk.img}" of="$work/part.img" bs=1M iflag=skip_bytes,count_bytes skip=$offset count=$part_bytes status=none
	fsck.fat -n "$work/part.img" >"$work/fsck.log" 2>&1 || { cat "$work/fsck.log" >&2; fail "fsck.fat: boot partition not clean $1"; }
	rm -f "$work/part.img"
}
# no_oops <board>: the kernel met no bug on the way (a driver the image loads, or one of
# camerad's ioctls, crashing in the kernel would otherwise go unseen while the stream played).
no_oops() {
	if grep -a -q 'Internal error: Oops\|BUG: \|Kernel panic\|WARNING: CPU: .* at ' "$console"; then
		grep -a -A20 'Internal error: Oops\|BUG: \|Kernel panic\|WARNING: CPU: .* at ' "$console" | head -40 >&2
		fail "the kernel reported a bug on the $1 console"
	fi
}
wait_for 'boot: start service' "$boot_timeout"
wait_for 'service started' 30
say "camerad is PID 1 and started the service $((SECONDS - boot_start)) s after power-on"

# 4. Play the stream from the host (TCP interleaved: qemu's user network forwards TCP).
url="rtsp://127.0.0.1:$port/stream"
play() {
	local deadline=$((SECONDS + 90))
	until ffprobe -v error -rtsp_transport tcp -timeout 10000000 -select_streams v:0 \
		-show_entries stream=codec_name,width,height -of default=nw=1 "$url" >"$work/ffprobe.txt" 2>"$work/ffprobe.err" &&
		grep -q codec_name=h264 "$work/ffprobe.txt"; do
		kill -0 "$qemu_pid" 2>/dev/null || fail "VM stopped before the stream played"
		[ $SECONDS -lt $deadline ] || { cat "$work/ffprobe.err" >&2; fail "ffprobe could not play $url"; }
		sleep 2
	done
	say "ffprobe played $url: $(tr '\n' ' ' <"$work/ffprobe.txt")"
}
play
wait_for 'clock set by ntp' 30
grep -q 'clock set by ntp.*offset=3[56]h' "$console" || fail "the clock was not stepped by the test server's 36 h"

for s in 'boot: mount /proc' 'boot: load kernel modules' 'modules loaded' 'boot partition mounted' \
	'boot: read /boot/camera.yml' 'network up' 'clock set by ntp' 'boot: watchdog' 'watchdog armed' \
	'service started' 'boot partition mounted read-only' 'camera reachable.*url=rtsp://10.0.2.15:554/stream'; do
	grep -q -- "$s" "$console" || fail "console log lacks boot step \"$s\""
done
no_oops virt

echo poweroff >&3
deadline=$((SECONDS + 60))
while kill -0 "$qemu_pid" 2>/dev/null; do
	[ $SECONDS -lt $deadline ] || fail "VM did not power off within 60 s of the request"
	sleep 1
done
wait "$qemu_pid" || fail "qemu exited with status $?"
qemu_pid=""
wait "$cat_pid" 2>/dev/null || true # the console's last lines
grep -q 'boot: power off' "$console" || fail "no orderly power-off on the console"
fsck_boot "after power-off"

# The log a user would read on a PC after pulling the card.
mtype -i "$work/disk.img@@$offset" ::/camerad.log >"$work/camerad.log" || fail "no camerad.log on the boot partition"
grep -q 'service started' "$work/camerad.log" || fail "camerad.log lacks the service start"
grep -q 'saving log and powering off' "$work/camerad.log" || fail "camerad.log lacks the shutdown"
boot1_lines=$(wc -l <"$work/camerad.log")

# 5. A power cut: boot again, with listen removed from camera.yml (the image's default must
# be 554 all the same), wait for PID 1's first log save, then pull the plug (kill -9).
# The card must be clean (read-only again after the save), camerad.log this boot's, and
# camerad-previous.log the first boot's. The board's clock starts in 2000 this time, as a
# Pi's would without a battery: the camera must take the time of its last save from the card.
grep -v '^listen:' "$work/camera.yml" >"$work/camera-nolisten.yml"
mcopy -o -i "$work/disk.img@@$offset" "$work/camera-nolisten.yml" ::/camera.yml
exec 3>&-
cut_start=$SECONDS
start_vm cut virt "$work/disk.img" "" base=2000-01-01
wait_for 'log saved to boot partition' 90
grep -q "clock set from the card's last save" "$console" || fail "a clock starting in 2000 was not set from the card"
kill -9 "$qemu_pid"
wait "$qemu_pid" 2>/dev/null || true
qemu_pid=""
wait "$cat_pid" 2>/dev/null || true
grep -q 'msg=serving url=rtsp://127.0.0.1:554/stream' "$console" || fail "without listen in camera.yml the service does not serve on port 554"
fsck_boot "after a power cut"
mtype -i "$work/disk.img@@$offset" ::/camerad.log >"$work/camerad-cut.log" || fail "no camerad.log after the power cut"
mtype -i "$work/disk.img@@$offset" ::/camerad-previous.log >"$work/camerad-previous.log" || fail "no camerad-previous.log"
grep -q 'service started' "$work/camerad-cut.log" || fail "camerad.log after the power cut lacks the service start"
grep -q 'serving url=rtsp://127.0.0.1:554/stream' "$work/camerad-cut.log" || fail "camerad.log after the power cut lacks the second boot's service"
grep -q 'saving log and powering off' "$work/camerad-cut.log" && fail "camerad.log after the power cut is the first boot's"
grep -q 'saving log and powering off' "$work/camerad-previous.log" || fail "camerad-previous.log is not the first boot's log"
mdir -b -i "$work/disk.img@@$offset" ::/ | grep -qi '\.new$' && fail "a temporary .new file was left on the card"
say "power cut $((SECONDS - cut_start)) s into the second boot, after its first log save: fsck clean, no dirty bit; camerad.log has $(wc -l <"$work/camerad-cut.log") lines of it, camerad-previous.log the first boot's"

# 6. The Raspberry Pi models: the same card (camera.yml as edited in 3) booted the way the
# Pi's drivers see it, with the Pi 3 B's device tree and then the Zero 2 W's. Each must find
# itself that Pi, mount the card from the Pi's SD controller, bring up the USB network adapter
# with DHCP, serve, play, tell an ONVIF client and a browser its model and stream address, and
# power off with the card clean.
exec 3>&-
onvif_port=$((port + 2))
# onvif_post <path> <body element>: one SOAP request to the image's ONVIF service (port 80,
# forwarded), through bash's /dev/tcp so that no HTTP client is needed; prints the answer.
onvif_post() {
	local body="<?xml version=\"1.0\"?><s:Envelope xmlns:s=\"http://www.w3.org/2003/05/soap-envelope\" xmlns:tds=\"http://www.onvif.org/ver10/device/wsdl\" xmlns:trt=\"http://www.onvif.org/ver10/media/wsdl\"><s:Body>$2</s:Body></s:Envelope>"
	exec 4<>"/dev/tcp/127.0.0.1/$onvif_port" || return 1
	printf 'POST %s HTTP/1.1\r\nHost: camera\r\nContent-Type: application/soap+xml; charset=utf-8\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s' \
		"$1" "${#body}" "$body" >&4
	timeout 10 cat <&4
	exec 4<&-
}
# http_get <path>: the same for the camera's web page.
http_get() {
	exec 4<>"/dev/tcp/127.0.0.1/$onvif_port" || return 1
	printf 'GET %s HTTP/1.1\r\nHost: camera\r\nConnection: close\r\n\r\n' "$1" >&4
	timeout 10 cat <&4
	exec 4<&-
}
# http_stream <path> <seconds>: the first seconds of an endless answer (the live view).
http_stream() {
	exec 4<>"/dev/tcp/127.0.0.1/$onvif_port" || return 1
	printf 'GET %s HTTP/1.1\r\nHost: camera\r\n\r\n' "$1" >&4
	timeout "$2" cat <&4
	exec 4<&-
}
for machine in pi3b pi02w; do
	pi_start=$SECONDS
	case $machine in
	pi3b) model="Raspberry Pi 3 Model B" ;;
	pi02w) model="Raspberry Pi Zero 2 W" ;;
	esac
	qemu_disk "$machine" "$img" "$work/$machine.img"
	mcopy -o -i "$work/$machine.img@@$offset" "$work/camera.yml" ::/camera.yml
	start_vm "$machine" "$machine" "$work/$machine.img" ",hostfwd=tcp:127.0.0.1:$port-:554,hostfwd=tcp:127.0.0.1:$onvif_port-:80"
	wait_for 'service started' "$boot_timeout"
	play
	onvif_post /onvif/device_service '<tds:GetDeviceInformation/>' >"$work/onvif-info.txt" || true
	grep -q "<tds:Model>$model" "$work/onvif-info.txt" || { cat "$work/onvif-info.txt" >&2; fail "ONVIF GetDeviceInformation does not name the $model"; }
	onvif_post /onvif/media_service '<trt:GetStreamUri><trt:ProfileToken>main</trt:ProfileToken></trt:GetStreamUri>' >"$work/onvif-uri.txt" || true
	grep -q '<tt:Uri>rtsp://10.0.2.15:554/stream</tt:Uri>' "$work/onvif-uri.txt" || { cat "$work/onvif-uri.txt" >&2; fail "ONVIF GetStreamUri on the $model is not the stream"; }
	http_get /status.json >"$work/status.json" || true
	grep -q "\"model\": \"$model" "$work/status.json" && grep -q '"rtsp_by_ip": "rtsp://10.0.2.15/stream"' "$work/status.json" ||
		{ cat "$work/status.json" >&2; fail "the web page's status.json on the $model lacks its model or stream"; }
	http_stream /live.mp4 3 >"$work/live.mp4" || true
	fragments=$(grep -a -o moof "$work/live.mp4" | wc -l)
	head -c 300 "$work/live.mp4" | grep -aq 'Content-Type: video/mp4' && grep -aq ftyp "$work/live.mp4" && [ "$fragments" -ge 10 ] ||
		{ head -c 300 "$work/live.mp4" >&2; fail "the web page's live view on the $model sent $fragments fragments in 3 s"; }
	for s in "boot: machine.*model=\"$model\" kind=raspberrypi" 'modules loaded.*dwc2.*cdc_ether' \
		'boot partition mounted.*dev=/dev/mmcblk0p1' 'network up.*if=usb0' 'camera reachable.*url=rtsp://10.0.2.15:554/stream' \
		'onvif_url=http://10.0.2.15:80/onvif/device_service' 'ONVIF discovery on usb0 10.0.2.15' 'no hardware watchdog'; do
		grep -q -- "$s" "$console" || fail "$model console log lacks \"$s\""
	done
	no_oops "$model"
	# Without the watchdog driver (see qemu-machine.sh) the kernel can only halt the board, not
	# power it off: once it says so, the card is safe and the plug is pulled.
	echo poweroff >&3
	wait_for 'reboot: System halted\|reboot: Power down' 60
	kill -9 "$qemu_pid"
	wait "$qemu_pid" 2>/dev/null || true
	qemu_pid=""
	wait "$cat_pid" 2>/dev/null || true
	exec 3>&-
	grep -q 'boot: power off' "$console" || fail "no orderly power-off on the $model console"
	fsck_boot "after the $model's power-off" "$work/$machine.img"
	rm -f "$work/$machine.img"
	say "qemu's $model: booted from its SD controller, USB network up, stream played, ONVIF and the web page named the model and the stream, the live view streamed, halted clean in $((SECONDS - pi_start)) s"
done
say "PASS in $((SECONDS - start)) s: booted, streamed, powered off ($boot1_lines lines of camerad.log), survived a power cut, booted on the Pi 3 B and Zero 2 W models"
