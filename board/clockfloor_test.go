package board

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// TestClockFloor: the newest of the camera's own files on the card sets a floor for a clock
// that starts in 1970; a clock already past it is left alone, and files the camera does not
// write (camera.yml, stamped by a PC in its own time zone) do not count.
func TestClockFloor(t *testing.T) {
	dir := t.TempDir()
	saved := time.Date(2026, 11, 20, 18, 30, 0, 0, time.UTC)
	stamp := func(name string, at time.Time) {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("x"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, at, at); err != nil {
			t.Fatal(err)
		}
	}
	stamp("camerad.log", saved)
	stamp("camerad-previous.log", saved.Add(-time.Hour))
	stamp("camera.yml", saved.Add(10*time.Hour)) // edited on a PC east of UTC
	names := []string{"camerad.log", "camerad-previous.log", "missing.log"}

	if floor, behind := ClockFloor(dir, names, time.Unix(0, 0)); !behind || !floor.Equal(saved) {
		t.Errorf("clock in 1970: floor %v (behind %v), want the last save %v", floor, behind, saved)
	}
	if _, behind := ClockFloor(dir, names, saved.Add(time.Minute)); behind {
		t.Error("a clock past the last save would be set back")
	}
	if _, behind := ClockFloor(t.TempDir(), names, time.Unix(0, 0)); behind {
		t.Error("a card without the camera's files sets the clock")
	}
}
