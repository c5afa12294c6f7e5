package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

// mediamtx is a peer measured on the same clip: a mediamtx binary the user points at, fed by
// ffmpeg, which publishes the clip to it over RTSP in real time (looped). mediamtx has no file
// source of its own; the publisher's CPU is ffmpeg's and is not counted, while camerad's
// figures include its file source.
type mediamtx struct {
	bin       string
	server    *exec.Cmd
	publisher *exec.Cmd
}

func (m *mediamtx) name() string { return "mediamtx" }

// mediamtxConfig serves RTSP only, on loopback, over UDP and TCP; the viewers' path is
// published by ffmpeg.
const mediamtxConfig = `logLevel: warn
rtspTransports: [udp, tcp]
rtspAddress: 127.0.0.1:%d
rtpAddress: 127.0.0.1:%d
rtcpAddress: 127.0.0.1:%d
rtmp: false
hls: false
webrtc: false
srt: false
moq: false
api: false
metrics: false
pprof: false
playback: false
paths:
  stream:
    source: publisher
`

func (m *mediamtx) start(ctx context.Context, dir, clip string, _ int) (string, int, error) {
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		return "", 0, errors.New("ffmpeg is needed to publish the clip to mediamtx")
	}
	// A container gives ffmpeg's -re the clip's frame rate and timestamps across loops.
	mkv := filepath.Join(dir, "clip.mkv")
	if out, err := exec.Command("ffmpeg", "-v", "error", "-y", "-framerate", "30", "-i", clip, "-c", "copy", mkv).CombinedOutput(); err != nil {
		return "", 0, fmt.Errorf("ffmpeg remux: %w\n%s", err, out)
	}
	port, err := freePort()
	if err != nil {
		return "", 0, err
	}
	rtp, err := freeUDPPair()
	if err != nil {
		return "", 0, err
	}
	conf := filepath.Join(dir, "mediamtx.yml")
	if err := os.WriteFile(conf, fmt.Appendf(nil, mediamtxConfig, port, rtp, rtp+1), 0o644); err != nil {
		return "", 0, err
	}
	m.server = exec.CommandContext(ctx, m.bin, conf)
	m.server.Stdout, m.server.Stderr = os.Stderr, os.Stderr
	if err := m.server.Start(); err != nil {
		return "", 0, fmt.Errorf("start mediamtx: %w", err)
	}
	url := fmt.Sprintf("rtsp://127.0.0.1:%d/stream", port)
	if err := waitDial(fmt.Sprintf("127.0.0.1:%d", port), 10*time.Second); err != nil {
		m.stop()
		return "", 0, err
	}
	m.publisher = exec.CommandContext(ctx, "ffmpeg", "-v", "error", "-re", "-stream_loop", "-1", "-i", mkv,
		"-c", "copy", "-f", "rtsp", "-rtsp_transport", "tcp", url)
	m.publisher.Stderr = os.Stderr
	if err := m.publisher.Start(); err != nil {
		m.stop()
		return "", 0, fmt.Errorf("start ffmpeg publisher: %w", err)
	}
	if err := waitDescribe(url, 10*time.Second); err != nil {
		m.stop()
		return "", 0, err
	}
	return url, m.server.Process.Pid, nil
}

func (m *mediamtx) stop() serverNotes {
	for _, c := range []*exec.Cmd{m.publisher, m.server} {
		if c != nil && c.Process != nil {
			_ = c.Process.Signal(os.Interrupt)
			_ = c.Wait()
		}
	}
	return serverNotes{} // mediamtx does not log frames it dropped per viewer
}

// freeUDPPair returns an even UDP port whose successor is free too.
func freeUDPPair() (int, error) {
	for range 50 {
		c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			return 0, err
		}
		p := c.LocalAddr().(*net.UDPAddr).Port &^ 1
		c.Close()
		a, errA := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: p})
		b, errB := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: p + 1})
		for _, c := range []*net.UDPConn{a, b} {
			if c != nil {
				c.Close()
			}
		}
		if errA == nil && errB == nil {
			return p, nil
		}
	}
	return 0, errors.New("no free UDP port pair")
}

func waitDial(addr string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("nothing listening on %s after %v: %w", addr, timeout, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// waitDescribe waits until url answers DESCRIBE with 200: the publisher is on.
func waitDescribe(url string, timeout time.Duration) error {
	host := strings.SplitN(strings.TrimPrefix(url, "rtsp://"), "/", 2)[0]
	deadline := time.Now().Add(timeout)
	last := ""
	for time.Now().Before(deadline) {
		c, err := net.DialTimeout("tcp", host, time.Second)
		if err == nil {
			_ = c.SetDeadline(time.Now().Add(time.Second))
			fmt.Fprintf(c, "DESCRIBE %s RTSP/1.0\r\nCSeq: 1\r\nAccept: application/sdp\r\n\r\n", url)
			last, _ = bufio.NewReader(c).ReadString('\n')
			c.Close()
			if strings.Contains(last, " 200 ") {
				return nil
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("%s not playable after %v (last answer %q)", url, timeout, strings.TrimSpace(last))
}
