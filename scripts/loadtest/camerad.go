package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// camerad is the server under test, built from this tree and serving the clip with its file
// source (or -source).
type camerad struct {
	source string // empty: file:<clip>
	cmd    *exec.Cmd
	logs   *logScanner
}

func (c *camerad) name() string { return "camerad" }

func (c *camerad) start(ctx context.Context, dir, clip string, viewers int) (string, int, error) {
	// Built as the image ships it (static, stripped): RSS is part of what is measured.
	build := exec.Command("scripts/build.sh", dir, "camerad")
	build.Env = append(os.Environ(), "GOOS=", "GOARCH=") // for this machine
	if out, err := build.CombinedOutput(); err != nil {
		return "", 0, fmt.Errorf("build camerad: %w\n%s", err, out)
	}
	bin := filepath.Join(dir, "camerad")
	source := c.source
	if source == "" {
		source = "file:" + clip
	}
	port, err := freePort()
	if err != nil {
		return "", 0, err
	}
	c.cmd = exec.CommandContext(ctx, bin, "-listen", fmt.Sprintf("127.0.0.1:%d", port), "-source", source,
		"-max-viewers", strconv.Itoa(viewers+10), "-mdns=false", "-onvif-listen=")
	stderr, _ := c.cmd.StderrPipe()
	if err := c.cmd.Start(); err != nil {
		return "", 0, err
	}
	c.logs = newLogScanner(stderr)
	if err := c.logs.waitFor("msg=serving", 15*time.Second); err != nil {
		c.stop()
		return "", 0, err
	}
	return fmt.Sprintf("rtsp://127.0.0.1:%d/stream", port), c.cmd.Process.Pid, nil
}

// stop interrupts camerad, which logs a "viewer left" line with the frames it dropped for
// each viewer still there.
func (c *camerad) stop() serverNotes {
	_ = c.cmd.Process.Signal(os.Interrupt)
	<-c.logs.done // every line read: Wait closes the pipe
	_ = c.cmd.Wait()
	frames, viewers := c.logs.dropped()
	return serverNotes{droppedFrames: frames, viewersLeft: viewers, known: true}
}

// logScanner follows camerad's log for readiness and the per-viewer "viewer left" lines.
type logScanner struct {
	mu    sync.Mutex
	lines []string
	ch    chan string
	done  chan struct{} // closed at the log's end
}

var droppedRE = regexp.MustCompile(`msg="viewer left".* dropped=(\d+)`)

func newLogScanner(r io.Reader) *logScanner {
	l := &logScanner{ch: make(chan string, 1024), done: make(chan struct{})}
	go func() {
		defer close(l.done)
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			l.mu.Lock()
			l.lines = append(l.lines, sc.Text())
			l.mu.Unlock()
			select {
			case l.ch <- sc.Text():
			default:
			}
		}
	}()
	return l
}

func (l *logScanner) waitFor(substr string, timeout time.Duration) error {
	deadline := time.After(timeout)
	for {
		select {
		case line := <-l.ch:
			if strings.Contains(line, substr) {
				return nil
			}
		case <-l.done:
			return fmt.Errorf("camerad exited before logging %q:\n%s", substr, l.tail(5))
		case <-deadline:
			return fmt.Errorf("camerad did not log %q within %v", substr, timeout)
		}
	}
}

// tail returns the last n lines logged.
func (l *logScanner) tail(n int) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines[max(0, len(l.lines)-n):], "\n")
}

func (l *logScanner) dropped() (frames, viewers int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, line := range l.lines {
		if m := droppedRE.FindStringSubmatch(line); m != nil {
			d, _ := strconv.Atoi(m[1])
			frames += d
			viewers++
		}
	}
	return frames, viewers
}
