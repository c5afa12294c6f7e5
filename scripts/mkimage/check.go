package main

import (
	"bytes"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/camerad/camerad/board/bootimg"
)

// runCheck verifies an image's layout the way the Pi firmware will read it, and optionally
// extracts the files qemu boots it with (the image's own kernel, initramfs and the Pi 3 B and
// Zero 2 W device trees).
func runCheck(log *slog.Logger, args []string) error {
	fl := flag.NewFlagSet("check", flag.ContinueOnError)
	image := fl.String("image", "bin/camerad-arm64.img", "image to check")
	extract := fl.String("extract", "", "directory to copy vmlinuz, initrd.img, the Pi 3 B and Zero 2 W device trees, cmdline.txt, camera.yml and camerad.log into")
	if err := fl.Parse(args); err != nil {
		return err
	}
	im, err := bootimg.Open(*image)
	if err != nil {
		return err
	}
	defer im.Close()
	problems := checkImage(im)
	if len(problems) > 0 {
		return fmt.Errorf("%s: %d problem(s):\n  %s", *image, len(problems), strings.Join(problems, "\n  "))
	}
	log.Info("image layout ok", "image", *image)
	if *extract == "" {
		return nil
	}
	if err := os.MkdirAll(*extract, 0o755); err != nil {
		return fmt.Errorf("extract: %w", err)
	}
	for _, name := range []string{kernelName, initramfsName, pi3bDeviceTree, pi02wDeviceTree, "cmdline.txt", "camera.yml", "camerad.log"} {
		b, err := im.ReadFile(name)
		if err != nil {
			if name == "camerad.log" {
				continue // written by the camera on its first boot
			}
			return err
		}
		if err := os.WriteFile(filepath.Join(*extract, name), b, 0o644); err != nil {
			return fmt.Errorf("extract %s: %w", name, err)
		}
	}
	return nil
}

func checkImage(im *bootimg.Image) []string {
	var problems []string
	bad := func(format string, a ...any) { problems = append(problems, fmt.Sprintf(format, a...)) }

	ps, err := im.Partitions()
	switch {
	case err != nil:
		bad("partition table: %v", err)
	case len(ps) != 1:
		bad("want 1 partition, have %d", len(ps))
	default:
		p := ps[0]
		if p.Type != 0x0c || !p.Bootable || p.Start != bootimg.PartitionStart {
			bad("partition 1: type %#x bootable %v start %d; want 0xc, bootable, start %d", p.Type, p.Bootable, p.Start, bootimg.PartitionStart)
		}
	}
	if im.Label() != bootimg.Label {
		bad("volume label %q, want %q", im.Label(), bootimg.Label)
	}
	list, err := im.List()
	if err != nil {
		bad("list files: %v", err)
	}
	have := map[string]bool{}
	for _, f := range list {
		have[f] = true
	}
	required := append([]string{kernelName, initramfsName, "config.txt", "cmdline.txt", "camera.yml",
		"bcm2837-rpi-3-b.dtb", "bcm2837-rpi-3-b-plus.dtb", "bcm2837-rpi-zero-2-w.dtb", "bcm2711-rpi-4-b.dtb"}, firmwareBoot...)
	for _, r := range required {
		if !have[r] {
			bad("missing %s", r)
		}
	}
	read := func(name string) []byte {
		b, err := im.ReadFile(name)
		if err != nil {
			bad("%v", err)
		}
		return b
	}
	cfg := map[string]bool{}
	for _, l := range strings.Split(string(read("config.txt")), "\n") {
		if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
			cfg[l] = true
		}
	}
	for _, want := range []string{"arm_64bit=1", "start_x=1", "gpu_mem=128", "enable_uart=1",
		"kernel=" + kernelName, "initramfs " + initramfsName + " followkernel", "upstream_kernel=1"} {
		if !cfg[want] {
			bad("config.txt lacks %q", want)
		}
	}
	cmdline := read("cmdline.txt")
	if lines := strings.Split(strings.TrimRight(string(cmdline), "\n"), "\n"); len(lines) != 1 {
		bad("cmdline.txt must be one line, has %d", len(lines))
	}
	if !bytes.Contains(cmdline, []byte("console=")) {
		bad("cmdline.txt has no console=")
	}
	// arm64 Image header: magic "ARM\x64" at offset 0x38.
	if k := read(kernelName); len(k) < 0x40 || string(k[0x38:0x3c]) != "ARM\x64" {
		bad("%s is not an arm64 kernel Image", kernelName)
	}
	if i := read(initramfsName); len(i) < 2 || i[0] != 0x1f || i[1] != 0x8b {
		bad("%s is not gzip", initramfsName)
	}
	return problems
}
