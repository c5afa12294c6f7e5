package main

import (
	"strings"
	"testing"
)

// RTSP over HTTP (rtspsrv/tunnel.go), on the RTSP port, with the players that speak it.

// TestInteropTunnelFFprobe: ffmpeg's HTTP tunnelling (-rtsp_transport http) decodes video.
func TestInteropTunnelFFprobe(t *testing.T) {
	ffprobe := interopNeed(t, "ffprobe", "ffmpeg")
	src := interopSources[1] // the clip: its size is known wherever the test runs
	c := interopStartSource(t, src)
	s := interopProbeVideo(t, c, ffprobe, "-rtsp_transport", "http", c.url)
	if s.CodecName != "h264" || s.Width != src.width || s.Height != src.height {
		t.Errorf("ffprobe over http: %s %dx%d, want h264 %dx%d", s.CodecName, s.Width, s.Height, src.width, src.height)
	}
	if !strings.Contains(c.stderr.String(), "HTTP tunnel open") {
		t.Errorf("camerad did not log a tunnel: ffprobe did not go through it?\n%s", c.stderr)
	}
}

// TestInteropTunnelGStreamer: rtspsrc with an rtsph:// URL plays and decodes 90 frames.
func TestInteropTunnelGStreamer(t *testing.T) {
	gst := interopNeedGStreamer(t)
	c := interopStartSource(t, interopSources[1])
	interopGStreamerTunnel(t, c, gst, "rtsph://"+strings.TrimPrefix(c.url, "rtsp://"))
}

// TestInteropTunnelOverTLS: the RTSPS port tunnels too: rtspsrc with rtspsh:// (HTTP
// tunnelling inside TLS) plays and decodes 90 frames.
func TestInteropTunnelOverTLS(t *testing.T) {
	gst := interopNeedGStreamer(t)
	c, url := interopStartRTSPS(t)
	interopGStreamerTunnel(t, c, gst, "rtspsh://"+strings.TrimPrefix(url, "rtsps://"), "tls-validation-flags=0")
	if !strings.Contains(c.stderr.String(), "tls=true") {
		t.Errorf("camerad saw no TLS connection:\n%s", c.stderr)
	}
}

// interopGStreamerTunnel plays url with rtspsrc (plus its extra properties), wants 90
// decoded frames, and wants camerad to have logged the tunnel: a player that quietly fell
// back to plain RTSP must not pass.
func interopGStreamerTunnel(t *testing.T, c *interopCamerad, gst, url string, extra ...string) {
	t.Helper()
	args := append([]string{"-v", "rtspsrc", "location=" + url}, extra...)
	args = append(args, "!", "rtph264depay", "!", "avdec_h264", "!", "fakesink", "num-buffers=90", "silent=false")
	out, stderr, err := interopRun(t, c, gst, args...)
	decoded := strings.Count(out, "last-message = chain")
	if decoded < 90 {
		t.Fatalf("gst-launch on %s decoded %d of 90 frames (%v)\nstderr: %s\ncamerad:\n%s", url, decoded, err, stderr, c.stderr)
	}
	if err != nil && !gstShutdownRace(stderr) {
		t.Fatalf("gst-launch on %s: %v after 90 frames\nstderr: %s", url, err, stderr)
	}
	if !strings.Contains(c.stderr.String(), "HTTP tunnel open") {
		t.Errorf("camerad did not log a tunnel: rtspsrc did not go through it?\n%s", c.stderr)
	}
}
