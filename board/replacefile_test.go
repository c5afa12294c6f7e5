package board

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// TestLogTailSaveFailureRetried: a save that fails (partition not writable) leaves the tail
// marked changed, so the next save writes it.
func TestLogTailSaveFailureRetried(t *testing.T) {
	tail := &LogTail{Max: 100}
	fmt.Fprintln(tail, "hello")
	if err := tail.Save(filepath.Join(t.TempDir(), "missing"), "camerad.log"); err == nil {
		t.Fatal("save into a missing directory succeeded")
	}
	if !tail.Changed() {
		t.Fatal("failed save forgot the unsaved log")
	}
	dir := t.TempDir()
	if err := tail.Save(dir, "camerad.log"); err != nil || tail.Changed() {
		t.Fatalf("retry: %v, changed %v", err, tail.Changed())
	}
}

// TestReplaceFileLeftover: a name.new left by a power cut mid-save is replaced, not an
// obstacle, and none is left behind.
func TestReplaceFileLeftover(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "camerad.log.new"), []byte("torn"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "camerad.log"), []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := ReplaceFile(dir, "camerad.log", []byte("new"), 0o644); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(filepath.Join(dir, "camerad.log")); string(b) != "new" {
		t.Fatalf("content %q", b)
	}
	if _, err := os.Stat(filepath.Join(dir, "camerad.log.new")); !os.IsNotExist(err) {
		t.Fatal("leftover still there")
	}
}
