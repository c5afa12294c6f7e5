package board

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// BootDir is where PID 1 mounts the SD card's FAT boot partition (camera.yml, camerad.log).
const BootDir = "/boot"

// MountEarly mounts the kernel filesystems a PID 1 in an initramfs starts without.
// A filesystem already mounted (EBUSY) is fine: init may be restarted by a test.
func MountEarly() error {
	mounts := []struct {
		fstype, target string
		flags          uintptr
		data           string
	}{
		{"proc", "/proc", unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC, ""},
		{"sysfs", "/sys", unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC, ""},
		{"devtmpfs", "/dev", unix.MS_NOSUID, "mode=0755"},
		{"tmpfs", "/tmp", unix.MS_NOSUID | unix.MS_NODEV, "mode=1777"},
		{"tmpfs", "/run", unix.MS_NOSUID | unix.MS_NODEV, "mode=0755"},
	}
	var errs []error
	for _, m := range mounts {
		if err := os.MkdirAll(m.target, 0o755); err != nil {
			errs = append(errs, fmt.Errorf("mkdir %s: %w", m.target, err))
			continue
		}
		if err := unix.Mount(m.fstype, m.target, m.fstype, m.flags, m.data); err != nil && !errors.Is(err, unix.EBUSY) {
			errs = append(errs, fmt.Errorf("mount %s on %s: %w", m.fstype, m.target, err))
		}
	}
	return errors.Join(errs...)
}

// MountBoot finds the first partition holding a FAT filesystem with config.txt (the Pi's
// boot partition; in qemu the image attached as a virtio disk) and mounts it on BootDir.
// SD and USB controllers probe asynchronously, so it retries until timeout.
func MountBoot(log *slog.Logger, timeout time.Duration) (string, error) {
	if err := os.MkdirAll(BootDir, 0o755); err != nil {
		return "", fmt.Errorf("mkdir %s: %w", BootDir, err)
	}
	deadline := time.Now().Add(timeout)
	tried := map[string]bool{}
	for {
		for _, dev := range firstPartitions("/sys/class/block") {
			if tried[dev] {
				continue
			}
			tried[dev] = true
			// dirsync: the FAT driver writes directory changes at once, in a safe order (see
			// ReplaceFile).
			err := unix.Mount("/dev/"+dev, BootDir, "vfat", unix.MS_NOATIME|unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC|unix.MS_DIRSYNC, "flush")
			if err != nil {
				log.Debug("not a boot partition", "dev", dev, "err", err)
				continue
			}
			if _, err := os.Stat(filepath.Join(BootDir, "config.txt")); err == nil {
				return "/dev/" + dev, nil
			}
			_ = unix.Unmount(BootDir, 0)
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("no FAT boot partition with config.txt after %s (tried %d)", timeout, len(tried))
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// firstPartitions lists block devices that are partition 1 of a disk, SD cards first.
func firstPartitions(sysBlock string) []string {
	entries, _ := os.ReadDir(sysBlock)
	var out []string
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(sysBlock, e.Name(), "partition"))
		if err != nil || strings.TrimSpace(string(b)) != "1" {
			continue
		}
		out = append(out, e.Name())
	}
	sort.Slice(out, func(i, j int) bool {
		mi, mj := strings.HasPrefix(out[i], "mmcblk"), strings.HasPrefix(out[j], "mmcblk")
		if mi != mj {
			return mi
		}
		return out[i] < out[j]
	})
	return out
}

// UnmountBoot flushes and unmounts the boot partition before power-off.
func UnmountBoot() error {
	unix.Sync()
	if err := unix.Unmount(BootDir, 0); err != nil && !errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("unmount %s: %w", BootDir, err)
	}
	return nil
}
