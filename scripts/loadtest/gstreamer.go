package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// gstRTSPServer is a peer measured on the same clip: gst-rtsp-server through its Python
// bindings (gst-rtsp-server.py beside this file), one shared media fed live by an appsrc to
// which the script pushes the clip's access units at 30 fps. Its CPU is the Python process's:
// GStreamer's threads, and that feeding (30 pushes a second), like camerad's file source.
type gstRTSPServer struct {
	cmd *exec.Cmd
}

func (g *gstRTSPServer) name() string { return "gst-rtsp" }

func (g *gstRTSPServer) start(ctx context.Context, _, clip string, _ int) (string, int, error) {
	// Debian's python3 has the gi bindings; a python3 of one's own often does not.
	python := "/usr/bin/python3"
	if _, err := os.Stat(python); err != nil {
		python = "python3"
	}
	port, err := freePort()
	if err != nil {
		return "", 0, err
	}
	script, err := filepath.Abs("scripts/loadtest/gst-rtsp-server.py")
	if err != nil {
		return "", 0, err
	}
	g.cmd = exec.CommandContext(ctx, python, script, clip, strconv.Itoa(port))
	g.cmd.Stderr = os.Stderr
	out, _ := g.cmd.StdoutPipe()
	if err := g.cmd.Start(); err != nil {
		return "", 0, fmt.Errorf("start gst-rtsp-server: %w", err)
	}
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(out)
		ok := sc.Scan() && sc.Text() == "ready"
		ready <- ok
		for sc.Scan() { // keep the pipe drained
		}
	}()
	select {
	case ok := <-ready:
		if !ok {
			g.stop()
			return "", 0, errors.New("gst-rtsp-server did not start (python3-gi and gir1.2-gst-rtsp-server-1.0 installed?)")
		}
	case <-time.After(15 * time.Second):
		g.stop()
		return "", 0, errors.New("gst-rtsp-server not ready after 15 s")
	}
	// No DESCRIBE to check it: the shared media is prepared for the first client and torn
	// down when that client goes, and a viewer arriving meanwhile gets 503.
	return fmt.Sprintf("rtsp://127.0.0.1:%d/stream", port), g.cmd.Process.Pid, nil
}

func (g *gstRTSPServer) stop() serverNotes {
	if g.cmd != nil && g.cmd.Process != nil {
		_ = g.cmd.Process.Signal(syscall.SIGTERM)
		_ = g.cmd.Wait()
	}
	return serverNotes{}
}
