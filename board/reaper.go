package board

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"sync"
	"syscall"

	"golang.org/x/sys/unix"
)

// Reaper is PID 1's child collector. Orphans of every process are re-parented to PID 1 and
// stay zombies until it waits for them, so it waits for any child (wait4(-1)). That would
// steal exec.Cmd.Wait's status, so children PID 1 supervises are started through Start and
// their exit status is delivered on a channel instead.
type Reaper struct {
	mu      sync.Mutex
	waiters map[int]chan unix.WaitStatus
}

// NewReaper returns a reaper; call Run to start collecting.
func NewReaper() *Reaper { return &Reaper{waiters: map[int]chan unix.WaitStatus{}} }

// Start starts cmd and returns a channel that receives its wait status once. Do not call
// cmd.Wait. The start happens under the reaper's lock so that even a child that exits at
// once is matched to its channel.
func (r *Reaper) Start(cmd *exec.Cmd) (<-chan unix.WaitStatus, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", cmd.Path, err)
	}
	ch := make(chan unix.WaitStatus, 1)
	r.waiters[cmd.Process.Pid] = ch
	return ch, nil
}

// Run reaps children on every SIGCHLD until ctx ends. It must outlive every Supervisor using
// it, or stopping a service would wait forever for its status.
func (r *Reaper) Run(ctx context.Context) {
	sig := make(chan os.Signal, 16)
	signal.Notify(sig, syscall.SIGCHLD)
	defer signal.Stop(sig)
	for {
		r.ReapAll()
		select {
		case <-ctx.Done():
			return
		case <-sig:
		}
	}
}

// ReapAll collects every exited child without blocking; it returns how many it collected.
func (r *Reaper) ReapAll() int {
	n := 0
	for {
		var ws unix.WaitStatus
		pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil || pid <= 0 {
			return n
		}
		n++
		r.mu.Lock()
		ch, ok := r.waiters[pid]
		delete(r.waiters, pid)
		r.mu.Unlock()
		if ok {
			ch <- ws
		}
	}
}
