package board

import (
	"bytes"
	"context"
	"log/slog"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

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

// waitFor polls cond; the deadline only bounds a hung test, it asserts no timing.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// TestSupervisorRestartsFailingService runs a real child that exits 3 at once: the
// supervisor must collect each exit through the reaper and start it again.
func TestSupervisorRestartsFailingService(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// The reaper outlives the supervisor, as in PID 1: stopping a child needs its status.
	rctx, rcancel := context.WithCancel(context.Background())
	defer rcancel()
	r := NewReaper()
	go r.Run(rctx)
	var out, logs syncBuffer
	var mu sync.Mutex
	var statuses []unix.WaitStatus
	s := &Supervisor{
		Log:    slog.New(slog.NewTextHandler(&logs, nil)),
		Reaper: r, Path: "/bin/sh", Args: []string{"-c", "echo running; exit 3"},
		Output:     &out,
		MinBackoff: time.Millisecond, MaxBackoff: 4 * time.Millisecond,
		OnExit: func(ws unix.WaitStatus) {
			mu.Lock()
			statuses = append(statuses, ws)
			mu.Unlock()
		},
	}
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	waitFor(t, "three exits", func() bool { mu.Lock(); defer mu.Unlock(); return len(statuses) >= 3 })
	cancel()
	<-done
	mu.Lock()
	defer mu.Unlock()
	for _, ws := range statuses {
		if !ws.Exited() || ws.ExitStatus() != 3 {
			t.Errorf("status %v, want exit 3", describe(ws))
		}
	}
	if s.Starts() < 3 {
		t.Errorf("starts %d", s.Starts())
	}
	waitFor(t, "child output", func() bool { return strings.Count(out.String(), "running\n") >= 3 })
	if !strings.Contains(logs.String(), "service exited") || !strings.Contains(logs.String(), "status=\"exit 3\"") {
		t.Errorf("log:\n%s", logs.String())
	}
}

// TestSupervisorStopsServiceOnCancel: a long-running child gets SIGTERM and is reaped.
func TestSupervisorStopsServiceOnCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	r := NewReaper()
	rctx, rcancel := context.WithCancel(context.Background())
	defer rcancel()
	go r.Run(rctx)
	var logs syncBuffer
	s := &Supervisor{
		Log:    slog.New(slog.NewTextHandler(&logs, nil)),
		Reaper: r, Path: "/bin/sh", Args: []string{"-c", "echo up; exec sleep 600"},
		Output: &syncBuffer{},
	}
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	waitFor(t, "start", func() bool { return s.Starts() == 1 })
	if !s.Alive(time.Minute) {
		t.Error("supervisor not alive while running")
	}
	cancel()
	<-done
	if !strings.Contains(logs.String(), "service stopped") || !strings.Contains(logs.String(), "signal terminated") {
		t.Fatalf("log:\n%s", logs.String())
	}
}

// TestReaperCollectsOrphans: a grandchild whose parent exits is PID 1's to reap on a camera;
// here the reaper must at least collect every direct child without a waiter, so none stays
// a zombie.
func TestReaperCollectsUnwatchedChildren(t *testing.T) {
	r := NewReaper()
	pid, err := syscall.ForkExec("/bin/true", []string{"true"}, &syscall.ProcAttr{})
	if err != nil {
		t.Fatal(err)
	}
	waitFor(t, "reap of unwatched child", func() bool {
		r.ReapAll()
		return unix.Kill(pid, 0) == unix.ESRCH
	})
}
