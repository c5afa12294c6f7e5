package pipesrc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

const (
	// defaultKillGrace is how long a child gets after SIGTERM (or after closing its stdout)
	// before SIGKILL.
	defaultKillGrace = 2 * time.Second
	// drainGrace bounds the reads after the child's process group is gone: only a process
	// that left the group can still hold the pipes open.
	drainGrace = time.Second
	// stderrTail is how much of a child's stderr is kept for the exit log line.
	stderrTail = 2048
)

// childResult is how one run of the child ended.
type childResult struct {
	status string // "exit status 1", "signal: killed", or why it did not start
	stderr string // the end of its stderr
	err    error  // the read error that ended the stream, if not the end of it
}

// errChildSilent ends a child that keeps its stdout open and writes nothing: a hung
// rpicam-vid would otherwise freeze the picture for good, as it never exits.
var errChildSilent = errors.New("no output from the command")

// runChild starts the command in its own process group, feeds its stdout to consume until the
// stream ends, and makes sure that when runChild returns the whole group is gone: killed with
// SIGTERM, then SIGKILL, when ctx ends, when the child closes its stdout but lingers, or when
// it writes nothing for silence (0: no limit), and the stragglers (grandchildren) killed when
// the child itself exits.
func runChild(ctx context.Context, argv []string, grace, silence time.Duration, consume func(io.Reader) error) childResult {
	cmd := exec.Command(argv[0], argv[1:]...)
	// Its own process group, so that a shell wrapper's children die with it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	// Plain pipes rather than cmd.StdoutPipe: Wait must be able to return while we still
	// read, and with *os.File ends exec starts no copying goroutines of its own.
	stdoutR, stdoutW, err := os.Pipe()
	if err != nil {
		return childResult{status: fmt.Sprintf("pipe: %v", err)}
	}
	defer stdoutR.Close()
	stderrR, stderrW, err := os.Pipe()
	if err != nil {
		stdoutW.Close()
		return childResult{status: fmt.Sprintf("pipe: %v", err)}
	}
	defer stderrR.Close()
	cmd.Stdout, cmd.Stderr = stdoutW, stderrW
	err = cmd.Start()
	stdoutW.Close()
	stderrW.Close()
	if err != nil {
		return childResult{status: fmt.Sprintf("start: %v", err)}
	}
	pgid := cmd.Process.Pid

	tail := newTailBuffer(stderrTail)
	var wg sync.WaitGroup
	wg.Go(func() { _, _ = io.Copy(tail, stderrR) })
	waited := make(chan error, 1)
	wg.Go(func() { waited <- cmd.Wait() })

	streamEnded := make(chan struct{})
	out := &activityReader{r: stdoutR}
	out.last.Store(time.Now().UnixNano())
	silent := make(chan struct{})
	if silence > 0 {
		wg.Go(func() { watchSilence(out, silence, streamEnded, silent) })
	}
	var status string
	wg.Go(func() {
		status = supervise(ctx, pgid, grace, waited, streamEnded, silent)
		// Whatever still holds the pipes now is outside the group: do not wait for it.
		deadline := time.Now().Add(drainGrace)
		_ = stdoutR.SetReadDeadline(deadline)
		_ = stderrR.SetReadDeadline(deadline)
	})

	readErr := consume(out)
	close(streamEnded)
	wg.Wait()
	res := childResult{status: status, stderr: tail.String()}
	select {
	case <-silent:
		res.err = fmt.Errorf("%w for %v; ended it", errChildSilent, silence)
		return res
	default:
	}
	if readErr != nil && !errors.Is(readErr, io.EOF) && !errors.Is(readErr, os.ErrDeadlineExceeded) {
		res.err = readErr
	}
	return res
}

// activityReader notes when its reader last gave bytes.
type activityReader struct {
	r    io.Reader
	last atomic.Int64 // unix nanoseconds
}

func (a *activityReader) Read(p []byte) (int, error) {
	n, err := a.r.Read(p)
	if n > 0 {
		a.last.Store(time.Now().UnixNano())
	}
	return n, err
}

// watchSilence closes silent when out has given nothing for silence, unless the stream ends
// first.
func watchSilence(out *activityReader, silence time.Duration, streamEnded <-chan struct{}, silent chan<- struct{}) {
	tick := time.NewTicker(silence / 4)
	defer tick.Stop()
	for {
		select {
		case <-streamEnded:
			return
		case now := <-tick.C:
			if now.Sub(time.Unix(0, out.last.Load())) > silence {
				close(silent)
				return
			}
		}
	}
}

// supervise waits for the child to exit, ending it when ctx ends, when it fell silent, or
// when its stream ended without it exiting, then kills what is left of its process group. It
// returns the exit status.
func supervise(ctx context.Context, pgid int, grace time.Duration, waited <-chan error, streamEnded, silent <-chan struct{}) string {
	var err error
	select {
	case err = <-waited:
	case <-ctx.Done():
		err = terminate(pgid, grace, waited)
	case <-silent:
		err = terminate(pgid, grace, waited)
	case <-streamEnded:
		// The child closed its stdout: give it a moment to exit on its own.
		timer := time.NewTimer(grace)
		select {
		case err = <-waited:
		case <-ctx.Done():
			err = terminate(pgid, grace, waited)
		case <-timer.C:
			err = terminate(pgid, grace, waited)
		}
		timer.Stop()
	}
	// Stragglers: the group outlives its leader while any member lives.
	_ = syscall.Kill(-pgid, syscall.SIGKILL)
	return exitStatus(err)
}

// terminate sends SIGTERM to the group, then SIGKILL if it has not exited after grace.
func terminate(pgid int, grace time.Duration, waited <-chan error) error {
	_ = syscall.Kill(-pgid, syscall.SIGTERM)
	timer := time.NewTimer(grace)
	defer timer.Stop()
	select {
	case err := <-waited:
		return err
	case <-timer.C:
		_ = syscall.Kill(-pgid, syscall.SIGKILL)
		return <-waited
	}
}

func exitStatus(err error) string {
	var exit *exec.ExitError
	switch {
	case err == nil:
		return "exit status 0"
	case errors.As(err, &exit):
		return exit.ProcessState.String()
	default:
		return err.Error()
	}
}
