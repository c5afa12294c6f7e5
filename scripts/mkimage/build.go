package main

import (
	"bytes"
	"debug/elf"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/camerad/camerad/board"
	"github.com/camerad/camerad/board/bootimg"
	"github.com/camerad/camerad/board/initramfs"
)

// defaultEpoch stamps every file when SOURCE_DATE_EPOCH is unset: 2024-01-01T00:00:00Z.
const defaultEpoch = 1704067200

// Boot-partition names; check.go verifies the same.
const (
	kernelName    = "vmlinuz"
	initramfsName = "initrd.img"
	// The device trees qemu's raspi3b model boots with (scripts/image/qemu-machine.sh): the
	// Raspberry Pi 3 B's and the Zero 2 W's, which has the same SoC.
	pi3bDeviceTree  = "bcm2837-rpi-3-b.dtb"
	pi02wDeviceTree = "bcm2837-rpi-zero-2-w.dtb"
)

// firmwareBoot are the Pi firmware files: bootcode.bin (Pi 3 / Zero 2 W second stage), and
// the "x" (camera-capable, start_x=1) GPU firmware for the Pi 3 family and the Pi 4.
var firmwareBoot = []string{"bootcode.bin", "start_x.elf", "fixup_x.dat", "start4x.elf", "fixup4x.dat"}

// configTxt is read by the GPU firmware. upstream_kernel makes it pick the mainline device
// tree names Debian ships; start_x + gpu_mem give the camera and its H.264 encoder memory.
const configTxt = `# camerad: Raspberry Pi firmware configuration (read by the GPU at power-on).
# Edit camera.yml for the camera and network, not this file.
arm_64bit=1
upstream_kernel=1
kernel=vmlinuz
initramfs initrd.img followkernel
# The camera firmware (start_x.elf / start4x.elf) and memory for the camera and H.264 encoder.
start_x=1
gpu_mem=128
# Serial console on GPIO 14/15 (115200 8N1) shows every boot step.
enable_uart=1
disable_splash=1
`

// cmdlineTxt: the kernel's command line. panic=10 reboots an unattended camera instead of
// hanging; the last console is where camerad (PID 1) logs.
const cmdlineTxt = "console=tty1 console=ttyS1,115200 panic=10 loglevel=5\n"

func runBuild(log *slog.Logger, args []string) error {
	fl := flag.NewFlagSet("build", flag.ContinueOnError)
	inputs := fl.String("inputs", ".cache/image/root", "directory of unpacked Debian packages (scripts/image/fetch.sh)")
	camerad := fl.String("camerad", "bin/linux_arm64/camerad", "camerad binary for linux/arm64, becomes /init")
	cameraYML := fl.String("camera-yml", "scripts/image/camera.yml", "camera.yml template placed on the boot partition")
	out := fl.String("out", "bin/camerad-arm64.img", "image file to write")
	arch := fl.String("arch", "arm64", "target GOARCH (only arm64 is supported)")
	sizeMiB := fl.Int64("size", 128, "boot partition size in MiB")
	if err := fl.Parse(args); err != nil {
		return err
	}
	if *arch != "arm64" {
		return fmt.Errorf("GOARCH=%s is not supported: the image boots 64-bit Raspberry Pi 3, 4 and Zero 2 W (use GOARCH=arm64)", *arch)
	}
	epoch := int64(defaultEpoch)
	if s := os.Getenv("SOURCE_DATE_EPOCH"); s != "" {
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return fmt.Errorf("SOURCE_DATE_EPOCH=%q: %w", s, err)
		}
		epoch = v
	}
	// go-diskfs reads SOURCE_DATE_EPOCH for the entries it stamps itself.
	if err := os.Setenv("SOURCE_DATE_EPOCH", strconv.FormatInt(epoch, 10)); err != nil {
		return fmt.Errorf("set SOURCE_DATE_EPOCH: %w", err)
	}
	mtime := time.Unix(epoch, 0).UTC()

	if err := checkBinary(*camerad); err != nil {
		return err
	}
	kernelRoot, release, err := findKernel(*inputs)
	if err != nil {
		return err
	}
	initrd, nmods, err := buildInitramfs(*inputs, kernelRoot, release, *camerad, mtime)
	if err != nil {
		return err
	}
	files, err := bootFiles(*inputs, kernelRoot, release, *cameraYML)
	if err != nil {
		return err
	}
	files = append(files, bootimg.File{Name: initramfsName, Data: initrd})
	var total int64
	for _, f := range files {
		total += int64(len(f.Data))
	}
	// Keep a quarter free: camerad.log lives here, and users may add files.
	if need := total*4/3>>20 + 1; *sizeMiB < need {
		return fmt.Errorf("boot partition of %d MiB too small for %d MiB of files (use -size %d)", *sizeMiB, total>>20, need)
	}
	if err := os.MkdirAll(filepath.Dir(*out), 0o755); err != nil {
		return fmt.Errorf("mkdir for %s: %w", *out, err)
	}
	if err := bootimg.Write(*out, bootimg.Layout{PartitionMiB: *sizeMiB}, files, mtime); err != nil {
		return err
	}
	log.Info("image written", "path", *out, "kernel", release, "modules", nmods,
		"boot_files", len(files), "initramfs_bytes", len(initrd), "content_mib", total>>20)
	return nil
}

// checkBinary refuses anything but a static linux/arm64 ELF: a wrong binary as /init would
// only show up as a kernel panic on the camera.
func checkBinary(p string) error {
	f, err := elf.Open(p)
	if err != nil {
		return fmt.Errorf("camerad binary %s: %w (build it with GOARCH=arm64 make build)", p, err)
	}
	defer f.Close()
	if f.Machine != elf.EM_AARCH64 {
		return fmt.Errorf("camerad binary %s is for %s, not arm64 (build it with GOARCH=arm64 make build)", p, f.Machine)
	}
	for _, prog := range f.Progs {
		if prog.Type == elf.PT_INTERP {
			return fmt.Errorf("camerad binary %s is dynamically linked; the initramfs has no libc (build it static)", p)
		}
	}
	return nil
}

// findKernel locates the unpacked linux-image-<release> package.
func findKernel(inputs string) (root, release string, err error) {
	matches, _ := filepath.Glob(filepath.Join(inputs, "linux-image-*", "lib", "modules", "*"))
	if len(matches) != 1 {
		return "", "", fmt.Errorf("want one unpacked linux-image package under %s, found %d (run scripts/image/fetch.sh)", inputs, len(matches))
	}
	release = filepath.Base(matches[0])
	return filepath.Dir(filepath.Dir(filepath.Dir(matches[0]))), release, nil
}

func buildInitramfs(inputs, kernelRoot, release, camerad string, mtime time.Time) ([]byte, int, error) {
	a := initramfs.New()
	bin, err := os.ReadFile(camerad)
	if err != nil {
		return nil, 0, fmt.Errorf("read camerad: %w", err)
	}
	if err := a.File("init", 0o755, bin); err != nil {
		return nil, 0, err
	}
	if err := a.CharDev("dev/console", 0o600, 5, 1); err != nil {
		return nil, 0, err
	}
	for _, d := range []string{"proc", "sys", "tmp", "run", "boot", "etc"} {
		if err := a.Dir(d, 0o755); err != nil {
			return nil, 0, err
		}
	}
	modDir := filepath.Join(kernelRoot, "lib", "modules", release)
	km, err := indexModules(modDir)
	if err != nil {
		return nil, 0, err
	}
	mods, dep, err := km.closure(board.ImageModules())
	if err != nil {
		return nil, 0, err
	}
	dest := "lib/modules/" + release + "/"
	for _, m := range mods {
		b, err := os.ReadFile(filepath.Join(modDir, m))
		if err != nil {
			return nil, 0, fmt.Errorf("read module: %w", err)
		}
		if err := a.File(dest+m, 0o644, b); err != nil {
			return nil, 0, err
		}
	}
	if err := a.File(dest+"modules.dep", 0o644, dep); err != nil {
		return nil, 0, err
	}
	for _, fw := range board.FirmwareFiles {
		b, err := findFirmware(inputs, fw)
		if err != nil {
			return nil, 0, err
		}
		if err := a.File("lib/firmware/"+fw, 0o644, b); err != nil {
			return nil, 0, err
		}
	}
	var buf bytes.Buffer
	if err := a.WriteGzip(&buf, mtime); err != nil {
		return nil, 0, err
	}
	return buf.Bytes(), len(mods), nil
}

// findFirmware looks for lib/firmware/<name> in every unpacked package, following symlinks
// (firmware-brcm80211 links brcm/ names to cypress/ files) but never outside that package.
// regulatory.db comes in Debian- and upstream-signed variants; Debian's kernel trusts both,
// and the Debian one is what Debian installs by default.
func findFirmware(inputs, name string) ([]byte, error) {
	candidates := []string{name}
	if strings.HasPrefix(name, "regulatory.db") {
		candidates = []string{name + "-debian", name}
	}
	pkgs, _ := filepath.Glob(filepath.Join(inputs, "*", "lib", "firmware"))
	sort.Strings(pkgs)
	for _, c := range candidates {
		for _, fwdir := range pkgs {
			p := filepath.Join(fwdir, c)
			real, err := filepath.EvalSymlinks(p)
			if err != nil {
				continue
			}
			pkgRoot := filepath.Dir(filepath.Dir(fwdir))
			if rel, err := filepath.Rel(pkgRoot, real); err != nil || strings.HasPrefix(rel, "..") {
				return nil, fmt.Errorf("firmware %s links outside its package (%s)", name, real)
			}
			b, err := os.ReadFile(real)
			if err != nil {
				return nil, fmt.Errorf("read firmware %s: %w", name, err)
			}
			return b, nil
		}
	}
	return nil, fmt.Errorf("firmware %s not found in any package under %s", name, inputs)
}

func bootFiles(inputs, kernelRoot, release, cameraYML string) ([]bootimg.File, error) {
	var files []bootimg.File
	add := func(name, src string) error {
		b, err := os.ReadFile(src)
		if err != nil {
			return fmt.Errorf("boot file %s: %w", name, err)
		}
		files = append(files, bootimg.File{Name: name, Data: b})
		return nil
	}
	fwDir := filepath.Join(inputs, "raspi-firmware", "usr", "lib", "raspi-firmware")
	for _, f := range firmwareBoot {
		if err := add(f, filepath.Join(fwDir, f)); err != nil {
			return nil, err
		}
	}
	if err := add(kernelName, filepath.Join(kernelRoot, "boot", "vmlinuz-"+release)); err != nil {
		return nil, err
	}
	dtbs, _ := filepath.Glob(filepath.Join(kernelRoot, "usr", "lib", "linux-image-"+release, "broadcom", "bcm2*-rpi-*.dtb"))
	var want []string
	for _, d := range dtbs {
		base := filepath.Base(d)
		// 64-bit capable boards only: BCM2837 (Pi 3, Zero 2 W, CM3) and BCM2711 (Pi 4, 400, CM4).
		if strings.HasPrefix(base, "bcm2837-") || strings.HasPrefix(base, "bcm2711-") {
			want = append(want, d)
		}
	}
	if len(want) == 0 {
		return nil, errors.New("no Raspberry Pi device trees in the kernel package")
	}
	for _, d := range want {
		if err := add(filepath.Base(d), d); err != nil {
			return nil, err
		}
	}
	// Licences travel with the firmware they cover.
	for name, pkg := range map[string]string{
		"LICENCE.raspi-firmware.txt":     "raspi-firmware",
		"LICENCE.firmware-brcm80211.txt": "firmware-brcm80211",
	} {
		if err := add(name, filepath.Join(inputs, pkg, "usr", "share", "doc", pkg, "copyright")); err != nil {
			return nil, err
		}
	}
	if err := add("camera.yml", cameraYML); err != nil {
		return nil, err
	}
	files = append(files,
		bootimg.File{Name: "config.txt", Data: []byte(configTxt)},
		bootimg.File{Name: "cmdline.txt", Data: []byte(cmdlineTxt)})
	return files, nil
}
