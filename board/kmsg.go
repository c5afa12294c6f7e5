package board

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// KernelLog forwards the kernel's warnings and errors (/dev/kmsg) into PID 1's log, so that
// camerad.log shows them too, e.g. a driver's firmware that could not be loaded. Forwarding
// is rate-limited: Burst lines at once, then one per Every; lines held back are counted and
// the count logged with the next line that passes. It also remembers which firmware files
// the kernel could not find (MissingFirmware), whatever their rate.
type KernelLog struct {
	Log   *slog.Logger
	Burst int           // default 20
	Every time.Duration // default 10 s

	now func() time.Time // tests

	mu      sync.Mutex
	tokens  float64
	last    time.Time
	started bool
	held    int
	missing []string
}

// kmsgWarning is the least severe kernel level forwarded (KERN_WARNING).
const kmsgWarning = 4

// Run reads r, an open /dev/kmsg, which returns one record per read, until it fails.
func (k *KernelLog) Run(r io.Reader) error {
	buf := make([]byte, 8192) // the kernel's longest record
	for {
		n, err := r.Read(buf)
		if errors.Is(err, unix.EPIPE) {
			continue // records were overwritten before we read them; go on with the next
		}
		if err != nil {
			return fmt.Errorf("kernel log: %w", err)
		}
		k.record(buf[:n])
	}
}

// MissingFirmware lists the firmware files the kernel said it could not load, in order.
func (k *KernelLog) MissingFirmware() []string {
	k.mu.Lock()
	defer k.mu.Unlock()
	return slices.Clone(k.missing)
}

func (k *KernelLog) record(rec []byte) {
	facility, level, uptime, text, ok := parseKmsg(rec)
	if !ok || facility != 0 { // 0: the kernel's own, not a user space write to /dev/kmsg
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if fw, ok := missingFirmware(text); ok && !slices.Contains(k.missing, fw) {
		k.missing = append(k.missing, fw)
	}
	if level > kmsgWarning {
		return
	}
	if !k.allow() {
		k.held++
		return
	}
	if k.held > 0 {
		k.Log.Warn("kernel: messages not shown (too many)", "count", k.held)
		k.held = 0
	}
	lvl := slog.LevelWarn
	if level < kmsgWarning {
		lvl = slog.LevelError
	}
	k.Log.Log(context.Background(), lvl, "kernel: "+text, "uptime", uptime)
}

// allow takes a token from the bucket, refilled at one per Every up to Burst.
func (k *KernelLog) allow() bool {
	burst, every := k.Burst, k.Every
	if burst <= 0 {
		burst = 20
	}
	if every <= 0 {
		every = 10 * time.Second
	}
	now := time.Now()
	if k.now != nil {
		now = k.now()
	}
	if !k.started {
		k.started, k.tokens = true, float64(burst)
	} else {
		k.tokens = min(float64(burst), k.tokens+float64(now.Sub(k.last))/float64(every))
	}
	k.last = now
	if k.tokens < 1 {
		return false
	}
	k.tokens--
	return true
}

// parseKmsg splits a /dev/kmsg record, "prio,seq,usec,flags[,...];text\n" followed by
// " KEY=value" lines, into the syslog facility and level, the time since boot and the text.
func parseKmsg(rec []byte) (facility, level int, uptime time.Duration, text string, ok bool) {
	head, body, found := bytes.Cut(rec, []byte{';'})
	if !found {
		return 0, 0, 0, "", false
	}
	fields := strings.Split(string(head), ",")
	if len(fields) < 3 {
		return 0, 0, 0, "", false
	}
	prio, err := strconv.Atoi(fields[0])
	if err != nil || prio < 0 {
		return 0, 0, 0, "", false
	}
	usec, err := strconv.ParseInt(fields[2], 10, 64)
	if err != nil {
		return 0, 0, 0, "", false
	}
	if i := bytes.IndexByte(body, '\n'); i >= 0 {
		body = body[:i] // the rest is the device's KEY=value lines
	}
	return prio >> 3, prio & 7, time.Duration(usec) * time.Microsecond, string(body), true
}

// missingFirmware picks the file out of the firmware loader's "Direct firmware load for
// brcm/x.bin failed with error -2".
func missingFirmware(text string) (string, bool) {
	_, rest, ok := strings.Cut(text, "Direct firmware load for ")
	if !ok {
		return "", false
	}
	name, _, ok := strings.Cut(rest, " failed")
	return name, ok && name != ""
}
