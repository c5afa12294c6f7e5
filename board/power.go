package board

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// PowerOff flushes filesystems and powers the machine off (PSCI on the Pi and on qemu virt).
func PowerOff() error {
	unix.Sync()
	if err := unix.Reboot(unix.LINUX_REBOOT_CMD_POWER_OFF); err != nil {
		return fmt.Errorf("power off: %w", err)
	}
	return nil
}

// SetHostname sets the kernel's host name.
func SetHostname(name string) error {
	if err := unix.Sethostname([]byte(name)); err != nil {
		return fmt.Errorf("sethostname %q: %w", name, err)
	}
	return nil
}
