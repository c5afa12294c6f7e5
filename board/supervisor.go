package board

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Supervisor keeps one service process running: it starts it, restarts it with exponential
// backoff when it exits, and stops it (SIGTERM, then SIGKILL) when its context ends.
type Supervisor struct {
	Log    *slog.Logger
	Reaper *Reaper
	Path   string
	Args   []string
	Env    []string
	Output io.Writer // the child's stdout and stderr

	MinBackoff, MaxBackoff time.Duration // defaults 1 s, 30 s
	// StableAfter: a run at least this long resets the backoff (default 60 s).
	StableAfter time.Duration
	// StopGrace: how long SIGTERM gets before SIGKILL (default 10 s).
	StopGrace time.Duration
	// OnExit, if set, is called after each exit (PID 1 saves the log tail then).
	OnExit func(status unix.WaitStatus)

	starts    atomic.Int64
	heartbeat atomic.Int64 // unix nanoseconds of the loop's last turn
}

// Starts reports how many times the service has been started.
func (s *Supervisor) Starts() int64 { return s.starts.Load() }

// Alive reports whether the supervision loop has made progress within d (for the watchdog).
func (s *Supervisor) Alive(d time.Duration) bool {
	return time.Since(time.Unix(0, s.heartbeat.Load())) < d
}

// Backoff returns the delay before restart number n (n >= 1): min, 2*min, 4*min, ... max.
func Backoff(n int, min, max time.Duration) time.Duration {
	d := min
	for i := 1; i < n && d < max; i++ {
		d *= 2
	}
	if d > max {
		d = max
	}
	return d
}

func (s *Supervisor) defaults() {
	if s.MinBackoff == 0 {
		s.MinBackoff = time.Second
	}
	if s.MaxBackoff == 0 {
		s.MaxBackoff = 30 * time.Second
	}
	if s.StableAfter == 0 {
		s.StableAfter = time.Minute
	}
	if s.StopGrace == 0 {
		s.StopGrace = 10 * time.Second
	}
}

// Run supervises until ctx ends; it returns after the service has stopped.
func (s *Supervisor) Run(ctx context.Context) {
	s.defaults()
	failures := 0
	beat := time.NewTicker(time.Second)
	defer beat.Stop()
	for {
		s.heartbeat.Store(time.Now().UnixNano())
		started := time.Now()
		status, err := s.runOnce(ctx, beat.C)
		if ctx.Err() != nil {
			return
		}
		if err != nil {
			s.Log.Error("service did not start", "path", s.Path, "err", err)
		} else {
			s.Log.Warn("service exited", "status", describe(status), "ran", time.Since(started).Round(time.Millisecond))
		}
		if s.OnExit != nil {
			s.OnExit(status)
		}
		if time.Since(started) >= s.StableAfter {
			failures = 0
		}
		failures++
		delay := Backoff(failures, s.MinBackoff, s.MaxBackoff)
		s.Log.Info("restarting service", "in", delay, "attempt", failures)
		wait := time.NewTimer(delay)
	sleep:
		for {
			select {
			case <-ctx.Done():
				wait.Stop()
				return
			case <-beat.C:
				s.heartbeat.Store(time.Now().UnixNano())
			case <-wait.C:
				break sleep
			}
		}
	}
}

func (s *Supervisor) runOnce(ctx context.Context, beat <-chan time.Time) (unix.WaitStatus, error) {
	cmd := exec.Command(s.Path, s.Args...)
	cmd.Env = s.Env
	cmd.Stdout = s.Output
	cmd.Stderr = s.Output
	if f, ok := s.Output.(*os.File); ok {
		cmd.Stdout, cmd.Stderr = f, f
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	done, err := s.Reaper.Start(cmd)
	if err != nil {
		return 0, err
	}
	defer cmd.Process.Release()
	s.starts.Add(1)
	s.Log.Info("service started", "pid", cmd.Process.Pid, "args", s.Args)
	for {
		select {
		case st := <-done:
			return st, nil
		case <-beat:
			s.heartbeat.Store(time.Now().UnixNano())
		case <-ctx.Done():
			_ = cmd.Process.Signal(syscall.SIGTERM)
			select {
			case st := <-done:
				s.Log.Info("service stopped", "status", describe(st))
				return st, nil
			case <-time.After(s.StopGrace):
				_ = cmd.Process.Kill()
				st := <-done
				s.Log.Warn("service killed after grace period", "grace", s.StopGrace)
				return st, nil
			}
		}
	}
}

func describe(ws unix.WaitStatus) string {
	switch {
	case ws.Exited():
		return fmt.Sprintf("exit %d", ws.ExitStatus())
	case ws.Signaled():
		return fmt.Sprintf("signal %s", ws.Signal())
	}
	return fmt.Sprintf("status %#x", uint32(ws))
}
