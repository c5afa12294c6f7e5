package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// webStatus is the part of /status.json a script would read.
type webStatus struct {
	Name  string `json:"name"`
	Video struct {
		Width  int `json:"width"`
		Height int `json:"height"`
	} `json:"video"`
	URLs struct {
		RTSP  string `json:"rtsp"`
		ONVIF string `json:"onvif"`
		Live  string `json:"live"`
	} `json:"urls"`
	Viewers []struct {
		Remote    string `json:"remote"`
		Transport string `json:"transport"`
		Frames    uint64 `json:"frames"`
	} `json:"viewers"`
}

// webGet fetches url, with the Host header host when it is not "".
func webGet(t *testing.T, url, host string) string {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s %v\n%s", url, resp.Status, err, body)
	}
	return string(body)
}

func webGetStatus(t *testing.T, base, host string) webStatus {
	t.Helper()
	var st webStatus
	if body := webGet(t, base+"/status.json", host); json.Unmarshal([]byte(body), &st) != nil {
		t.Fatalf("status.json is not JSON:\n%s", body)
	}
	return st
}

// TestInteropWebPage: a browser pointed at the camera's ONVIF address gets the camera's page;
// its status lists a player while it watches, and the stream URL it gives plays.
func TestInteropWebPage(t *testing.T) {
	ffmpeg := interopNeed(t, "ffmpeg", "ffmpeg")
	ffprobe := interopNeed(t, "ffprobe", "ffmpeg")
	c := interopStart(t, "-onvif-listen", "127.0.0.1:0", "-source", "clip", "-hostname", "porch-camera")
	m := regexp.MustCompile(`onvif_url=http://(127\.0\.0\.1:\d+)/`).FindStringSubmatch(c.stderr.String())
	if m == nil {
		t.Fatalf("no onvif_url in the serving line:\n%s", c.stderr)
	}
	base := "http://" + m[1]

	st := webGetStatus(t, base, "")
	if st.Name != "porch-camera" || st.URLs.RTSP != c.url || st.URLs.ONVIF != base+"/onvif/device_service" ||
		st.Video.Width != 640 || st.Video.Height != 360 || st.Viewers == nil || len(st.Viewers) != 0 {
		t.Fatalf("status before anyone watches: %+v", st)
	}

	// A player watches over TCP: it appears, with frames counted, on both the JSON and the page.
	ctx, cancel := context.WithCancel(context.Background())
	player := exec.CommandContext(ctx, ffmpeg, "-v", "error", "-rtsp_transport", "tcp", "-i", c.url, "-t", "60", "-f", "null", "-")
	if err := player.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		cancel()
		_ = player.Wait()
	}()
	for deadline := time.Now().Add(interopWait); ; time.Sleep(100 * time.Millisecond) {
		st = webGetStatus(t, base, "")
		if len(st.Viewers) == 1 && st.Viewers[0].Transport == "tcp" && st.Viewers[0].Frames > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("status.json never listed the player: %+v\ncamerad:\n%s", st, c.stderr)
		}
	}
	page := webGet(t, base+"/", "")
	for _, want := range []string{"<h1>porch-camera</h1>", "Viewers: 1", "<td>" + st.Viewers[0].Remote + "</td><td>tcp</td>",
		`<code id="rtsp">` + c.url + "</code>"} {
		if !strings.Contains(page, want) {
			t.Errorf("page lacks %q:\n%s", want, page)
		}
	}

	// Reached by name, the page gives the stream's URL with that name, and it plays.
	byName := webGetStatus(t, base, strings.Replace(m[1], "127.0.0.1", "localhost", 1)).URLs.RTSP
	if want := strings.Replace(c.url, "127.0.0.1", "localhost", 1); byName != want {
		t.Fatalf("reached as localhost, the page gives %q; want %q", byName, want)
	}
	v := interopProbeVideo(t, c, ffprobe, byName)
	if v.Width != 640 || v.Height != 360 {
		t.Errorf("%s plays %dx%d, want 640x360", byName, v.Width, v.Height)
	}
}

// TestInteropWebPageLogin: with a username set, the page shows strangers only the camera's
// name and addresses, and curl, logging in with Digest as a browser or Home Assistant's REST
// sensor does, reads the whole status.
func TestInteropWebPageLogin(t *testing.T) {
	curl := interopNeed(t, "curl", "curl")
	c := interopStart(t, "-onvif-listen", "127.0.0.1:0", "-source", "clip", "-hostname", "porch-camera",
		"-username", "viewer", "-password", "pa ss")
	m := regexp.MustCompile(`onvif_url=http://(127\.0\.0\.1:\d+)/`).FindStringSubmatch(c.stderr.String())
	if m == nil {
		t.Fatalf("no onvif_url in the serving line:\n%s", c.stderr)
	}
	base := "http://" + m[1]
	page := webGet(t, base+"/", "")
	if !strings.Contains(page, "<h1>porch-camera</h1>") || !strings.Contains(page, `href="/login"`) || strings.Contains(page, "640×360") {
		t.Errorf("the page before the login:\n%s", page)
	}
	out, _, err := interopRun(t, c, curl, "-s", "-f", "--digest", "-u", "viewer:pa ss", base+"/status.json")
	var st webStatus
	if err != nil || json.Unmarshal([]byte(out), &st) != nil || st.Video.Width != 640 || st.Viewers == nil {
		t.Errorf("curl --digest /status.json: %v\n%s", err, out)
	}
	if out, _, err := interopRun(t, c, curl, "-s", "-f", base+"/status.json"); err == nil {
		t.Errorf("status.json without a login:\n%s", out)
	}
}

// TestInteropLiveMP4: the picture on the page, /live.mp4, is an MP4 stream that ffprobe
// describes and ffmpeg decodes without a complaint, starting at once with a keyframe; while
// ffmpeg reads it, status.json lists it as a viewer.
func TestInteropLiveMP4(t *testing.T) {
	ffmpeg := interopNeed(t, "ffmpeg", "ffmpeg")
	ffprobe := interopNeed(t, "ffprobe", "ffmpeg")
	c := interopStart(t, "-onvif-listen", "127.0.0.1:0")
	m := regexp.MustCompile(`onvif_url=http://(127\.0\.0\.1:\d+)/`).FindStringSubmatch(c.stderr.String())
	if m == nil {
		t.Fatalf("no onvif_url in the serving line:\n%s", c.stderr)
	}
	base := "http://" + m[1]
	live := webGetStatus(t, base, "").URLs.Live
	if live != base+"/live.mp4" {
		t.Fatalf("status.json gives the live view as %q, want %s/live.mp4", live, base)
	}

	out, _, err := interopRun(t, c, ffprobe, "-v", "error", "-select_streams", "v", "-show_entries",
		"stream=codec_name,width,height", "-of", "csv=p=0", live)
	if err != nil || strings.TrimSpace(out) != "h264,1280,720" {
		t.Fatalf("ffprobe %s: %v %q", live, err, out)
	}

	// ffmpeg decodes two seconds; any complaint (a missing reference, a bad box) is on stderr.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stderr strings.Builder
	player := exec.CommandContext(ctx, ffmpeg, "-v", "error", "-i", live, "-t", "2", "-f", "null", "-")
	player.Stderr = &stderr
	if err := player.Start(); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(interopWait); ; time.Sleep(50 * time.Millisecond) {
		st := webGetStatus(t, base, "")
		if len(st.Viewers) == 1 && st.Viewers[0].Transport == "HTTP (MP4)" && st.Viewers[0].Frames > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("status.json never listed ffmpeg: %+v\ncamerad:\n%s", st, c.stderr)
		}
	}
	if err := player.Wait(); err != nil || stderr.Len() > 0 {
		t.Fatalf("ffmpeg reading %s: %v\n%s\ncamerad:\n%s", live, err, stderr.String(), c.stderr)
	}
	if !strings.Contains(c.stderr.String(), `msg="live view started"`) {
		t.Errorf("camerad did not log the live view:\n%s", c.stderr)
	}
}
