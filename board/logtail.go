package board

import (
	"bytes"
	"fmt"
	"log/slog"
	"sync"
)

// LogTail keeps, in at most Max bytes of whole lines, what a user reading camerad.log on a
// PC after a problem needs: the start of the boot (versions, settings, network, the camera's
// address; a quarter of Max), the latest lines (half of Max), and between them the warnings
// and errors of the lines left out (the last quarter). A line in their place says how many
// lines were left out. An NVR or Home Assistant taking a snapshot every 10 s writes two
// lines a time; kept as a plain tail, those pushed out why the camera had restarted within
// the hour.
type LogTail struct {
	Max int

	mu      sync.Mutex
	partial []byte // a line not yet ended
	head    []byte
	headEnd bool   // the head is complete: later lines go to the tail
	notable []byte // warnings and errors left out of the tail, oldest first
	skipped int    // lines left out altogether
	tail    []byte
	dirty   bool
}

// Write appends p, leaving out old lines beyond the budget. It never fails: logging must
// not.
func (t *LogTail) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.partial = append(t.partial, p...)
	for {
		i := bytes.IndexByte(t.partial, '\n')
		if i < 0 {
			break
		}
		t.addLine(t.partial[:i+1])
		t.partial = t.partial[i+1:]
	}
	if t.Max > 0 && len(t.partial) > t.tailMax() { // a writer that never ends its line
		t.addLine(append(t.partial, '\n'))
		t.partial = nil
	}
	t.partial = bytes.Clone(t.partial) // do not pin a large write's array
	t.dirty = true
	return len(p), nil
}

func (t *LogTail) headMax() int    { return t.Max / 4 }
func (t *LogTail) notableMax() int { return t.Max / 4 }
func (t *LogTail) tailMax() int    { return t.Max - t.headMax() - t.notableMax() }

// addLine files one whole line.
func (t *LogTail) addLine(line []byte) {
	if t.Max <= 0 {
		t.tail = append(t.tail, line...)
		return
	}
	if m := t.tailMax(); m > 1 && len(line) > m { // one giant line must not take the whole budget
		line = append(line[:m-1:m-1], '\n')
	}
	if !t.headEnd {
		if len(t.head)+len(line) <= t.headMax() {
			t.head = append(t.head, line...)
			return
		}
		t.headEnd = true
	}
	t.tail = append(t.tail, line...)
	for len(t.tail) > t.tailMax() {
		i := bytes.IndexByte(t.tail, '\n')
		if old := t.tail[:i+1]; notableLine(old) {
			t.notable = append(t.notable, old...)
		} else {
			t.skipped++
		}
		t.tail = t.tail[i+1:]
	}
	for len(t.notable) > 0 && len(t.notable)+len(t.marker()) > t.notableMax() {
		t.notable = t.notable[bytes.IndexByte(t.notable, '\n')+1:]
		t.skipped++
	}
	// Re-slicing from the front leaves the arrays' heads unused: compact now and then.
	if cap(t.tail) > 4*t.Max {
		t.tail = bytes.Clone(t.tail)
	}
	if cap(t.notable) > 4*t.Max {
		t.notable = bytes.Clone(t.notable)
	}
}

// notableLine reports whether a log line is a warning or an error, worth keeping when the
// lines around it are left out.
func notableLine(line []byte) bool {
	return bytes.Contains(line, []byte("level=WARN")) || bytes.Contains(line, []byte("level=ERROR"))
}

// marker is the line standing in for the lines left out, or nothing if none were.
func (t *LogTail) marker() []byte {
	if t.skipped == 0 {
		return nil
	}
	return fmt.Appendf(nil, "[%d lines left out; warnings and errors kept]\n", t.skipped)
}

// Bytes returns the retained log.
func (t *LogTail) Bytes() []byte {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.bytes()
}

func (t *LogTail) bytes() []byte {
	out := make([]byte, 0, len(t.head)+len(t.notable)+len(t.tail)+len(t.partial)+64)
	out = append(out, t.head...)
	out = append(out, t.marker()...)
	out = append(out, t.notable...)
	out = append(out, t.tail...)
	return append(out, t.partial...)
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
	data := t.bytes()
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
