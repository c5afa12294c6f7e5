# qemu-machine.sh: the qemu machines the SD-card image boots on, shared by qemu-test.sh
# (make image-test) and run.sh (make image-run). Sourced, not run.
#
#   pi3b  qemu's model of the Raspberry Pi 3 B (BCM2837): the Pi's own device tree from the
#         card, the card on the Pi's SD controller, the serial console on the mini UART (ttyS1,
#         as the card's cmdline.txt names it) and qemu's usb-net on the Pi's USB (dwc2) as
#         its network adapter. Nothing is emulated that a Pi lacks.
#   pi02w the same model booted with the Raspberry Pi Zero 2 W's device tree: its SoC is the
#         Pi 3's, and its one USB port (OTG) takes a USB Ethernet adapter.
#   virt  qemu's generic arm64 board: the card as a virtio disk, virtio-net, an i6300esb
#         watchdog that qemu really counts down. Faster, and its watchdog works (see below).
#
# qemu boots the card's own kernel and initramfs directly (-kernel): it does not emulate the
# Pi's GPU firmware, so config.txt and start_x.elf are not used, and the camera (vchiq) is
# absent: camerad serves its built-in test source.

# qemu_disk <machine> <image> <copy>: a copy of the image for the VM to write to. The pi3b
# model's SD card must have a power-of-two size, so its copy is padded to 256 MiB (a card
# holds more than the image anyway).
qemu_disk() {
	cp --sparse=always "$2" "$3"
	case "$1" in pi3b | pi02w) truncate -s 256M "$3" ;; esac
}

# qemu_device_tree <machine>: the device tree on the card that the machine boots with.
qemu_device_tree() {
	case "$1" in
	pi3b) echo bcm2837-rpi-3-b.dtb ;;
	pi02w) echo bcm2837-rpi-zero-2-w.dtb ;;
	esac
}

# qemu_cmdline <machine> <boot dir>: the kernel command line, from the card's cmdline.txt.
#   pi3b, pi02w: as on a Pi, with the drivers kept out (module_blacklist) that qemu's model
#         cannot serve:
#         - bcm2835_wdt: qemu 7.2's BCM2835 power manager resets the board the moment a driver
#           arms the watchdog (it does not count down), so the emulated Pi would reboot as soon
#           as camerad's PID 1 armed it. On a real Pi the watchdog counts 15 s and PID 1 feeds
#           it.
#         - vchiq and the camera drivers over it: the VCHIQ service is the GPU firmware's, which
#           qemu does not run, and the (staging) vchiq driver, finding no firmware to answer,
#           may oops in one of its threads on its way out.
#   virt: the console on its PL011 (ttyAMA0).
qemu_cmdline() {
	local card
	card="$(tr -s ' \n' ' ' <"$2/cmdline.txt")"
	case "$1" in
	pi3b | pi02w) echo "${card% } module_blacklist=bcm2835_wdt,vchiq,bcm2835_mmal_vchiq,bcm2835_v4l2" ;;
	virt) echo "console=ttyAMA0 $(sed -e 's/console=[^ ]*//g' <<<"$card" | tr -s ' ')" ;;
	*) return 1 ;;
	esac
}

# qemu_args <machine> <boot dir> <disk> <console> <cmdline> [netdev options] [rtc]: sets the
# array QEMU_ARGS for qemu-system-aarch64. <console> is a qemu chardev spec (stdio, pipe:F,
# mon:stdio) for the serial port the cmdline's console is on; [netdev options] are appended to
# "user,id=net0" (e.g. ",hostfwd=tcp:127.0.0.1:8554-:554").
qemu_args() {
	local machine=$1 boot=$2 disk=$3 console=$4 cmdline=$5 net="user,id=net0${6:-}" rtc=${7:-base=utc}
	QEMU_ARGS=(-display none -monitor none -no-reboot
		-kernel "$boot/vmlinuz" -initrd "$boot/initrd.img" -append "$cmdline" -rtc "$rtc")
	case "$machine" in
	pi3b | pi02w)
		# The first serial port is the PL011 (Bluetooth on a Pi 3), the second the mini UART
		# on GPIO 14/15, the Pi's serial console.
		QEMU_ARGS+=(-M raspi3b -dtb "$boot/$(qemu_device_tree "$machine")"
			-serial null -serial "$console"
			-drive if=sd,file="$disk",format=raw
			-netdev "$net" -device usb-net,netdev=net0)
		;;
	virt)
		QEMU_ARGS+=(-M virt -cpu cortex-a72 -smp 2 -m 512 -serial "$console"
			-drive if=none,id=disk0,file="$disk",format=raw -device virtio-blk-pci,drive=disk0
			-netdev "$net" -device virtio-net-pci,netdev=net0
			-device i6300esb -action watchdog=poweroff)
		;;
	*)
		echo "qemu_args: unknown machine $machine (pi3b, pi02w or virt)" >&2
		return 1
		;;
	esac
}
