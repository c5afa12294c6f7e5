#!/usr/bin/env bash
# Real-kernel test of the device package: boots Debian's amd64 kernel in qemu with a busybox initramfs that loads the vivid test
# driver and runs the device package's tests (vivid_test.go) against /dev/video0: formats
# listed, a format negotiated, frames at the asked rate with monotonic timestamps, controls
# set and read back, orientation and named controls applied as camerad applies them (read back
# while streaming, the picture mirrored), and a reopen after vivid is unplugged, removed and
# loaded again.
# Prints "V4L2TEST: PASS" or "V4L2TEST: FAIL"; exits 0 on PASS or when qemu is missing (skip).
set -euo pipefail
cd "$(dirname "$0")/../.."

QEMU=${QEMU:-qemu-system-x86_64}
if ! command -v "$QEMU" >/dev/null; then
	echo "V4L2TEST: SKIP ($QEMU not installed; apt-get install qemu-system-x86)"
	exit 0
fi
for tool in busybox depmod cpio gzip; do
	command -v "$tool" >/dev/null || { echo "v4l2test: $tool missing (apt-get install busybox-static kmod cpio)" >&2; exit 1; }
done

# Debian's amd64 kernel, pinned in scripts/v4l2test/packages.lock and fetched (with a private
# apt configuration, so on any Debian or Ubuntu host) and verified by the image's fetch.sh.
cache=.cache/v4l2test
DEBIAN_ARCH=amd64 LOCK=scripts/v4l2test/packages.lock scripts/image/fetch.sh "$cache" >&2
roots=("$cache"/root/linux-image-*-amd64/lib/modules/*)
[[ ${#roots[@]} -eq 1 && -d ${roots[0]} ]] || { echo "v4l2test: want one unpacked kernel, found: ${roots[*]}" >&2; exit 1; }
KVER=$(basename "${roots[0]}")
root=${roots[0]%/lib/modules/*}
[[ -f $root/lib/modules/$KVER/modules.dep ]] || depmod -b "$root" "$KVER"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
init=$work/initramfs
mkdir -p "$init"/{bin,dev,proc,sys,tmp,lib/modules/$KVER}
cp "$(command -v busybox)" "$init/bin/busybox"
for app in sh mount insmod rmmod modprobe poweroff cat echo sleep ls; do ln -s busybox "$init/bin/$app"; done

# vivid and everything it depends on, per modules.dep.
moddir=$root/lib/modules/$KVER
deps=$(grep -E '^kernel/drivers/media/test-drivers/vivid/vivid\.ko:' "$moddir/modules.dep" | tr -d ':')
[[ -n $deps ]] || { echo "v4l2test: vivid missing from $KVER" >&2; exit 1; }
for m in $deps; do
	mkdir -p "$init/lib/modules/$KVER/$(dirname "$m")"
	cp "$moddir/$m" "$init/lib/modules/$KVER/$m"
done
cp "$moddir"/modules.{dep,alias,symbols,builtin,order} "$init/lib/modules/$KVER/" 2>/dev/null || true
cp "$moddir/modules.dep" "$init/lib/modules/$KVER/"

# The device package's tests, static (pure Go, no cgo).
CGO_ENABLED=0 GOOS=linux GOARCH=amd64 go test -c -o "$init/device.test" ./device

vividargs="node_types=0x1 n_devs=1"
cat >"$init/init" <<INIT
#!/bin/sh
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tmpfs tmp /tmp
modprobe vivid $vividargs || echo "V4L2TEST: FAIL (modprobe vivid)"
export CAMERAD_VIVID=/dev/video0 CAMERAD_VIVID_RMMOD="rmmod vivid" CAMERAD_VIVID_MODPROBE="modprobe vivid $vividargs"
if /device.test -test.v -test.run 'Vivid|Capture|Negotiate|Querycap' -test.timeout 150s; then
	echo "V4L2TEST: PASS"
else
	echo "V4L2TEST: FAIL"
fi
poweroff -f
INIT
chmod +x "$init/init"
(cd "$init" && find . | cpio -o -H newc --quiet | gzip -1) >"$work/initrd.gz"

# TCG by default: the guest boots in about two seconds under it, while on this project's CI
# machines (themselves VMs) nested KVM hangs the kernel right after the BIOS. V4L2TEST_ACCEL=kvm
# opts in where KVM works.
accel=(-accel tcg)
if [[ ${V4L2TEST_ACCEL:-tcg} == kvm && -r /dev/kvm && -w /dev/kvm ]]; then
	accel=(-enable-kvm -cpu host)
fi
log=$work/console.log
timeout 240 "$QEMU" "${accel[@]}" -m 1024 -smp 2 -nographic -no-reboot \
	-kernel "$root/boot/vmlinuz-$KVER" -initrd "$work/initrd.gz" \
	-append "console=ttyS0 panic=-1 loglevel=4" </dev/null | tee "$log" || true
if grep -q "^V4L2TEST: PASS" "$log"; then
	exit 0
fi
echo "V4L2TEST: FAIL (see the console log above)"
exit 1
