package board

import (
	"fmt"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"
)

// A Pi has no battery-backed clock: it starts in 1970 and stays there until NTP answers, and
// on a LAN without internet (cameras are often kept off it) NTP never does. The time of the
// camera's own last save on the card is a better guess than 1970: logs and the RTCP sender
// reports' wall clock then at least run forward from one boot to the next.

// ClockFloor is the newest modification time of the named files in dir, which the camera
// itself writes (its logs: a PC that edits camera.yml stamps it in its own time zone, as FAT
// keeps local time), and whether it is later than now, so that the clock should be set to it.
func ClockFloor(dir string, names []string, now time.Time) (time.Time, bool) {
	var newest time.Time
	for _, name := range names {
		if st, err := os.Stat(filepath.Join(dir, name)); err == nil && st.ModTime().After(newest) {
			newest = st.ModTime()
		}
	}
	return newest, newest.After(now)
}

// RestoreClock sets the clock forward to ClockFloor when the clock is behind it, and returns
// the time it was set to; zero when it was left alone.
func RestoreClock(dir string, names []string) (time.Time, error) {
	floor, behind := ClockFloor(dir, names, time.Now())
	if !behind {
		return time.Time{}, nil
	}
	tv := unix.NsecToTimeval(floor.UnixNano())
	if err := unix.Settimeofday(&tv); err != nil {
		return time.Time{}, fmt.Errorf("set clock to %s: %w", floor.UTC().Format(time.RFC3339), err)
	}
	return floor, nil
}
