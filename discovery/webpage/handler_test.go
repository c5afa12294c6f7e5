package webpage

import (
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

var testStart = time.Date(2026, 11, 22, 8, 0, 0, 0, time.UTC)

func testStatus() Status {
	return Status{
		Name: "porch-camera", Model: "Raspberry Pi 3 Model B Rev 1.2", Firmware: "1.4.0", Serial: "00000000c0ffee42",
		Source: "camera <b>/dev/video0</b>", Started: testStart,
		Video:    Video{Width: 1280, Height: 720, FPS: 30, Profile: "High", Bitrate: 2_500_000, GOP: 30},
		RTSPPort: 8554, Path: "/stream", Multicast: "239.255.1.2:5004",
		Viewers: []Viewer{
			{Remote: "192.168.1.20:51000", Transport: "udp", Frames: 900, Bytes: 7_500_000, Dropped: 3, FractionLost: 0.02, JitterMS: 1.5},
			{Remote: "192.168.1.21:51002", Transport: "tcp", Frames: 450, Bytes: 3_000_000},
		},
	}
}

// serve runs the page on a real loopback listener and returns its address.
func serve(t *testing.T, cfg Config) string {
	t.Helper()
	if cfg.Now == nil {
		cfg.Now = func() time.Time { return testStart.Add(90 * time.Minute) }
	}
	srv := httptest.NewServer(New(cfg))
	t.Cleanup(srv.Close)
	return srv.Listener.Addr().String()
}

// get requests path from addr with the given Host header ("" = the address).
func get(t *testing.T, method, addr, host, path string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, "http://"+addr+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(body)
}

func getJSON(t *testing.T, addr, host string) statusJSON {
	t.Helper()
	resp, body := get(t, http.MethodGet, addr, host, "/status.json")
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("status.json: %s %q", resp.Status, resp.Header.Get("Content-Type"))
	}
	var st statusJSON
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatalf("status.json is not JSON: %v\n%s", err, body)
	}
	return st
}

// TestPage: the page names the camera, gives the stream's URL as the browser reached it and
// lists the viewers, with what it is given escaped.
func TestPage(t *testing.T) {
	addr := serve(t, Config{Status: testStatus})
	resp, body := get(t, http.MethodGet, addr, "porch-camera.local", "/")
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("GET /: %s %q", resp.Status, resp.Header.Get("Content-Type"))
	}
	if resp.Header.Get("Cache-Control") != "no-store" {
		t.Errorf("Cache-Control %q: browsers would show old figures", resp.Header.Get("Cache-Control"))
	}
	for _, want := range []string{
		"<h1>porch-camera</h1>",
		"Raspberry Pi 3 Model B Rev 1.2 · camerad 1.4.0 · serial 00000000c0ffee42",
		`<code id="rtsp">rtsp://porch-camera.local:8554/stream</code>`,
		`<code id="rtsp-ip">rtsp://127.0.0.1:8554/stream</code>`, // the .local name may not resolve
		"ffplay -rtsp_transport tcp rtsp://porch-camera.local:8554/stream",
		"- path: rtsp://127.0.0.1:8554/stream", // Frigate's Docker container resolves no .local names
		"http://porch-camera.local:" + port(t, addr) + "/onvif/device_service",
		"camera &lt;b&gt;/dev/video0&lt;/b&gt;",
		"1280×720 at 30 frames/s", "H.264 High", "2.5 Mbit/s", "30 frames", "239.255.1.2:5004",
		"Viewers: 2",
		"<td>192.168.1.20:51000</td><td>udp</td><td class=\"num\">900</td><td class=\"num\">7.5</td><td class=\"num\">3</td><td class=\"num\">2.0</td><td class=\"num\">1.5</td>",
		"<td>192.168.1.21:51002</td><td>tcp</td>",
		"Camera time 2026-11-22 09:30:00 UTC, up 1h30m0s.",
	} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q:\n%s", want, body)
		}
	}
	if strings.Contains(body, "USER:PASSWORD") {
		t.Error("page asks for a login that the stream does not need")
	}
}

func port(t *testing.T, addr string) string {
	_, p, err := net.SplitHostPort(addr)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// TestPageHosts: URLs use the host the browser used when it is a host name or address, and the
// camera's own address otherwise; default ports are left out.
func TestPageHosts(t *testing.T) {
	st := testStatus()
	st.RTSPPort, st.RTSPSPort = 554, 322
	addr := serve(t, Config{Status: func() Status { return st }})
	for _, tc := range []struct{ host, rtsp, byIP string }{
		{"127.0.0.1:" + port(t, addr), "rtsp://127.0.0.1/stream", ""},
		{"camera-1a2b.local.", "rtsp://camera-1a2b.local/stream", "rtsp://127.0.0.1/stream"},
		{"CAMERA-1A2B", "rtsp://CAMERA-1A2B/stream", "rtsp://127.0.0.1/stream"},
		{"[::1]:80", "rtsp://[::1]/stream", "rtsp://127.0.0.1/stream"},
		{"-bad-.local", "rtsp://127.0.0.1/stream", ""},
		{"a_b.local", "rtsp://127.0.0.1/stream", ""},
		{"x" + strings.Repeat(".y", 130), "rtsp://127.0.0.1/stream", ""},
		{"x'onmouseover=1", "rtsp://127.0.0.1/stream", ""},
	} {
		got := getJSON(t, addr, tc.host).URLs
		if got.RTSP != tc.rtsp || got.RTSPByIP != tc.byIP || got.RTSPS != strings.Replace(tc.rtsp, "rtsp:", "rtsps:", 1) {
			t.Errorf("Host %q: urls %+v; want rtsp %q, by IP %q", tc.host, got, tc.rtsp, tc.byIP)
		}
	}
}

// TestStatusJSON: the figures, under the names scripts rely on; no viewers is [], not null.
func TestStatusJSON(t *testing.T) {
	st := testStatus()
	addr := serve(t, Config{Status: func() Status { return st }})
	got := getJSON(t, addr, "")
	if got.Name != "porch-camera" || got.Model != st.Model || got.Firmware != "1.4.0" || got.Serial != st.Serial ||
		got.Time != "2026-11-22T09:30:00Z" || got.UptimeS != 5400 {
		t.Errorf("identity: %+v", got)
	}
	if got.Video == nil || *got.Video != (videoJSON{Codec: "H264", Profile: "High", Width: 1280, Height: 720, FPS: 30, Bitrate: 2_500_000, GOP: 30}) {
		t.Errorf("video: %+v", got.Video)
	}
	if got.URLs.RTSP != "rtsp://127.0.0.1:8554/stream" || got.URLs.Multicast != "239.255.1.2:5004" || got.URLs.RTSPS != "" {
		t.Errorf("urls: %+v", got.URLs)
	}
	if len(got.Viewers) != 2 || got.Viewers[0] != viewerJSON(st.Viewers[0]) {
		t.Errorf("viewers: %+v", got.Viewers)
	}
	_, raw := get(t, http.MethodGet, addr, "", "/status.json")
	for _, key := range []string{`"dropped_frames": 3`, `"fraction_lost": 0.02`, `"jitter_ms": 1.5`, `"uptime_s": 5400`} {
		if !strings.Contains(raw, key) {
			t.Errorf("status.json lacks %s:\n%s", key, raw)
		}
	}

	st.Viewers = nil
	if _, raw := get(t, http.MethodGet, addr, "", "/status.json"); !strings.Contains(raw, `"viewers": []`) {
		t.Errorf("no viewers should be []:\n%s", raw)
	}
}

// TestPrivate: with a login required, a stranger learns nothing the camera's announcements
// do not already say, and the snippets show where the login goes.
func TestPrivate(t *testing.T) {
	addr := serve(t, Config{Status: testStatus, Private: true})
	_, body := get(t, http.MethodGet, addr, "", "/")
	for _, secret := range []string{"192.168.1.20", "c0ffee42", "Raspberry Pi", "/dev/video0", "Viewers", "Camera time"} {
		if strings.Contains(body, secret) {
			t.Errorf("private page shows %q:\n%s", secret, body)
		}
	}
	for _, want := range []string{"<h1>porch-camera</h1>", "rtsp://127.0.0.1:8554/stream",
		"ffplay -rtsp_transport tcp rtsp://USER:PASSWORD@127.0.0.1:8554/stream", "asks players to log in"} {
		if !strings.Contains(body, want) {
			t.Errorf("private page lacks %q:\n%s", want, body)
		}
	}
	got := getJSON(t, addr, "")
	if want := (statusJSON{Name: "porch-camera", Private: true, URLs: urlsJSON{
		RTSP: "rtsp://127.0.0.1:8554/stream", ONVIF: "http://127.0.0.1:" + port(t, addr) + "/onvif/device_service"}}); !jsonEqual(got, want) {
		t.Errorf("private status.json %+v, want %+v", got, want)
	}
}

func jsonEqual(a, b statusJSON) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return string(x) == string(y)
}

// TestMethodsAndPaths: the page is read-only and has two addresses.
func TestMethodsAndPaths(t *testing.T) {
	calls := 0
	addr := serve(t, Config{Status: func() Status { calls++; return testStatus() }})
	if resp, _ := get(t, http.MethodPost, addr, "", "/"); resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST /: %s, Allow %q", resp.Status, resp.Header.Get("Allow"))
	}
	for _, path := range []string{"/index.html", "/status.json/x", "/../etc/passwd"} {
		if resp, _ := get(t, http.MethodGet, addr, "", path); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %s, want 404", path, resp.Status)
		}
	}
	if calls != 0 {
		t.Errorf("refused requests took %d status snapshots", calls)
	}
	resp, body := get(t, http.MethodHead, addr, "", "/status.json")
	if resp.StatusCode != http.StatusOK || body != "" {
		t.Errorf("HEAD: %s with %d bytes", resp.Status, len(body))
	}
}
