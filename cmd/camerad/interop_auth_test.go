package main

import (
	"strings"
	"testing"
)

// TestInteropAuth: with a username and password set, the players people use log in with
// Digest, the only scheme plain RTSP offers (Basic would send the password in clear), and a
// wrong password is refused with a line in camerad's log.
func TestInteropAuth(t *testing.T) {
	ffprobe := interopNeed(t, "ffprobe", "ffmpeg")
	gst := interopNeedGStreamer(t)
	const user, pass = "viewer", "pa55 w0rd"
	c := interopStart(t, "-source", "testsrc", "-width", "640", "-height", "360", "-username", user, "-password", pass)
	withCredentials := strings.Replace(c.url, "rtsp://", "rtsp://"+user+":pa55%20w0rd@", 1)

	for _, tr := range interopTransports {
		t.Run("ffprobe/"+tr, func(t *testing.T) {
			s := interopProbeVideo(t, c, ffprobe, "-rtsp_transport", tr, withCredentials)
			if s.CodecName != "h264" || s.Width != 640 {
				t.Errorf("ffprobe over %s: %s %dx%d", tr, s.CodecName, s.Width, s.Height)
			}
		})
		t.Run("gstreamer/"+tr, func(t *testing.T) {
			out, stderr, err := interopRun(t, c, gst, "-v", "rtspsrc", "location="+c.url, "protocols="+tr,
				"user-id="+user, "user-pw="+pass,
				"!", "rtph264depay", "!", "avdec_h264", "!", "fakesink", "num-buffers=30", "silent=false")
			if decoded := strings.Count(out, "last-message = chain"); decoded < 30 {
				t.Fatalf("gst-launch over %s decoded %d of 30 frames (%v)\nstderr: %s", tr, decoded, err, stderr)
			}
		})
	}
	t.Run("wrong password", func(t *testing.T) {
		wrong := strings.Replace(c.url, "rtsp://", "rtsp://"+user+":guess@", 1)
		_, stderr, err := interopRun(t, c, ffprobe, "-v", "error", "-rtsp_transport", "tcp", wrong)
		if err == nil || !strings.Contains(stderr, "401") {
			t.Errorf("ffprobe with a wrong password: %v, %q; want a 401 failure", err, stderr)
		}
		if !strings.Contains(c.stderr.String(), "authentication failed: wrong username or password") {
			t.Errorf("camerad logged no failed login:\n%s", c.stderr)
		}
	})
	if strings.Contains(c.stderr.String(), "Basic sends the password in clear") {
		t.Errorf("a player sent Basic credentials although only Digest was offered:\n%s", c.stderr)
	}
}
