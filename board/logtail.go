package board

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
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

// Save writes the retained log to dir/name if it changed since the last Save. It writes a
// temporary file, syncs it and renames it over the old one, so a power cut leaves either the
// old or the new log, never a torn one.
func (t *LogTail) Save(dir, name string) error {
	t.mu.Lock()
	if !t.dirty {
		t.mu.Unlock()
		return nil
	}
	data := bytes.Clone(t.buf)
	t.dirty = false
	t.mu.Unlock()

	final := filepath.Join(dir, name)
	tmp := final + ".new"
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return fmt.Errorf("save log: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("save log %s: %w", tmp, err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("save log %s: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("save log %s: %w", tmp, err)
	}
	if err := os.Rename(tmp, final); err != nil {
		return fmt.Errorf("save log: %w", err)
	}
	return nil
}
