package main

// Interop over RTSPS: the real camerad binary with its TLS listener on loopback, played by
// ffprobe and GStreamer's rtspsrc on rtsps:// URLs. Like the other interop tests, each skips
// with a message when its program is missing.

import (
	"crypto/tls"
	"crypto/x509"
	"net/url"
	"os/exec"
	"regexp"
	"strings"
	"testing"
)

// interopStartRTSPS starts camerad on the embedded clip with RTSPS on a free loopback port
// and returns it with its rtsps:// URL (from the "serving" line).
func interopStartRTSPS(t *testing.T, args ...string) (*interopCamerad, string) {
	t.Helper()
	c := interopStart(t, append([]string{"-source", "clip", "-rtsps-listen", "127.0.0.1:0"}, args...)...)
	m := regexp.MustCompile(`rtsps_url=(rtsps://\S+)`).FindStringSubmatch(c.stderr.String())
	if m == nil {
		t.Fatalf("camerad did not report an rtsps URL:\n%s", c.stderr)
	}
	return c, m[1]
}

// interopFFprobeRTSPS probes url and checks for the clip's H.264 640x360. ffmpeg does not
// verify certificates unless told to (-tls_verify 1), and on rtsps:// it asks only for
// interleaved media.
func interopFFprobeRTSPS(t *testing.T, c *interopCamerad, ffprobe, url string) {
	t.Helper()
	if s := interopProbeVideo(t, c, ffprobe, url); s != (interopVideoStream{"h264", 640, 360}) {
		t.Errorf("ffprobe over rtsps found %+v, want h264 640x360", s)
	}
}

func TestInteropRTSPSFFprobe(t *testing.T) {
	ffprobe := interopNeed(t, "ffprobe", "ffmpeg")
	c, url := interopStartRTSPS(t)
	interopFFprobeRTSPS(t, c, ffprobe, url)
	if !strings.Contains(c.stderr.String(), "tls=true") {
		t.Errorf("camerad saw no TLS connection:\n%s", c.stderr)
	}
}

// TestInteropRTSPSGStreamer: rtspsrc on rtsps:// offers UDP, then multicast, then TCP, one
// SETUP each (GStreamer 1.22); camerad refuses the first two with 461 and the stream plays
// interleaved inside TLS. tls-validation-flags=0 accepts the self-signed certificate.
func TestInteropRTSPSGStreamer(t *testing.T) {
	gst := interopNeedGStreamer(t)
	c, url := interopStartRTSPS(t)
	out, stderr, err := interopRun(t, c, gst, "-v", "rtspsrc", "location="+url, "tls-validation-flags=0",
		"!", "rtph264depay", "!", "avdec_h264", "!", "fakesink", "num-buffers=90", "silent=false")
	decoded := strings.Count(out, "last-message = chain")
	if decoded < 90 {
		t.Fatalf("gst-launch over rtsps decoded %d of 90 frames (%v)\nstderr: %s\ncamerad:\n%s", decoded, err, stderr, c.stderr)
	}
	if err != nil && !gstShutdownRace(stderr) {
		t.Fatalf("gst-launch over rtsps: %v after 90 frames\nstderr: %s", err, stderr)
	}
	log := c.stderr.String()
	if strings.Contains(log, "transport=udp") || !strings.Contains(log, "transport=tcp") {
		t.Errorf("want the rtsps viewer set up over TCP only; camerad:\n%s", log)
	}
}

// TestInteropRTSPSCertificate: with tls_cert and tls_key, camerad serves that certificate (a
// client that trusts only it verifies the connection), and ffprobe plays; without them, the
// self-signed certificate served is the one whose fingerprint camerad logged.
func TestInteropRTSPSCertificate(t *testing.T) {
	certFile, keyFile, cert := writeKeyPair(t, "127.0.0.1", "localhost")
	c, rtspsURL := interopStartRTSPS(t, "-tls-cert", certFile, "-tls-key", keyFile)
	u, err := url.Parse(rtspsURL)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(cert.Leaf)
	conn, err := tls.Dial("tcp", u.Host, &tls.Config{RootCAs: roots})
	if err != nil {
		t.Fatalf("TLS to camerad with tls_cert as the only root: %v", err)
	}
	conn.Close()
	if ffprobe, err := exec.LookPath("ffprobe"); err == nil {
		interopFFprobeRTSPS(t, c, ffprobe, rtspsURL)
	}

	c, rtspsURL = interopStartRTSPS(t)
	if u, err = url.Parse(rtspsURL); err != nil {
		t.Fatal(err)
	}
	conn, err = tls.Dial("tcp", u.Host, &tls.Config{InsecureSkipVerify: true}) // self-signed: checked by fingerprint below
	if err != nil {
		t.Fatal(err)
	}
	served := conn.ConnectionState().PeerCertificates[0]
	conn.Close()
	if fp := certFingerprint(served.Raw); !strings.Contains(c.stderr.String(), "level=INFO msg=\"rtsps: self-signed certificate made") ||
		!strings.Contains(c.stderr.String(), "sha256="+fp) {
		t.Errorf("camerad did not log the fingerprint %s of the certificate it serves at info level:\n%s", fp, c.stderr)
	}
}
