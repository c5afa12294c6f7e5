package main

import (
	"encoding/json"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// TestInteropLive555: live555's openRTSP, whose RTSP client library is the one inside VLC,
// plays the test source over UDP, over TCP and through an HTTP tunnel. What it records must
// decode without an error, and its receiver reports must reach camerad (through a tunnel
// live555 writes them raw to the GET half, not base64 to the POST).
//
// openRTSP comes with livemedia-utils (Ubuntu universe); Debian bookworm has no live555,
// so there the test skips and only the recorded VLC dialogues in rtspsrv/testdata stand
// in for it.
func TestInteropLive555(t *testing.T) {
	openRTSP := interopNeed(t, "openRTSP", "livemedia-utils")
	ffprobe := interopNeed(t, "ffprobe", "ffmpeg")
	src := interopSources[0]
	c := interopStartSource(t, src)
	u, err := url.Parse(c.url)
	if err != nil {
		t.Fatal(err)
	}
	modes := []struct {
		name string
		args []string
	}{
		{"udp", nil},
		{"tcp", []string{"-t"}},
		{"http", []string{"-T", u.Port()}},
	}
	for _, m := range modes {
		t.Run(m.name, func(t *testing.T) {
			// -v: the video alone, written to stdout as Annex B; 6 s is past live555's
			// first receiver report.
			args := append([]string{"-d", "6", "-v"}, m.args...)
			out, stderr, err := interopRun(t, c, openRTSP, append(args, c.url)...)
			if err != nil {
				t.Fatalf("openRTSP %v: %v\n%s", args, err, stderr)
			}
			interopCheckLive555Recording(t, c, ffprobe, out, src)
		})
	}
	if !strings.Contains(c.stderr.String(), "HTTP tunnel open") {
		t.Errorf("camerad logged no tunnel: openRTSP -T did not go through one?\n%s", c.stderr)
	}
	// Each viewer-left line says what its receiver reports said, or "none".
	deadline := time.Now().Add(5 * time.Second)
	for strings.Count(c.stderr.String(), `msg="viewer left"`) < len(modes) && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	log := c.stderr.String()
	if n := strings.Count(log, `msg="viewer left"`); n != len(modes) {
		t.Fatalf("%d viewers left, want %d:\n%s", n, len(modes), log)
	}
	if strings.Contains(log, "rr_lost=none") {
		t.Errorf("a live555 viewer's receiver reports never reached camerad:\n%s", log)
	}
}

// TestInteropLive555Multicast: openRTSP -C, like VLC --rtsp-mcast, asks for multicast since
// the SDP leaves the address open (c=IN IP4 0.0.0.0); it gets camerad's group and records
// decodable video. In a network namespace, as the other multicast tests.
func TestInteropLive555Multicast(t *testing.T) {
	openRTSP := interopNeed(t, "openRTSP", "livemedia-utils")
	ffprobe := interopNeed(t, "ffprobe", "ffmpeg")
	ns := interopMulticastNetns(t)
	src := interopSource{width: 640, height: 360}
	c := interopStartIn(t, ns, "-multicast", "239.255.77.11:5004", "-source", "testsrc",
		"-width", strconv.Itoa(src.width), "-height", strconv.Itoa(src.height))
	out, stderr, err := interopRun(t, c, "ip", "netns", "exec", ns, openRTSP, "-C", "-d", "6", "-v", c.url)
	if err != nil {
		t.Fatalf("openRTSP -C: %v\n%s", err, stderr)
	}
	interopCheckLive555Recording(t, c, ffprobe, out, src)
	if !strings.Contains(c.stderr.String(), "transport=multicast") {
		t.Errorf("openRTSP -C did not play multicast:\n%s", c.stderr)
	}
}

// interopCheckLive555Recording wants the 6 s openRTSP wrote (Annex B) to decode without an
// error as H.264 of src's size, at least 120 frames (180 at 30 fps; a loaded machine may
// start late).
func interopCheckLive555Recording(t *testing.T, c *interopCamerad, ffprobe, recording string, src interopSource) {
	t.Helper()
	file := filepath.Join(t.TempDir(), "video.h264")
	if err := os.WriteFile(file, []byte(recording), 0o644); err != nil {
		t.Fatal(err)
	}
	probe, perr, err := interopRun(t, c, ffprobe, "-v", "error", "-count_frames", "-select_streams", "v:0",
		"-show_entries", "stream=codec_name,width,height,nb_read_frames", "-of", "json", file)
	if err != nil || perr != "" {
		t.Fatalf("ffprobe of openRTSP's recording (%d bytes): %v\n%s", len(recording), err, perr)
	}
	var p struct {
		Streams []struct {
			interopVideoStream
			Frames string `json:"nb_read_frames"`
		} `json:"streams"`
	}
	if err := json.Unmarshal([]byte(probe), &p); err != nil || len(p.Streams) != 1 {
		t.Fatalf("ffprobe output %q: %v", probe, err)
	}
	s := p.Streams[0]
	if frames, _ := strconv.Atoi(s.Frames); s.CodecName != "h264" || s.Width != src.width || s.Height != src.height || frames < 120 {
		t.Errorf("openRTSP recorded %+v; want h264 %dx%d, at least 120 frames", s, src.width, src.height)
	}
}
