package board

import (
	"bytes"
	"fmt"
	"log/slog"
	"sync"
)

// LogTail keeps the last Max bytes of the log, whole lines only, so PID 1 can leave them on
// the boot partition (camerad.log) for a user to read on a PC when the camera misbehaves.
type LogTail struct {
	Max int

	mu    sync.Mutex
	buf   []byte
	dirty bool
}

// Write appends p, dropping the oldest lines beyond Max. It never fails: logging must not.
func (t *LogTail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	if over := len(t.buf) - t.Max; t.Max > 0 && over > 0 {
		cut := over
		if i := bytes.IndexByte(t.buf[over:], '\n'); i >= 0 {
			cut = over + i + 1
		}
		t.buf = append(t.buf[:0], t.buf[cut:]...)
	}
	t.dirty = true
	return len(p), nil
}

// Bytes returns a copy of the retained log.
func (t *LogTail) Bytes() []byte {
	t.mu.Lock()
	defer t.mu.Unlock()
	return bytes.Clone(t.buf)
}

// Save writes the retained log to dir/name if it changed since the last Save, through
// ReplaceFile, so a power cut leaves either the old or the new log, never a torn one. A
// failed Save is retried by the next one.
func (t *LogTail) Save(dir, name string) error {
	t.mu.Lock()
	if !t.dirty {
		t.mu.Unlock()
		return nil
	}
	data := bytes.Clone(t.buf)
	t.dirty = false
	t.mu.Unlock()

	if err := ReplaceFile(dir, name, data, 0o644); err != nil {
		t.mu.Lock()
		t.dirty = true
		t.mu.Unlock()
		return fmt.Errorf("save log: %w", err)
	}
	return nil
}

// Changed reports whether the log has grown since the last successful Save.
func (t *LogTail) Changed() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.dirty
}

// BootLog keeps PID 1's log on the boot partition for a user to read on a PC: this boot's
// as Name, and the boot before's as PreviousName, so that after a reset (a crash, the
// watchdog, a power cut) the log of what led to it is still there. The previous log is
// copied aside once, in this boot's first Save, just before Name is first overwritten.
type BootLog struct {
	Tail         *LogTail
	FS           *BootFS
	Name         string // "camerad.log"
	PreviousName string // "camerad-previous.log"
	Log          *slog.Logger

	mu   sync.Mutex
	kept bool // the previous boot's log has been dealt with
}

// Save writes the tail to the partition if it changed, making the partition writable for
// that moment only (BootFS.Write).
func (l *BootLog) Save() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.Tail.Changed() {
		return nil
	}
	return l.FS.Write(func(dir string) error {
		if !l.kept {
			// A previous log that cannot be read (a damaged card) must not stop this
			// boot's from being kept: say so and go on.
			if err := KeepPrevious(dir, l.Name, l.PreviousName); err != nil {
				l.Log.Warn("previous boot's log not kept", "err", err)
			}
			l.kept = true
		}
		return l.Tail.Save(dir, l.Name)
	})
}
