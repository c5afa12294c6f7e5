package pipesrc

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/camerad/camerad/encoder"
	"github.com/camerad/camerad/encoder/clipsrc"
	"github.com/camerad/camerad/encoder/h264"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// waitLimit bounds how long a test waits for a condition; it is a safety net against hangs,
// not a performance assertion.
const waitLimit = 60 * time.Second

// syncBuffer is a log sink shared by the source's goroutines and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

type harness struct {
	t     *testing.T
	pool  *encoder.Pool
	logs  *syncBuffer
	src   *Source
	clip  string // path of the default clip on disk
	mu    sync.Mutex
	units []*encoder.AccessUnit
}

func newHarness(t *testing.T, cfg Config) *harness {
	t.Helper()
	dir := t.TempDir()
	clip := filepath.Join(dir, "clip.h264")
	if err := os.WriteFile(clip, clipsrc.Default(), 0o644); err != nil {
		t.Fatal(err)
	}
	for i, a := range cfg.Command {
		cfg.Command[i] = strings.ReplaceAll(strings.ReplaceAll(a, "$CLIP", clip), "$DIR", dir)
	}
	h := &harness{t: t, pool: encoder.NewPool(), logs: &syncBuffer{}, clip: clip}
	log := slog.New(slog.NewTextHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	src, err := New(cfg, h.pool, log)
	if err != nil {
		t.Fatal(err)
	}
	src.killGrace = 100 * time.Millisecond // the default 2 s would only slow the tests
	h.src = src
	return h
}

// run runs the source until until reports true for the units so far (checked after each
// publish), then stops it, and returns Run's error.
func (h *harness) run(until func(units []*encoder.AccessUnit, logs string) bool) error {
	h.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitLimit)
	defer cancel()
	done := make(chan error, 1)
	go func() {
		done <- h.src.Run(ctx, func(au *encoder.AccessUnit) {
			h.mu.Lock()
			h.units = append(h.units, au)
			stop := until(h.units, h.logs.String())
			h.mu.Unlock()
			if stop {
				cancel()
			}
		})
	}()
	err := <-done
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		h.t.Fatalf("condition not met within %v; %d units; logs:\n%s", waitLimit, len(h.units), h.logs.String())
	}
	return err
}

// release drops the test's references and checks the pool got every unit back.
func (h *harness) release() {
	for _, au := range h.units {
		au.Release()
	}
	if got := h.pool.Outstanding(); got != 0 {
		h.t.Errorf("pool outstanding = %d after releasing every unit", got)
	}
	if got := h.pool.DoubleReleases(); got != 0 {
		h.t.Errorf("double releases = %d", got)
	}
}

// checkUnit verifies one published unit against clip frame i: same NAL units, and a
// capture-time SEI carrying Captured before a keyframe's first slice, and none elsewhere.
func checkUnit(t *testing.T, au *encoder.AccessUnit, want [][]byte) {
	t.Helper()
	var rest [][]byte
	sawSEI := false
	for _, n := range au.NALUs() {
		if ts, ok := h264.ParseCaptureTimeSEI(n); ok {
			if !ts.Equal(au.Captured.Truncate(time.Microsecond)) {
				t.Fatalf("SEI time %v, Captured %v", ts, au.Captured)
			}
			sawSEI = true
			continue
		}
		if h264.TypeOf(n).IsVCL() && au.Keyframe && !sawSEI {
			t.Fatal("keyframe slice before the capture-time SEI")
		}
		rest = append(rest, n)
	}
	if len(rest) != len(want) {
		t.Fatalf("%d NAL units, want %d", len(rest), len(want))
	}
	for i := range want {
		if !bytes.Equal(rest[i], want[i]) {
			t.Fatalf("NAL unit %d differs from the clip", i)
		}
	}
	if au.Keyframe != h264.IsKeyframe(want) {
		t.Fatalf("Keyframe = %v", au.Keyframe)
	}
	if sawSEI != au.Keyframe {
		t.Fatalf("capture-time SEI %v in a unit with Keyframe %v: want it in keyframes only", sawSEI, au.Keyframe)
	}
}

func clipFrames(t *testing.T) [][][]byte {
	t.Helper()
	units, _ := readAll(t, bytes.NewReader(clipsrc.Default()), DefaultMaxUnitSize)
	return units
}

// TestChildRestarts plays the clip from `cat` three times: the child exits after each pass
// and is restarted; every pass arrives whole, in order, stamped and with SEIs.
func TestChildRestarts(t *testing.T) {
	h := newHarness(t, Config{Command: []string{"sh", "-c", `cat "$0"; echo done >&2; exit 3`, "$CLIP"},
		MinBackoff: time.Millisecond, MaxBackoff: 4 * time.Millisecond})
	frames := clipFrames(t)
	err := h.run(func(units []*encoder.AccessUnit, _ string) bool { return len(units) == 3*len(frames) })
	if err != nil {
		t.Fatalf("Run = %v, want nil", err)
	}
	defer h.release()
	for i, au := range h.units {
		checkUnit(t, au, frames[i%len(frames)])
		if i > 0 && au.PTS <= h.units[i-1].PTS {
			t.Fatalf("unit %d PTS %v not after %v", i, au.PTS, h.units[i-1].PTS)
		}
		if i > 0 && au.Captured.Before(h.units[i-1].Captured) {
			t.Fatalf("unit %d Captured goes back", i)
		}
	}
	logs := h.logs.String()
	if n := strings.Count(logs, "child exited"); n < 2 {
		t.Errorf("%d restarts logged, want at least 2:\n%s", n, logs)
	}
	if !strings.Contains(logs, "exit status 3") || !strings.Contains(logs, `stderr="done`) {
		t.Errorf("exit status or stderr tail missing from the log:\n%s", logs)
	}
}

// TestChildGarbage: a child that writes 6 MB without any start code, a truncated huge NAL
// and then the clip. The garbage is dropped without growing memory past the limit and the
// clip comes through from its first keyframe.
func TestChildGarbage(t *testing.T) {
	h := newHarness(t, Config{
		Command:     []string{"sh", "-c", `head -c 6000000 /dev/zero | tr '\0' x; printf '\0\0\1\145'; head -c 3000000 /dev/zero | tr '\0' U; cat "$0"; exec sleep 600`, "$CLIP"},
		MaxUnitSize: 1 << 20,
	})
	frames := clipFrames(t)
	err := h.run(func(units []*encoder.AccessUnit, _ string) bool { return len(units) == len(frames)-1 })
	if err != nil {
		t.Fatal(err)
	}
	defer h.release()
	for i, au := range h.units {
		checkUnit(t, au, frames[i])
	}
	if logs := h.logs.String(); !strings.Contains(logs, "larger than the limit") {
		t.Errorf("oversized unit not logged:\n%s", logs)
	}
}

// TestChildProcessGroupKilled stops the source while the child (a shell) and its own child
// (sleep) are running: both must be gone when Run returns, even though the shell ignores
// SIGTERM.
func TestChildProcessGroupKilled(t *testing.T) {
	h := newHarness(t, Config{Command: []string{"sh", "-c", `trap '' TERM; echo $$ > "$1"; sleep 600 & cat "$0"; wait`, "$CLIP", "$DIR/pid"}})
	err := h.run(func(units []*encoder.AccessUnit, _ string) bool { return len(units) == 10 })
	if err != nil {
		t.Fatal(err)
	}
	defer h.release()
	b, err := os.ReadFile(filepath.Join(filepath.Dir(h.clip), "pid"))
	if err != nil {
		t.Fatal(err)
	}
	pgid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	// SIGKILL is delivered asynchronously, and the orphaned sleep stays a zombie until init
	// reaps it: wait for the group to have no live member.
	deadline := time.Now().Add(waitLimit)
	for {
		live := liveMembers(t, pgid)
		if len(live) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("process group %d still has live members %v after Run returned", pgid, live)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// liveMembers lists the processes of group pgid that are not zombies, from /proc.
func liveMembers(t *testing.T, pgid int) []int {
	t.Helper()
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	var live []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue // exited meanwhile
		}
		// Fields after the parenthesised command: state ppid pgrp ...
		rest := string(stat[bytes.LastIndexByte(stat, ')')+2:])
		f := strings.Fields(rest)
		if len(f) < 3 || f[0] == "Z" {
			continue
		}
		if g, _ := strconv.Atoi(f[2]); g == pgid {
			live = append(live, pid)
		}
	}
	return live
}

// TestChildClosesStdout: a child that closes its stdout but keeps running is ended and
// restarted rather than waited for forever.
func TestChildClosesStdout(t *testing.T) {
	h := newHarness(t, Config{Command: []string{"sh", "-c", `cat "$0"; exec >&-; exec sleep 600`, "$CLIP"},
		MinBackoff: time.Millisecond, MaxBackoff: time.Millisecond})
	frames := clipFrames(t)
	err := h.run(func(units []*encoder.AccessUnit, _ string) bool { return len(units) == len(frames)+1 })
	if err != nil {
		t.Fatal(err)
	}
	defer h.release()
	if !h.units[len(frames)].Keyframe {
		t.Error("second run does not start at a keyframe")
	}
	if logs := h.logs.String(); !strings.Contains(logs, "signal: terminated") {
		t.Errorf("lingering child not terminated:\n%s", logs)
	}
}

// TestChildSilentIsRestarted: a child that keeps its stdout open but writes nothing more (a
// hung camera program) is ended after Silence and started again, with a log line saying why.
func TestChildSilentIsRestarted(t *testing.T) {
	h := newHarness(t, Config{Command: []string{"sh", "-c", `cat "$0"; exec sleep 600`, "$CLIP"},
		MinBackoff: time.Millisecond, MaxBackoff: time.Millisecond, Silence: 300 * time.Millisecond})
	frames := clipFrames(t)
	err := h.run(func(units []*encoder.AccessUnit, _ string) bool { return len(units) == len(frames)+1 })
	if err != nil {
		t.Fatal(err)
	}
	defer h.release()
	if !h.units[len(frames)].Keyframe {
		t.Error("the restarted child's first unit is not a keyframe")
	}
	if logs := h.logs.String(); !strings.Contains(logs, "no output from the command for 300ms") {
		t.Errorf("the silent child's end is not logged with its reason:\n%s", logs)
	}
}

func TestStdin(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	pool := encoder.NewPool()
	src, err := New(Config{Stdin: r, FPS: 30}, pool, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		_, _ = w.Write(clipsrc.Default())
		w.Close()
	}()
	var units []*encoder.AccessUnit
	err = src.Run(context.Background(), func(au *encoder.AccessUnit) { units = append(units, au) })
	if !errors.Is(err, io.EOF) {
		t.Errorf("Run at end of stdin = %v, want io.EOF", err)
	}
	frames := clipFrames(t)
	if len(units) != len(frames) {
		t.Fatalf("%d units, want %d", len(units), len(frames))
	}
	for i, au := range units {
		checkUnit(t, au, frames[i])
		au.Release()
	}
	if pool.Outstanding() != 0 {
		t.Errorf("outstanding = %d", pool.Outstanding())
	}
}

// TestStdinCancel stops a source blocked reading an idle pipe.
func TestStdinCancel(t *testing.T) {
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	src, err := New(Config{Stdin: r}, encoder.NewPool(), nil)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, func(au *encoder.AccessUnit) { au.Release() }) }()
	if _, err := w.Write(clipsrc.Default()[:5000]); err != nil {
		t.Fatal(err)
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run after cancel = %v, want nil", err)
		}
	case <-time.After(waitLimit):
		t.Fatal("Run did not return after cancel")
	}
}

func TestNewErrors(t *testing.T) {
	pool := encoder.NewPool()
	for name, cfg := range map[string]Config{
		"missing command": {Command: []string{"/nonexistent/rpicam-vid"}},
		"empty command":   {Command: []string{}},
		"negative fps":    {Command: []string{"cat"}, FPS: -1},
		"backoff order":   {Command: []string{"cat"}, MinBackoff: time.Second, MaxBackoff: time.Millisecond},
		"tiny unit limit": {Command: []string{"cat"}, MaxUnitSize: 10},
	} {
		if _, err := New(cfg, pool, nil); err == nil {
			t.Errorf("%s: New succeeded", name)
		}
	}
	if _, err := New(Config{Command: []string{"cat"}}, nil, nil); err == nil {
		t.Error("nil pool accepted")
	}
}
