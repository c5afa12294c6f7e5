package main

import (
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
)

// interopLAN makes two network namespaces joined by a veth pair, a camera's and an NVR's, with
// multicast routed onto the link (WS-Discovery probes are multicast), or skips the test
// saying why. It returns the namespaces and the camera's address.
func interopLAN(t *testing.T) (cam, nvr, camAddr string) {
	t.Helper()
	cam = interopNetns(t, "camlan")
	nvr = interopNetns(t, "nvrlan")
	camIf, nvrIf := fmt.Sprintf("vcam%d", os.Getpid()%100000), fmt.Sprintf("vnvr%d", os.Getpid()%100000)
	camAddr = "10.78.0.1"
	for _, args := range [][]string{
		{"link", "add", camIf, "netns", cam, "type", "veth", "peer", "name", nvrIf, "netns", nvr},
		{"-n", cam, "addr", "add", camAddr + "/24", "dev", camIf},
		{"-n", nvr, "addr", "add", "10.78.0.2/24", "dev", nvrIf},
		{"-n", cam, "link", "set", camIf, "up"},
		{"-n", nvr, "link", "set", nvrIf, "up"},
		{"-n", cam, "route", "add", "224.0.0.0/4", "dev", camIf},
		{"-n", nvr, "route", "add", "224.0.0.0/4", "dev", nvrIf},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	return cam, nvr, camAddr
}

// TestInteropONVIF: an NVR on the LAN finds the camera as NVRs and Home Assistant do, with
// Debian's onvif-util (libonvif): a WS-Discovery probe, then the device and media services
// with a WS-Security login, and the RTSP URL they hand out plays in ffprobe.
func TestInteropONVIF(t *testing.T) {
	onvifUtil := interopNeed(t, "onvif-util", "onvif-tools")
	ffprobe := interopNeed(t, "ffprobe", "ffmpeg")
	cam, nvr, camAddr := interopLAN(t)
	c := interopStartIn(t, cam, "-listen", ":8554", "-onvif-listen", ":8899", "-hostname", "porch-camera",
		"-username", "admin", "-password", "s3cret", "-source", "testsrc", "-width", "640", "-height", "360")

	// Discovery: the camera answers the probe with its device service on the LAN's address.
	out, errOut, err := interopRun(t, c, "ip", "netns", "exec", nvr, onvifUtil, "-a")
	if err != nil {
		t.Fatalf("onvif-util -a: %v\n%s%s", err, out, errOut)
	}
	t.Logf("onvif-util -a:\n%s", out)
	if !strings.Contains(out, "Found 1 cameras") || !strings.Contains(out, camAddr) || !strings.Contains(out, "porch-camera") {
		t.Errorf("onvif-util -a did not list the camera at %s as porch-camera:\n%s\ncamerad:\n%s", camAddr, out, c.stderr)
	}

	// The services: log in, read the profile and the stream's address.
	session := func(user, password string) string {
		t.Helper()
		cmd := exec.Command("ip", "netns", "exec", nvr, onvifUtil, "-u", user, "-p", password, camAddr)
		cmd.Stdin = strings.NewReader("get rtsp\nget video\nquit\n")
		b, _ := cmd.CombinedOutput() // its exit status is 0 even when a request fails
		return string(b)
	}
	out = session("admin", "s3cret")
	t.Logf("onvif-util session:\n%s", out)
	uri := "rtsp://" + camAddr + ":8554/stream"
	for _, want := range []string{"successfully connected", uri, "640 x 360"} {
		if !strings.Contains(out, want) {
			t.Errorf("onvif-util session lacks %q:\n%s\ncamerad:\n%s", want, out, c.stderr)
		}
	}
	if out := session("admin", "wrong"); strings.Contains(out, uri) {
		t.Errorf("a wrong password was given the stream URI:\n%s", out)
	}

	// The URI plays, with the same credentials.
	withPass := strings.Replace(uri, "rtsp://", "rtsp://admin:s3cret@", 1)
	probe, errOut, err := interopRun(t, c, "ip", "netns", "exec", nvr, ffprobe, "-v", "error", "-rtsp_transport", "tcp",
		"-select_streams", "v:0", "-show_entries", "stream=codec_name,width,height", "-of", "default=nw=1", withPass)
	if err != nil || !strings.Contains(probe, "codec_name=h264") || !strings.Contains(probe, "width=640") {
		t.Errorf("ffprobe %s: %v\n%s%s", withPass, err, probe, errOut)
	}
}
