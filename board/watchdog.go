package board

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Linux watchdog ioctls (linux/watchdog.h).
const (
	wdiocKeepalive  = 0x80045705 // _IOR('W', 5, int)
	wdiocSetTimeout = 0xc0045706 // _IOWR('W', 6, int)
)

// Watchdog is an open /dev/watchdog: if PID 1 stops feeding it (hang, crash of the whole
// box), the hardware resets the camera.
type Watchdog struct {
	f       *os.File
	Timeout time.Duration
}

// OpenWatchdog opens dev and asks for timeout (drivers may clamp it: bcm2835_wdt allows ~15 s).
// The driver is a module, so its device may appear a moment after loading; wait for it.
func OpenWatchdog(dev string, timeout, wait time.Duration) (*Watchdog, error) {
	deadline := time.Now().Add(wait)
	var f *os.File
	var err error
	for {
		f, err = os.OpenFile(dev, os.O_WRONLY, 0)
		if err == nil || !errors.Is(err, os.ErrNotExist) || time.Now().After(deadline) {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if err != nil {
		return nil, fmt.Errorf("watchdog: %w", err)
	}
	secs := int32(timeout / time.Second)
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, f.Fd(), wdiocSetTimeout, uintptr(unsafe.Pointer(&secs))); e != 0 {
		secs = 0 // keep the driver's default; still feed it often
	}
	w := &Watchdog{f: f, Timeout: time.Duration(secs) * time.Second}
	return w, nil
}

// Feed tells the watchdog the system is alive.
func (w *Watchdog) Feed() error {
	var dummy int32
	if _, _, e := unix.Syscall(unix.SYS_IOCTL, w.f.Fd(), wdiocKeepalive, uintptr(unsafe.Pointer(&dummy))); e != 0 {
		return fmt.Errorf("watchdog keepalive: %w", e)
	}
	return nil
}

// Run feeds the watchdog every interval while alive() is true, until ctx ends. alive lets the
// caller stop feeding when its own supervision loop is stuck, so the reset covers more than
// "the Go runtime still schedules goroutines".
func (w *Watchdog) Run(ctx context.Context, interval time.Duration, alive func() bool) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if alive == nil || alive() {
			_ = w.Feed()
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
