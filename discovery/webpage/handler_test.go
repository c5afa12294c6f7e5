package webpage

import (
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/camerad/camerad/rtspsrv/digest"
	"github.com/camerad/camerad/rtspsrv/digest/digesttest"
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

// digestAnswer is a browser's Authorization header answering challenge with qop=auth.
func digestAnswer(user, pass, method, uri, challenge string) string {
	p := digest.ParseParams(strings.TrimPrefix(challenge, "Digest "))
	return digesttest.Authorization(user, p["realm"], pass, method, uri, p["nonce"], "auth")
}

// getAuth is get with an Authorization header.
func getAuth(t *testing.T, addr, path, authorization string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, "http://"+addr+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", authorization)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, string(body)
}

// TestLogin: with a login set, a stranger learns nothing the camera's announcements do not
// already say, and is offered the login; with it, the page and the JSON are whole.
func TestLogin(t *testing.T) {
	clock := testStart.Add(90 * time.Minute)
	login := &digest.Verifier{User: "viewer", Password: "pa ss", Realm: "camerad", Secret: []byte("k"), Lifetime: 5 * time.Minute, OfferQop: true}
	var logs lockedBuffer
	addr := serve(t, Config{Status: testStatus, Login: login, Now: func() time.Time { return clock },
		Logger: slog.New(slog.NewTextHandler(&logs, nil))})

	resp, body := get(t, http.MethodGet, addr, "", "/")
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET / without a login: %s", resp.Status)
	}
	for _, secret := range []string{"192.168.1.20", "c0ffee42", "Raspberry Pi", "/dev/video0", "Viewers", "Camera time"} {
		if strings.Contains(body, secret) {
			t.Errorf("the page shows %q before the login:\n%s", secret, body)
		}
	}
	for _, want := range []string{"<h1>porch-camera</h1>", "rtsp://127.0.0.1:8554/stream",
		"ffplay -rtsp_transport tcp rtsp://USER:PASSWORD@127.0.0.1:8554/stream", `<a href="/login">Log in</a>`} {
		if !strings.Contains(body, want) {
			t.Errorf("the page before the login lacks %q:\n%s", want, body)
		}
	}

	// /login and /status.json ask for it.
	var challenge string
	for _, path := range []string{"/login", "/status.json"} {
		resp, body := get(t, http.MethodGet, addr, "", path)
		challenge = resp.Header.Get("WWW-Authenticate")
		if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(challenge, "Digest ") || strings.Contains(body, "c0ffee42") {
			t.Fatalf("GET %s without a login: %s, challenge %q\n%s", path, resp.Status, challenge, body)
		}
	}
	// Logged in: /login sends the browser to the page, which is whole, and so is the JSON.
	if resp, _ := getAuth(t, addr, "/login", digestAnswer("viewer", "pa ss", "GET", "/login", challenge)); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/" {
		t.Errorf("GET /login logged in: %s to %q", resp.Status, resp.Header.Get("Location"))
	}
	if _, body := getAuth(t, addr, "/", digestAnswer("viewer", "pa ss", "GET", "/", challenge)); !strings.Contains(body, "Viewers: 2") ||
		!strings.Contains(body, "serial 00000000c0ffee42") || !strings.Contains(body, "rtsp://USER:PASSWORD@") {
		t.Errorf("the page logged in:\n%s", body)
	}
	resp, body = getAuth(t, addr, "/status.json", digestAnswer("viewer", "pa ss", "GET", "/status.json", challenge))
	var st statusJSON
	if resp.StatusCode != http.StatusOK || json.Unmarshal([]byte(body), &st) != nil || st.Serial != "00000000c0ffee42" || len(st.Viewers) != 2 {
		t.Errorf("status.json logged in: %s\n%s", resp.Status, body)
	}

	// A wrong password, and a nonce that has expired, are asked for again, even on the page;
	// the wrong password, alone of all these, is logged.
	if strings.Contains(logs.String(), "refused login") {
		t.Errorf("a login asked for was logged as refused:\n%s", logs.String())
	}
	if resp, body := getAuth(t, addr, "/", digestAnswer("viewer", "guess", "GET", "/", challenge)); resp.StatusCode != http.StatusUnauthorized || strings.Contains(body, "c0ffee42") {
		t.Errorf("wrong password: %s\n%s", resp.Status, body)
	}
	if out := logs.String(); !strings.Contains(out, `msg="webpage: refused login"`) || !strings.Contains(out, "user=viewer") || strings.Contains(out, "guess") {
		t.Errorf("wrong password: log\n%s", out)
	}
	clock = clock.Add(6 * time.Minute)
	resp, _ = getAuth(t, addr, "/status.json", digestAnswer("viewer", "pa ss", "GET", "/status.json", challenge))
	if p := digest.ParseParams(strings.TrimPrefix(resp.Header.Get("WWW-Authenticate"), "Digest ")); resp.StatusCode != http.StatusUnauthorized || p["stale"] == "" {
		t.Errorf("expired nonce: %s, challenge %q", resp.Status, resp.Header.Get("WWW-Authenticate"))
	}
}

// lockedBuffer collects the handler's log lines, written by the server's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestLoginCurl: curl, a real Digest client as Home Assistant's REST sensor is, reads the JSON.
func TestLoginCurl(t *testing.T) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("curl not installed (apt-get install curl): skipping the login with a real client")
	}
	login := &digest.Verifier{User: "viewer", Password: "pa ss", Realm: "camerad", Secret: []byte("k"), Lifetime: 5 * time.Minute, OfferQop: true}
	addr := serve(t, Config{Status: testStatus, Login: login, Now: time.Now})
	out, err := exec.Command(curl, "-s", "-f", "--digest", "-u", "viewer:pa ss", "http://"+addr+"/status.json").Output()
	var st statusJSON
	if err != nil || json.Unmarshal(out, &st) != nil || len(st.Viewers) != 2 {
		t.Errorf("curl --digest: %v\n%s", err, out)
	}
	if out, err := exec.Command(curl, "-s", "-f", "--digest", "-u", "viewer:guess", "http://"+addr+"/status.json").Output(); err == nil {
		t.Errorf("curl --digest with a wrong password read:\n%s", out)
	}
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

// TestLive: with a live view, the page shows the picture and its URL to those who may see
// everything, and /live.mp4 reaches the live handler only for them; without one, /live.mp4
// is not there.
func TestLive(t *testing.T) {
	liveCalls := 0
	live := http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		liveCalls++
		w.Header().Set("Content-Type", "video/mp4")
		io.WriteString(w, "mp4")
	})
	addr := serve(t, Config{Status: testStatus, Live: live})
	_, body := get(t, http.MethodGet, addr, "porch-camera.local", "/")
	liveURL := "http://porch-camera.local:" + port(t, addr) + "/live.mp4"
	for _, want := range []string{`<video id="live" src="/live.mp4" autoplay muted playsinline`, `<code id="live-url">` + liveURL + `</code>`} {
		if !strings.Contains(body, want) {
			t.Errorf("page lacks %q:\n%s", want, body)
		}
	}
	if st := getJSON(t, addr, "porch-camera.local"); st.URLs.Live != liveURL {
		t.Errorf("status.json: live URL %q, want %q", st.URLs.Live, liveURL)
	}
	if resp, body := get(t, http.MethodGet, addr, "", "/live.mp4"); resp.StatusCode != http.StatusOK || body != "mp4" || liveCalls != 1 {
		t.Errorf("GET /live.mp4: %s %q, %d calls", resp.Status, body, liveCalls)
	}

	login := &digest.Verifier{User: "viewer", Password: "pw", Realm: "camerad", Secret: []byte("k"), Lifetime: 5 * time.Minute}
	private := serve(t, Config{Status: testStatus, Live: live, Login: login})
	if _, body := get(t, http.MethodGet, private, "", "/"); strings.Contains(body, "<video") || strings.Contains(body, "/live.mp4") {
		t.Errorf("the page shows the picture before the login:\n%s", body)
	}
	resp, _ := get(t, http.MethodGet, private, "", "/live.mp4")
	challenge := resp.Header.Get("WWW-Authenticate")
	if resp.StatusCode != http.StatusUnauthorized || !strings.HasPrefix(challenge, "Digest ") || liveCalls != 1 {
		t.Fatalf("GET /live.mp4 without a login: %s, challenge %q, %d calls", resp.Status, challenge, liveCalls)
	}
	if resp, body := getAuth(t, private, "/live.mp4", digestAnswer("viewer", "pw", "GET", "/live.mp4", challenge)); resp.StatusCode != http.StatusOK || body != "mp4" {
		t.Errorf("GET /live.mp4 logged in: %s %q", resp.Status, body)
	}
	if _, body := getAuth(t, private, "/", digestAnswer("viewer", "pw", "GET", "/", challenge)); !strings.Contains(body, `<video id="live"`) {
		t.Errorf("the page logged in has no picture:\n%s", body)
	}

	without := serve(t, Config{Status: testStatus})
	if resp, _ := get(t, http.MethodGet, without, "", "/live.mp4"); resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /live.mp4 with no live view: %s, want 404", resp.Status)
	}
	if _, body := get(t, http.MethodGet, without, "", "/"); strings.Contains(body, "<video") {
		t.Errorf("a page with no live view shows a video element:\n%s", body)
	}
}
