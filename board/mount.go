package board

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
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

// bootFlags are the boot partition's mount flags, read-only or not. dirsync makes the FAT
// driver write directory changes synchronously and in a safe order (see ReplaceFile).
const bootFlags = unix.MS_NOATIME | unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC | unix.MS_DIRSYNC

// bootOptions: vfat's own options; flush writes files back early rather than after 30 s.
const bootOptions = "flush"

// BootFS is the mounted FAT boot partition. It stays read-only, so its dirty bit is clear
// and a card pulled at any moment looks cleanly removed to a PC, except inside Write, which
// makes it writable for one change and read-only again afterwards. (A partition that was
// already marked dirty when mounted, by a PC or a power cut in the middle of a save, stays
// marked: the kernel leaves clearing that to fsck.)
type BootFS struct {
	Dir string // where it is mounted (BootDir)
	Dev string // the partition, "/dev/mmcblk0p1"

	mu        sync.Mutex
	unmounted bool
	// remount switches the mount between read-write and read-only (mount(2) MS_REMOUNT;
	// tests replace it).
	remount func(dir string, rw bool) error
}

// Write runs fn with the partition writable, serialised with every other Write. Before it
// returns, the partition is read-only again: the kernel syncs it and clears the dirty bit
// as part of that remount. The partition goes back to read-only even when fn fails or
// panics; if that remount fails, Write reports it (and the next Write tries again).
func (b *BootFS) Write(fn func(dir string) error) (err error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.unmounted {
		return fmt.Errorf("boot partition %s: already unmounted", b.Dir)
	}
	remount := b.remount
	if remount == nil {
		remount = remountBoot
	}
	if err := remount(b.Dir, true); err != nil {
		return fmt.Errorf("boot partition %s: remount read-write: %w", b.Dir, err)
	}
	defer func() {
		if roErr := b.readOnly(remount); roErr != nil {
			err = errors.Join(err, roErr)
		}
	}()
	return fn(b.Dir)
}

// readOnly remounts read-only. The kernel refuses (EBUSY) while a file on the partition is
// open for writing; Write's callers close theirs, so a refusal is retried for a moment only.
func (b *BootFS) readOnly(remount func(string, bool) error) error {
	var err error
	for attempt := 0; attempt < 20; attempt++ {
		if err = remount(b.Dir, false); err == nil {
			return nil
		}
		if !errors.Is(err, unix.EBUSY) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("boot partition %s: remount read-only: %w", b.Dir, err)
}

// Unmount flushes and unmounts the partition before power-off; Writes after it fail.
func (b *BootFS) Unmount() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.unmounted = true
	unix.Sync()
	if err := unix.Unmount(b.Dir, 0); err != nil && !errors.Is(err, unix.EINVAL) {
		return fmt.Errorf("unmount %s: %w", b.Dir, err)
	}
	return nil
}

func remountBoot(dir string, rw bool) error {
	flags := uintptr(unix.MS_REMOUNT | bootFlags)
	if !rw {
		flags |= unix.MS_RDONLY
	}
	if err := unix.Mount("", dir, "", flags, bootOptions); err != nil {
		return fmt.Errorf("remount %s: %w", dir, err)
	}
	return nil
}

// MountBoot finds the first partition holding a FAT filesystem with config.txt (the Pi's
// boot partition; in qemu the image attached as a virtio disk) and mounts it read-only on
// BootDir. SD and USB controllers probe asynchronously, so it retries until timeout.
func MountBoot(log *slog.Logger, timeout time.Duration) (*BootFS, error) {
	if err := os.MkdirAll(BootDir, 0o755); err != nil {
		return nil, fmt.Errorf("mkdir %s: %w", BootDir, err)
	}
	deadline := time.Now().Add(timeout)
	tried := map[string]bool{}
	for {
		for _, dev := range firstPartitions("/sys/class/block") {
			if tried[dev] {
				continue
			}
			tried[dev] = true
			err := unix.Mount("/dev/"+dev, BootDir, "vfat", unix.MS_RDONLY|bootFlags, bootOptions)
			if err != nil {
				log.Debug("not a boot partition", "dev", dev, "err", err)
				continue
			}
			if _, err := os.Stat(filepath.Join(BootDir, "config.txt")); err == nil {
				return &BootFS{Dir: BootDir, Dev: "/dev/" + dev}, nil
			}
			_ = unix.Unmount(BootDir, 0)
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("no FAT boot partition with config.txt after %s (tried %d)", timeout, len(tried))
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
