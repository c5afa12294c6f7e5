package board

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// fakeMount stands in for mount(2) MS_REMOUNT: it records the mount's state, refuses a
// read-only remount while busy says so (a file open for writing), and fails remounts when
// told to.
type fakeMount struct {
	mu      sync.Mutex
	rw      bool
	writers int // Writes seen running at once (must never exceed 1)
	maxRW   int
	calls   []string
	busy    int   // refuse this many read-only remounts with EBUSY
	failRW  error // refuse read-write remounts
	failRO  error // refuse read-only remounts
}

func (f *fakeMount) remount(_ string, rw bool) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.calls = append(f.calls, map[bool]string{true: "rw", false: "ro"}[rw])
	switch {
	case rw && f.failRW != nil:
		return f.failRW
	case !rw && f.busy > 0:
		f.busy--
		return unix.EBUSY
	case !rw && f.failRO != nil:
		return f.failRO
	}
	f.rw = rw
	return nil
}

func (f *fakeMount) isRW() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.rw
}

// TestBootFSWritableOnlyInsideWrite: the partition is read-write while fn runs and
// read-only again after, whether fn succeeds, fails or panics; concurrent Writes never
// overlap (one remount cycle each).
func TestBootFSWritableOnlyInsideWrite(t *testing.T) {
	fm := &fakeMount{}
	b := &BootFS{Dir: t.TempDir(), remount: fm.remount}
	if err := b.Write(func(dir string) error {
		if !fm.isRW() {
			t.Error("fn ran on a read-only partition")
		}
		return os.WriteFile(filepath.Join(dir, "f"), []byte("x"), 0o644)
	}); err != nil {
		t.Fatal(err)
	}
	if fm.isRW() {
		t.Fatal("left read-write after a Write")
	}
	errFn := errors.New("disk full")
	if err := b.Write(func(string) error { return errFn }); !errors.Is(err, errFn) || fm.isRW() {
		t.Fatalf("failed fn: err %v, rw %v", err, fm.isRW())
	}
	func() {
		defer func() {
			if recover() == nil {
				t.Error("panic swallowed")
			}
		}()
		_ = b.Write(func(string) error { panic("bug") })
	}()
	if fm.isRW() {
		t.Fatal("left read-write after a panic in fn")
	}

	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = b.Write(func(string) error {
				fm.mu.Lock()
				fm.writers++
				fm.maxRW = max(fm.maxRW, fm.writers)
				fm.mu.Unlock()
				time.Sleep(time.Millisecond)
				fm.mu.Lock()
				fm.writers--
				fm.mu.Unlock()
				return nil
			})
		}()
	}
	wg.Wait()
	if fm.maxRW != 1 || fm.isRW() {
		t.Fatalf("concurrent Writes overlapped (%d at once) or left it read-write", fm.maxRW)
	}
	for i := 0; i < len(fm.calls); i += 2 {
		if fm.calls[i] != "rw" || i+1 >= len(fm.calls) || fm.calls[i+1] != "ro" {
			t.Fatalf("remounts not paired rw, ro: %v", fm.calls)
		}
	}
}

// TestBootFSRemountFailures: a refused read-write remount skips fn; a read-only remount
// refused for a moment (EBUSY) is retried; one that keeps failing is reported.
func TestBootFSRemountFailures(t *testing.T) {
	fm := &fakeMount{failRW: unix.EROFS}
	b := &BootFS{Dir: "/boot", remount: fm.remount}
	ran := false
	err := b.Write(func(string) error { ran = true; return nil })
	if err == nil || ran || !strings.Contains(err.Error(), "read-write") {
		t.Fatalf("refused rw: err %v, fn ran %v", err, ran)
	}

	fm = &fakeMount{busy: 3}
	b.remount = fm.remount
	if err := b.Write(func(string) error { return nil }); err != nil || fm.isRW() {
		t.Fatalf("busy for a moment: err %v, rw %v", err, fm.isRW())
	}

	fm = &fakeMount{failRO: unix.EIO}
	b.remount = fm.remount
	if err := b.Write(func(string) error { return nil }); err == nil || !strings.Contains(err.Error(), "read-only") {
		t.Fatalf("failing ro remount not reported: %v", err)
	}
	fm.failRO = nil
	if err := b.Write(func(string) error { return nil }); err != nil || fm.isRW() {
		t.Fatalf("next Write did not bring it back to read-only: err %v, rw %v", err, fm.isRW())
	}
}

// TestBootLogKeepsPreviousBoot: the first save of a boot moves the last boot's log to
// camerad-previous.log, once; later saves of the same boot leave it alone.
func TestBootLogKeepsPreviousBoot(t *testing.T) {
	dir := t.TempDir()
	boot := func() (*BootLog, *LogTail) {
		fm := &fakeMount{}
		tail := &LogTail{Max: 1 << 10}
		return &BootLog{Tail: tail, FS: &BootFS{Dir: dir, remount: fm.remount}, Name: "camerad.log",
			PreviousName: "camerad-previous.log", Log: slog.New(slog.NewTextHandler(io.Discard, nil))}, tail
	}
	read := func(name string) string {
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			return "<" + err.Error() + ">"
		}
		return string(b)
	}
	for n := 1; n <= 3; n++ {
		l, tail := boot()
		for save := 1; save <= 2; save++ {
			fmt.Fprintf(tail, "boot %d line %d\n", n, save)
			if err := l.Save(); err != nil {
				t.Fatal(err)
			}
		}
		if got, want := read("camerad.log"), fmt.Sprintf("boot %d line 1\nboot %d line 2\n", n, n); got != want {
			t.Fatalf("boot %d: camerad.log %q, want %q", n, got, want)
		}
		want := "<open " + filepath.Join(dir, "camerad-previous.log") + ": no such file or directory>"
		if n > 1 {
			want = fmt.Sprintf("boot %d line 1\nboot %d line 2\n", n-1, n-1)
		}
		if got := read("camerad-previous.log"); got != want {
			t.Fatalf("boot %d: camerad-previous.log %q, want %q", n, got, want)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Fatalf("files left: %v", entries)
	}
}
