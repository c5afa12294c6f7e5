package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// interopMulticastNetns makes a network namespace whose loopback carries multicast, or skips
// the test saying why: multicast needs a network of its own (a host's lo does not carry it,
// and the test must not send to the real LAN).
func interopMulticastNetns(t *testing.T) string {
	t.Helper()
	ns := interopNetns(t, "cammcast")
	for _, args := range [][]string{
		{"-n", ns, "link", "set", "lo", "multicast", "on"},
		// An address for the group's traffic to come from: the kernel will not use 127.0.0.1
		// as the source of a multicast packet, and players check where RTCP comes from.
		{"-n", ns, "addr", "add", "10.77.0.1/32", "dev", "lo"},
		{"-n", ns, "route", "add", "224.0.0.0/4", "dev", "lo", "src", "10.77.0.1"},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	return ns
}

// interopNetns makes a network namespace with only its loopback up, or skips the test saying
// why.
func interopNetns(t *testing.T, prefix string) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("needs root to create a network namespace (CI runs tests as root)")
	}
	interopNeed(t, "ip", "iproute2")
	ns := fmt.Sprintf("%s%d", prefix, os.Getpid())
	if out, err := exec.Command("ip", "netns", "add", ns).CombinedOutput(); err != nil {
		t.Skipf("cannot create a network namespace: %v: %s", err, out)
	}
	t.Cleanup(func() { _ = exec.Command("ip", "netns", "del", ns).Run() })
	if out, err := exec.Command("ip", "-n", ns, "link", "set", "lo", "up").CombinedOutput(); err != nil {
		t.Fatalf("ip -n %s link set lo up: %v: %s", ns, err, out)
	}
	return ns
}

// TestInteropMulticast: ffmpeg and GStreamer, each allowed multicast only, play camerad's
// group and decode its pictures.
func TestInteropMulticast(t *testing.T) {
	ffmpeg := interopNeed(t, "ffmpeg", "ffmpeg")
	gst := interopNeedGStreamer(t)
	ns := interopMulticastNetns(t)
	c := interopStartIn(t, ns, "-multicast", "239.255.77.10:5004", "-source", "testsrc", "-width", "640", "-height", "360")
	if !strings.Contains(c.stderr.String(), "multicast=239.255.77.10:5004") {
		t.Fatalf("camerad does not report its group:\n%s", c.stderr)
	}
	if strings.Contains(c.stderr.String(), "no route to the group") {
		t.Errorf("camerad says its routed group has no route:\n%s", c.stderr)
	}

	// One after the other: ffmpeg ends its playback at any RTCP BYE it hears on the group,
	// whoever sent it, and GStreamer sends one as it starts (it takes its own multicast RTCP,
	// looped back, for another source's) and as it stops.
	const frames = 60
	ffmpegOut, ffmpegErr, err := interopRun(t, c, "ip", "netns", "exec", ns, ffmpeg, "-nostdin", "-v", "error",
		"-rtsp_transport", "udp_multicast", "-i", c.url, "-frames:v", strconv.Itoa(frames), "-progress", "pipe:1", "-f", "null", "-")
	if err != nil {
		t.Errorf("ffmpeg over multicast: %v\n%s", err, ffmpegErr)
	} else if got := lastProgressFrame(ffmpegOut); got < frames {
		t.Errorf("ffmpeg decoded %d frames over multicast, want %d\n%s", got, frames, ffmpegErr)
	}
	gstOut, gstErr, err := interopRun(t, c, "ip", "netns", "exec", ns, gst, "-v",
		"rtspsrc", "location="+c.url, "protocols=udp-mcast", "!", "rtph264depay", "!",
		"avdec_h264", "!", "fakesink", "num-buffers="+strconv.Itoa(frames), "silent=false")
	if decoded := strings.Count(gstOut, "last-message = chain"); decoded < frames {
		t.Errorf("GStreamer decoded %d of %d frames over multicast (%v)\n%s", decoded, frames, err, gstErr)
	} else if err != nil && !gstShutdownRace(gstErr) {
		t.Errorf("GStreamer over multicast: %v after %d frames\n%s", err, frames, gstErr)
	}
	played := 0
	for _, line := range strings.Split(c.stderr.String(), "\n") {
		if strings.Contains(line, `msg="viewer playing"`) && strings.Contains(line, "transport=multicast") {
			played++
		}
	}
	if played != 2 {
		t.Errorf("%d multicast viewers played in camerad's log, want 2 (one per player):\n%s", played, c.stderr)
	}
}

// lastProgressFrame is the last frame=N that ffmpeg's -progress output reports.
func lastProgressFrame(progress string) int {
	n := 0
	for _, line := range strings.Split(progress, "\n") {
		if v, ok := strings.CutPrefix(line, "frame="); ok {
			n, _ = strconv.Atoi(strings.TrimSpace(v))
		}
	}
	return n
}

// TestInteropMulticastAutoOnIPv6Listen: with listen on an IPv6 address the media sockets are
// IPv6 only; the default multicast setting must then turn itself off, not stop camerad, and
// say why.
func TestInteropMulticastAutoOnIPv6Listen(t *testing.T) {
	if ln, err := net.Listen("tcp6", "[::1]:0"); err != nil {
		t.Skipf("no IPv6 loopback: %v", err)
	} else {
		ln.Close()
	}
	c := interopStart(t, "-listen", "[::1]:0")
	if !strings.Contains(c.stderr.String(), `multicast="off (listen is IPv6`) {
		t.Errorf("camerad on [::1] does not report multicast off, and why:\n%s", c.stderr)
	}
}

// TestInteropMulticastNoRoute: on a network with no route to the group (no default gateway,
// as at boot before DHCP), camerad says at start that multicast requests will get 461.
func TestInteropMulticastNoRoute(t *testing.T) {
	ns := interopNetns(t, "camnoroute")
	c := interopStartIn(t, ns, "-source", "testsrc", "-width", "640", "-height", "360")
	for deadline := time.Now().Add(interopWait); !strings.Contains(c.stderr.String(), "no route to the group"); {
		if time.Now().After(deadline) {
			t.Fatalf("camerad did not say that its group has no route:\n%s", c.stderr)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
