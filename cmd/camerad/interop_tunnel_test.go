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
	url := "rtsph://" + strings.TrimPrefix(c.url, "rtsp://")
	out, stderr, err := interopRun(t, c, gst, "-v", "rtspsrc", "location="+url,
		"!", "rtph264depay", "!", "avdec_h264", "!", "fakesink", "num-buffers=90", "silent=false")
	decoded := strings.Count(out, "last-message = chain")
	if decoded < 90 {
		t.Fatalf("gst-launch over rtsph decoded %d of 90 frames (%v)\nstderr: %s", decoded, err, stderr)
	}
	if err != nil && !gstShutdownRace(stderr) {
		t.Fatalf("gst-launch over rtsph: %v after 90 frames\nstderr: %s", err, stderr)
	}
	if !strings.Contains(c.stderr.String(), "HTTP tunnel open") {
		t.Errorf("camerad did not log a tunnel: rtspsrc did not go through it?\n%s", c.stderr)
	}
}
