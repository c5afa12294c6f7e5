package rtspsrv

import (
	"bufio"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/pion/rtcp"
)

func parseRaw(raw string, lim Limits) (*Request, error) {
	return readRequest(bufio.NewReader(strings.NewReader(raw)), lim.withDefaults())
}

// TestReadRequestFixtures parses every captured client request byte for byte.
func TestReadRequestFixtures(t *testing.T) {
	type want struct {
		method, uri string
		headers     map[string]string // a selection, looked up case-insensitively
		count       int               // number of header lines
	}
	const vlcUA = "LibVLC/3.0.18 (LIVE555 Streaming Media v2016.11.28)"
	cases := map[string]want{
		"vlc-live555-01-options.txt":       {"OPTIONS", "rtsp://192.0.2.10:8554/stream", map[string]string{"cseq": "2", "User-Agent": vlcUA}, 2},
		"vlc-live555-02-describe.txt":      {"DESCRIBE", "rtsp://192.0.2.10:8554/stream", map[string]string{"Accept": "application/sdp"}, 3},
		"vlc-live555-03-setup-udp.txt":     {"SETUP", "rtsp://192.0.2.10:8554/stream/trackID=0", map[string]string{"Transport": "RTP/AVP;unicast;client_port=60094-60095"}, 3},
		"vlc-live555-03-setup-tcp.txt":     {"SETUP", "rtsp://192.0.2.10:8554/stream/trackID=0", map[string]string{"Transport": "RTP/AVP/TCP;unicast;interleaved=0-1"}, 3},
		"vlc-live555-04-play.txt":          {"PLAY", "rtsp://192.0.2.10:8554/stream/", map[string]string{"Session": "54DAFD56", "Range": "npt=0.000-"}, 4},
		"vlc-live555-05-get-parameter.txt": {"GET_PARAMETER", "rtsp://192.0.2.10:8554/stream/", map[string]string{"CSeq": "6"}, 3},
		"vlc-live555-06-teardown.txt":      {"TEARDOWN", "rtsp://192.0.2.10:8554/stream/", map[string]string{"CSEQ": "7"}, 3},
		"helix-01-options.txt": {"OPTIONS", "rtsp://192.0.2.10:8554", map[string]string{
			"PlayerStarttime": "[01/02/2010:16:36:34 -08:00]", "Pragma": "initiate-session"}, 7},
		"helix-02-describe.txt":           {"DESCRIBE", "rtsp://192.0.2.10:8554/stream", map[string]string{"Require": "com.real.retain-entity-for-setup", "Bandwidth": "10485800"}, 9},
		"helix-03-setup-alternatives.txt": {"SETUP", "rtsp://192.0.2.10:8554/stream/trackID=0", map[string]string{"Transport": "RTP/AVP;unicast;client_port=6970-6971;mode=play,RTP/AVP/TCP;unicast;mode=play"}, 3},
		"helix-04-set-parameter.txt":      {"SET_PARAMETER", "rtsp://192.0.2.10:8554/stream", map[string]string{"Subscribe": "stream=0;rule=0,stream=0;rule=1"}, 3},
		"qt-options-star.txt":             {"OPTIONS", "*", map[string]string{"Require": "implicit-play", "Proxy-Require": "gzipped-messages"}, 3},
		"dss-setup-second-track.txt":      {"SETUP", "rtsp://192.0.2.10:554/stream/trackID=4", map[string]string{"Session": "1234567890", "Transport": "RTP/AVP/TCP;unicast;interleaved=2-3"}, 4},
		"ffmpeg-01-options.txt":           {"OPTIONS", "rtsp://192.0.2.10:8554/stream", map[string]string{"User-Agent": "Lavf61.7.100"}, 2},
		"ffmpeg-02-describe.txt":          {"DESCRIBE", "rtsp://192.0.2.10:8554/stream", map[string]string{"Accept": "application/sdp"}, 3},
		"ffmpeg-03-setup-udp.txt":         {"SETUP", "rtsp://192.0.2.10:8554/stream/trackID=0", map[string]string{"Transport": "RTP/AVP/UDP;unicast;client_port=23030-23031"}, 3},
		"ffmpeg-03-setup-tcp.txt":         {"SETUP", "rtsp://192.0.2.10:8554/stream/trackID=0", map[string]string{"Transport": "RTP/AVP/TCP;unicast;interleaved=0-1"}, 3},
		"ffmpeg-04-play.txt":              {"PLAY", "rtsp://192.0.2.10:8554/stream/", map[string]string{"Range": "npt=0.000-", "Session": "3B6B6C9E6A1F2D44"}, 4},
		"ffmpeg-05-get-parameter.txt":     {"GET_PARAMETER", "rtsp://192.0.2.10:8554/stream/", map[string]string{"CSeq": "5"}, 3},
		"ffmpeg-06-teardown.txt":          {"TEARDOWN", "rtsp://192.0.2.10:8554/stream/", map[string]string{"CSeq": "6"}, 3},
		"gstreamer-01-options.txt":        {"OPTIONS", "rtsp://192.0.2.10:8554/stream", map[string]string{"User-Agent": "GStreamer/1.22.0", "Date": "Fri, 21 Nov 2025 07:13:00 GMT"}, 3},
		"gstreamer-02-describe.txt":       {"DESCRIBE", "rtsp://192.0.2.10:8554/stream", map[string]string{"Accept": "application/sdp"}, 4},
		"gstreamer-03-setup-udp.txt":      {"SETUP", "rtsp://192.0.2.10:8554/stream/trackID=0", map[string]string{"Transport": "RTP/AVP;unicast;client_port=50000-50001"}, 4},
		"gstreamer-03-setup-tcp.txt":      {"SETUP", "rtsp://192.0.2.10:8554/stream/trackID=0", map[string]string{"Transport": "RTP/AVP/TCP;unicast;interleaved=0-1"}, 4},
		"gstreamer-04-play.txt":           {"PLAY", "rtsp://192.0.2.10:8554/stream/", map[string]string{"Range": "npt=0-"}, 5},
		"gstreamer-05-teardown.txt":       {"TEARDOWN", "rtsp://192.0.2.10:8554/stream/", map[string]string{"Session": "3B6B6C9E6A1F2D44"}, 4},
	}
	files, err := filepath.Glob("testdata/client-requests/*.txt")
	if err != nil || len(files) == 0 {
		t.Fatalf("no fixtures: %v", err)
	}
	for _, f := range files {
		name := filepath.Base(f)
		w, ok := cases[name]
		if !ok {
			t.Errorf("fixture %s has no expectations in this table", name)
			continue
		}
		t.Run(name, func(t *testing.T) {
			raw := loadFixture(t, name)
			br := bufio.NewReader(strings.NewReader(raw))
			req, err := readRequest(br, Limits{}.withDefaults())
			if err != nil {
				t.Fatalf("readRequest: %v", err)
			}
			if req.Method != w.method || req.URI != w.uri || req.Proto != "RTSP/1.0" {
				t.Errorf("request line %q %q %q, want %q %q RTSP/1.0", req.Method, req.URI, req.Proto, w.method, w.uri)
			}
			if len(req.Header) != w.count {
				t.Errorf("%d headers, want %d: %v", len(req.Header), w.count, req.Header)
			}
			for k, v := range w.headers {
				if got := req.Header.Get(k); got != v {
					t.Errorf("header %s = %q, want %q", k, got, v)
				}
			}
			if len(req.Body) != 0 {
				t.Errorf("body %q, want none", req.Body)
			}
			if _, err := br.ReadByte(); err != io.EOF {
				t.Errorf("parser left bytes unread (err %v)", err)
			}
		})
	}
}

// TestReadRequestPipelinedAndFragmented parses every fixture back to back from a stream that
// yields one byte per read, the worst case of TCP segmentation, and checks that each request
// comes out as it does when parsed alone.
func TestReadRequestPipelinedAndFragmented(t *testing.T) {
	files, _ := filepath.Glob("testdata/client-requests/*.txt")
	var all strings.Builder
	var want []*Request
	for i, f := range files {
		raw := loadFixture(t, filepath.Base(f))
		if i%3 == 1 {
			all.WriteString("\r\n") // stray CRLF between requests, which some clients send
		}
		all.WriteString(raw)
		req, err := parseRaw(raw, Limits{})
		if err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		want = append(want, req)
	}
	for _, mode := range []string{"whole", "one-byte"} {
		var r io.Reader = strings.NewReader(all.String())
		if mode == "one-byte" {
			r = iotest.OneByteReader(r)
		}
		br := bufio.NewReaderSize(r, 16) // smaller than most lines: exercises ErrBufferFull
		for i, w := range want {
			got, err := readRequest(br, Limits{}.withDefaults())
			if err != nil {
				t.Fatalf("%s: request %d: %v", mode, i, err)
			}
			if got.Method != w.Method || got.URI != w.URI || len(got.Header) != len(w.Header) {
				t.Fatalf("%s: request %d = %s %s (%d headers), want %s %s (%d headers)",
					mode, i, got.Method, got.URI, len(got.Header), w.Method, w.URI, len(w.Header))
			}
			for j := range w.Header {
				if got.Header[j] != w.Header[j] {
					t.Errorf("%s: request %d header %d = %v, want %v", mode, i, j, got.Header[j], w.Header[j])
				}
			}
		}
		if _, err := readRequest(br, Limits{}.withDefaults()); err != io.EOF {
			t.Errorf("%s: after the last request got %v, want io.EOF", mode, err)
		}
	}
}

func TestReadRequest(t *testing.T) {
	small := Limits{MaxLineBytes: 64, MaxHeaders: 4, MaxHeaderBytes: 100, MaxBodyBytes: 10}
	cases := []struct {
		name    string
		raw     string
		lim     Limits
		method  string
		uri     string
		header  map[string]string
		body    string
		wantErr error // errMalformed, errTooLarge, or an io error
	}{
		{name: "LF only", raw: "OPTIONS * RTSP/1.0\nCSeq: 1\n\n", method: "OPTIONS", uri: "*", header: map[string]string{"CSeq": "1"}},
		{name: "header names any case", raw: "OPTIONS * RTSP/1.0\r\ncseq: 9\r\nUSER-AGENT: x\r\n\r\n", method: "OPTIONS", uri: "*", header: map[string]string{"CSeq": "9", "User-Agent": "x"}},
		{name: "no space after colon", raw: "PLAY rtsp://h/stream RTSP/1.0\r\nCSeq:3\r\nSession:ABC\r\n\r\n", method: "PLAY", uri: "rtsp://h/stream", header: map[string]string{"CSeq": "3", "Session": "ABC"}},
		{name: "extra spaces in request line", raw: "OPTIONS   *   RTSP/1.0\r\nCSeq: 1\r\n\r\n", method: "OPTIONS", uri: "*"},
		{name: "empty header value", raw: "OPTIONS * RTSP/1.0\r\nCSeq: 1\r\nX-Empty:\r\n\r\n", method: "OPTIONS", uri: "*", header: map[string]string{"X-Empty": ""}},
		{name: "folded header", raw: "SETUP rtsp://h/stream/trackID=0 RTSP/1.0\r\nCSeq: 1\r\nTransport: RTP/AVP;unicast;\r\n client_port=5000-5001\r\n\r\n", method: "SETUP", uri: "rtsp://h/stream/trackID=0", header: map[string]string{"Transport": "RTP/AVP;unicast; client_port=5000-5001"}},
		{name: "body", raw: "SET_PARAMETER rtsp://h/stream RTSP/1.0\r\nCSeq: 1\r\nContent-Type: text/parameters\r\nContent-Length: 9\r\n\r\nbarparam\n", method: "SET_PARAMETER", uri: "rtsp://h/stream", body: "barparam\n"},
		{name: "body at limit", raw: "GET_PARAMETER * RTSP/1.0\r\nCSeq: 1\r\nContent-Length: 10\r\n\r\n0123456789", lim: small, method: "GET_PARAMETER", uri: "*", body: "0123456789"},
		{name: "content-length zero", raw: "GET_PARAMETER * RTSP/1.0\r\nCSeq: 1\r\nContent-Length: 0\r\n\r\n", method: "GET_PARAMETER", uri: "*"},
		{name: "other protocol version parses", raw: "OPTIONS * RTSP/2.0\r\nCSeq: 1\r\n\r\n", method: "OPTIONS", uri: "*"},
		{name: "unknown method parses", raw: "FOO * RTSP/1.0\r\nCSeq: 1\r\n\r\n", method: "FOO", uri: "*"},
		{name: "four headers at limit", raw: "OPTIONS * RTSP/1.0\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\n\r\n", lim: small, method: "OPTIONS", uri: "*"},

		{name: "garbage", raw: "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", wantErr: errMalformed},
		{name: "HTTP request line parses (tunnel.go)", raw: "GET / HTTP/1.1\r\nHost: x\r\n\r\n", method: "GET", uri: "/", header: map[string]string{"Host": "x"}},
		{name: "HTTP POST: its body is the tunnel's, not read", raw: "POST /stream HTTP/1.0\r\nContent-Length: 32767\r\n\r\nT1BUSU9OUw==", method: "POST", uri: "/stream"},
		{name: "bad HTTP header", raw: "GET / HTTP/1.1\r\nno colon\r\n\r\n", wantErr: errHTTPRequest},
		{name: "other protocol", raw: "GET / SIP/2.0\r\nHost: x\r\n\r\n", wantErr: errMalformed},
		{name: "two words", raw: "OPTIONS RTSP/1.0\r\nCSeq: 1\r\n\r\n", wantErr: errMalformed},
		{name: "four words", raw: "OPTIONS * * RTSP/1.0\r\n\r\n", wantErr: errMalformed},
		{name: "method with separator", raw: "OPT(IONS * RTSP/1.0\r\n\r\n", wantErr: errMalformed},
		{name: "header without colon", raw: "OPTIONS * RTSP/1.0\r\nCSeq 1\r\n\r\n", wantErr: errMalformed},
		{name: "header name with space", raw: "OPTIONS * RTSP/1.0\r\nC Seq: 1\r\n\r\n", wantErr: errMalformed},
		{name: "continuation first", raw: "OPTIONS * RTSP/1.0\r\n folded: 1\r\n\r\n", wantErr: errMalformed},
		{name: "NUL in header", raw: "OPTIONS * RTSP/1.0\r\nCSeq: 1\x00\r\n\r\n", wantErr: errMalformed},
		{name: "bare CR in header", raw: "OPTIONS * RTSP/1.0\r\nCSeq: 1\r\nRequire: x\rInjected: 1\r\n\r\n", wantErr: errMalformed},
		{name: "bare CR in request line", raw: "OPTIONS *\rX RTSP/1.0\r\nCSeq: 1\r\n\r\n", wantErr: errMalformed},
		{name: "negative content-length", raw: "OPTIONS * RTSP/1.0\r\nContent-Length: -1\r\n\r\n", wantErr: errMalformed},
		{name: "signed content-length", raw: "OPTIONS * RTSP/1.0\r\nCSeq: 1\r\nContent-Length: +3\r\n\r\nabc", wantErr: errMalformed},
		{name: "non-numeric content-length", raw: "OPTIONS * RTSP/1.0\r\nContent-Length: ten\r\n\r\n", wantErr: errMalformed},
		{name: "many empty lines", raw: "\r\n\r\n\r\n\r\n\r\n\r\n\r\nOPTIONS * RTSP/1.0\r\n\r\n", wantErr: errMalformed},

		{name: "request line too long", raw: "OPTIONS rtsp://h/" + strings.Repeat("a", 100) + " RTSP/1.0\r\n\r\n", lim: small, wantErr: errTooLarge},
		{name: "header line too long", raw: "OPTIONS * RTSP/1.0\r\nX: " + strings.Repeat("a", 100) + "\r\n\r\n", lim: small, wantErr: errTooLarge},
		{name: "unterminated line too long", raw: "OPTIONS * RTSP/1.0\r\nX: " + strings.Repeat("a", 100), lim: small, wantErr: errTooLarge},
		{name: "too many headers", raw: "OPTIONS * RTSP/1.0\r\nA: 1\r\nB: 2\r\nC: 3\r\nD: 4\r\nE: 5\r\n\r\n", lim: small, wantErr: errTooLarge},
		{name: "header bytes", raw: "OPTIONS * RTSP/1.0\r\nA: " + strings.Repeat("a", 40) + "\r\nB: " + strings.Repeat("b", 40) + "\r\nC: " + strings.Repeat("c", 40) + "\r\n\r\n", lim: small, wantErr: errTooLarge},
		{name: "body too large", raw: "SET_PARAMETER * RTSP/1.0\r\nContent-Length: 11\r\n\r\n01234567890", lim: small, wantErr: errTooLarge},
		{name: "huge content-length", raw: "SET_PARAMETER * RTSP/1.0\r\nContent-Length: 99999999999999999999\r\n\r\n", wantErr: errMalformed},

		{name: "empty input", raw: "", wantErr: io.EOF},
		{name: "half request line", raw: "OPTIONS * RTS", wantErr: io.EOF},
		{name: "no blank line", raw: "OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n", wantErr: io.EOF},
		{name: "short body", raw: "SET_PARAMETER * RTSP/1.0\r\nContent-Length: 5\r\n\r\nab", wantErr: io.ErrUnexpectedEOF},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req, err := parseRaw(tc.raw, tc.lim)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("err = %v, want %v", err, tc.wantErr)
				}
				// What was read before a fault may come back with it (for its CSeq); never a
				// body, and nothing at all when the peer went away.
				if req != nil && (req.Body != nil || !errors.Is(err, errMalformed) && !errors.Is(err, errTooLarge)) {
					t.Errorf("got a request with an error: %+v", req)
				}
				// Limits must not be reported as mere malformation and vice versa: the log
				// tells an operator which it was.
				if tc.wantErr == errTooLarge && errors.Is(err, errMalformed) || tc.wantErr == errMalformed && errors.Is(err, errTooLarge) {
					t.Errorf("err %v carries both kinds", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("readRequest: %v", err)
			}
			if req.Method != tc.method || req.URI != tc.uri {
				t.Errorf("got %q %q, want %q %q", req.Method, req.URI, tc.method, tc.uri)
			}
			for k, v := range tc.header {
				if got := req.Header.Get(k); got != v {
					t.Errorf("header %s = %q, want %q", k, got, v)
				}
			}
			if string(req.Body) != tc.body {
				t.Errorf("body %q, want %q", req.Body, tc.body)
			}
		})
	}
}

func TestHeader(t *testing.T) {
	var h Header
	h.Set("CSeq", "1")
	h.Set("cseq", "2") // replaces, whatever the case
	h.Set("Session", "")
	if len(h) != 2 {
		t.Fatalf("Set appended a duplicate: %v", h)
	}
	for _, name := range []string{"CSeq", "CSEQ", "cseq", "Cseq"} {
		if got := h.Get(name); got != "2" {
			t.Errorf("Get(%q) = %q, want 2", name, got)
		}
	}
	if !h.Has("SESSION") || h.Get("session") != "" {
		t.Errorf("empty header not present: %v", h)
	}
	if h.Has("Transport") || h.Get("Transport") != "" {
		t.Errorf("absent header reported present: %v", h)
	}
}

// TestSessionHeader covers the Session header forms clients send back.
func TestSessionHeader(t *testing.T) {
	for in, want := range map[string]string{
		"54DAFD56":                     "54DAFD56",
		"54DAFD56;timeout=60":          "54DAFD56",
		" 3B6B6C9E6A1F2D44 ;timeout=5": "3B6B6C9E6A1F2D44",
		"":                             "",
		";timeout=60":                  "",
	} {
		if got := sessionID(in); got != want {
			t.Errorf("sessionID(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestValidCSeq(t *testing.T) {
	for in, want := range map[string]bool{
		"0": true, "1": true, "4294967295": true, "4294967296": true, "99999999999": true, "12345678901234567890": true,
		"": false, "-1": false, "123456789012345678901": false, "1a": false, " 1": false, "+1": false, "1.5": false,
	} {
		if got := validCSeq(in); got != want {
			t.Errorf("validCSeq(%q) = %v, want %v", in, got, want)
		}
	}
}

// fixtureStep is one captured request replayed against the server and what it must answer.
type fixtureStep struct {
	file   string
	status int
}

// replay sends captured requests over one connection, adapting host, session and client
// ports, and checks each status and the CSeq echo.
func replayFixtures(t *testing.T, ts *testServer, c *rtspClient, ports [2]int, steps []fixtureStep) map[string]*rtspResponse {
	t.Helper()
	out := map[string]*rtspResponse{}
	session := ""
	for _, st := range steps {
		raw := rewriteFixture(loadFixture(t, st.file), ts.addr, session, ports)
		req, err := parseRaw(raw, Limits{})
		if err != nil {
			t.Fatalf("%s: %v", st.file, err)
		}
		c.send(raw)
		resp, err := c.readResponse()
		if err != nil {
			t.Fatalf("%s: %v", st.file, err)
		}
		if resp.Status != st.status {
			t.Fatalf("%s: status %d, want %d (%v)", st.file, resp.Status, st.status, resp)
		}
		if got, want := resp.Header.Get("CSeq"), req.Header.Get("CSeq"); got != want {
			t.Fatalf("%s: CSeq %q, want %q", st.file, got, want)
		}
		if id := sessionID(resp.Header.Get("Session")); id != "" && session == "" {
			session = id
		}
		out[st.file] = resp
	}
	return out
}

// TestReplayClients plays whole sessions as VLC/LIVE555, FFmpeg, GStreamer and Helix send
// them, over UDP and TCP, and checks that media arrives.
func TestReplayClients(t *testing.T) {
	ts := startServer(t, Config{})
	udpSeq := func(prefix, setup, play, keepalive, teardown string) []fixtureStep {
		s := []fixtureStep{{prefix + "-01-options.txt", StatusOK}, {prefix + "-02-describe.txt", StatusOK},
			{setup, StatusOK}, {play, StatusOK}}
		if keepalive != "" {
			s = append(s, fixtureStep{keepalive, StatusOK})
		}
		return append(s, fixtureStep{teardown, StatusOK})
	}
	cases := []struct {
		name  string
		udp   bool
		steps []fixtureStep
	}{
		{"vlc-udp", true, udpSeq("vlc-live555", "vlc-live555-03-setup-udp.txt", "vlc-live555-04-play.txt", "vlc-live555-05-get-parameter.txt", "vlc-live555-06-teardown.txt")},
		{"vlc-tcp", false, udpSeq("vlc-live555", "vlc-live555-03-setup-tcp.txt", "vlc-live555-04-play.txt", "vlc-live555-05-get-parameter.txt", "vlc-live555-06-teardown.txt")},
		{"ffmpeg-udp", true, udpSeq("ffmpeg", "ffmpeg-03-setup-udp.txt", "ffmpeg-04-play.txt", "ffmpeg-05-get-parameter.txt", "ffmpeg-06-teardown.txt")},
		{"ffmpeg-tcp", false, udpSeq("ffmpeg", "ffmpeg-03-setup-tcp.txt", "ffmpeg-04-play.txt", "ffmpeg-05-get-parameter.txt", "ffmpeg-06-teardown.txt")},
		{"gstreamer-udp", true, udpSeq("gstreamer", "gstreamer-03-setup-udp.txt", "gstreamer-04-play.txt", "", "gstreamer-05-teardown.txt")},
		{"gstreamer-tcp", false, udpSeq("gstreamer", "gstreamer-03-setup-tcp.txt", "gstreamer-04-play.txt", "", "gstreamer-05-teardown.txt")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := ts.dial(t)
			var u *udpClient
			var ports [2]int
			if tc.udp {
				u = listenUDPClient(t)
				ports = u.ports()
			}
			// Replay up to PLAY, check that media arrives, then the rest.
			resps := replayFixtures(t, ts, c, ports, tc.steps[:4])
			if got := resps[tc.steps[0].file].Header.Get("Public"); got != publicMethods {
				t.Errorf("Public = %q, want %q", got, publicMethods)
			}
			if ct := resps[tc.steps[1].file].Header.Get("Content-Type"); ct != "application/sdp" {
				t.Errorf("DESCRIBE Content-Type %q", ct)
			}
			if tc.udp {
				u.readRTP(t)
			} else {
				c.readRTP(0)
			}
			session := sessionID(resps[tc.steps[2].file].Header.Get("Session"))
			for _, st := range tc.steps[4:] {
				raw := rewriteFixture(loadFixture(t, st.file), ts.addr, session, ports)
				c.send(raw)
				resp, err := c.readResponse()
				if err != nil || resp.Status != st.status {
					t.Fatalf("%s: %v %v", st.file, resp, err)
				}
			}
			waitUntil(t, "session torn down", func() bool { return ts.srv.session(session) == nil })
		})
	}

	t.Run("helix", func(t *testing.T) {
		c := ts.dial(t)
		u := listenUDPClient(t)
		resps := replayFixtures(t, ts, c, u.ports(), []fixtureStep{
			{"helix-01-options.txt", StatusOK},
			// Helix asks for a RealNetworks extension the camera does not have.
			{"helix-02-describe.txt", StatusOptionNotSupported},
			// The first alternative (UDP) wins.
			{"helix-03-setup-alternatives.txt", StatusOK},
			{"helix-04-set-parameter.txt", StatusOK},
		})
		if got := resps["helix-02-describe.txt"].Header.Get("Unsupported"); got != "com.real.retain-entity-for-setup" {
			t.Errorf("Unsupported = %q", got)
		}
		tr := resps["helix-03-setup-alternatives.txt"].Header.Get("Transport")
		if strings.Count(tr, "RTP/AVP") != 1 || !strings.Contains(tr, "client_port="+strconv.Itoa(u.ports()[0])) {
			t.Errorf("Transport reply %q is not the single UDP alternative", tr)
		}
	})

	t.Run("quicktime-options-star", func(t *testing.T) {
		c := ts.dial(t)
		resps := replayFixtures(t, ts, c, [2]int{}, []fixtureStep{{"qt-options-star.txt", StatusOptionNotSupported}})
		if got := resps["qt-options-star.txt"].Header.Get("Unsupported"); got != "implicit-play" {
			t.Errorf("Unsupported = %q, want implicit-play (Proxy-Require is not ours to refuse)", got)
		}
		// The same request without Require is answered, and so is one whose Require is
		// empty: it names no option to refuse.
		c.mustDo(StatusOK, "OPTIONS", "*", "Proxy-Require: gzipped-messages")
		c.mustDo(StatusOK, "OPTIONS", "*", "Require: ")
	})

	t.Run("dss-second-track", func(t *testing.T) {
		c := ts.dial(t)
		// The captured session id is not ours.
		replayFixtures(t, ts, c, [2]int{}, []fixtureStep{{"dss-setup-second-track.txt", StatusSessionNotFound}})
		// With a real session, the track does not exist.
		setup := c.mustDo(StatusOK, "SETUP", ts.url+"/trackID=0", "Transport: RTP/AVP/TCP;unicast;interleaved=0-1")
		id := sessionID(setup.Header.Get("Session"))
		raw := rewriteFixture(loadFixture(t, "dss-setup-second-track.txt"), ts.addr, id, [2]int{})
		c.send(raw)
		resp, err := c.readResponse()
		if err != nil || resp.Status != StatusNotFound || resp.Header.Get("CSeq") != "4" {
			t.Fatalf("second track: %v %v, want 404 with CSeq 4", resp, err)
		}
	})
}

// TestPipelinedRequests sends three requests in one segment and expects three answers in
// order.
func TestPipelinedRequests(t *testing.T) {
	ts := startServer(t, Config{})
	c := ts.dial(t)
	c.send(c.buildRequest("OPTIONS", ts.url) + c.buildRequest("DESCRIBE", ts.url, "Accept: application/sdp") +
		"\r\n" + c.buildRequest("GET_PARAMETER", ts.url))
	for i, want := range []int{StatusOK, StatusOK, StatusOK} {
		resp, err := c.readResponse()
		if err != nil {
			t.Fatalf("response %d: %v", i+1, err)
		}
		if resp.Status != want || resp.Header.Get("CSeq") != strconv.Itoa(i+1) {
			t.Fatalf("response %d: %v, want %d with CSeq %d", i+1, resp, want, i+1)
		}
		if i == 1 && len(resp.Body) == 0 {
			t.Errorf("DESCRIBE without SDP")
		}
	}
}

// TestStrayLineEnds: up to four stray CRLFs between requests are skipped; line ends alone,
// on and on, are not a way to hold a connection open: 400 and the connection closes.
func TestStrayLineEnds(t *testing.T) {
	ts := startServer(t, Config{})
	c := ts.dial(t)
	c.send("\r\n\r\n\r\n\r\n" + c.buildRequest("OPTIONS", "*"))
	if resp, err := c.readResponse(); err != nil || resp.Status != StatusOK {
		t.Fatalf("OPTIONS after four CRLFs: %v %v", resp, err)
	}
	for range 5 {
		c.send("\r\n")
	}
	resp, err := c.readResponse()
	if err != nil || resp.Status != StatusBadRequest {
		t.Fatalf("after five CRLFs alone: %v %v, want 400", resp, err)
	}
	if _, err := c.readResponse(); err == nil {
		t.Error("the connection stayed open")
	}
}

// TestFragmentedRequest sends a request one byte per segment.
func TestFragmentedRequest(t *testing.T) {
	ts := startServer(t, Config{})
	c := ts.dial(t)
	raw := c.buildRequest("DESCRIBE", ts.url, "Accept: application/sdp", "User-Agent: Lavf61.7.100")
	for i := range len(raw) {
		c.send(raw[i : i+1])
	}
	resp, err := c.readResponse()
	if err != nil || resp.Status != StatusOK || resp.Header.Get("CSeq") != "1" || len(resp.Body) == 0 {
		t.Fatalf("fragmented DESCRIBE: %v %v", resp, err)
	}
}

// TestInterleavedFromClient interleaves '$' frames with requests, as TCP players do with their
// RTCP receiver reports: the report reaches the viewer's counters, frames on unknown channels
// are skipped, and requests keep being answered.
func TestInterleavedFromClient(t *testing.T) {
	ts := startServer(t, Config{})
	c, id, _ := ts.playTCP(t)
	first := c.readRTP(0)

	rr, err := (&rtcp.ReceiverReport{SSRC: 0x1234, Reports: []rtcp.ReceptionReport{{
		SSRC: first.SSRC, FractionLost: 64, TotalLost: 17, LastSequenceNumber: uint32(first.SequenceNumber), Jitter: 99,
	}}}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	dollar := func(ch int, p []byte) string {
		return string([]byte{'$', byte(ch), byte(len(p) >> 8), byte(len(p))}) + string(p)
	}
	// An unknown channel, an empty frame, the RR on our RTCP channel, then a request, in one
	// write; then a request split right after a '$' header.
	c.send(dollar(7, []byte("not rtcp at all")) + dollar(5, nil) + dollar(1, rr) + c.buildRequest("GET_PARAMETER", ts.url, "Session: "+id))
	resp, err := c.readResponse()
	if err != nil || resp.Status != StatusOK || resp.Header.Get("CSeq") != strconv.Itoa(c.cseq) {
		t.Fatalf("GET_PARAMETER after $ frames: %v %v", resp, err)
	}
	waitUntil(t, "receiver report applied", func() bool {
		for _, v := range ts.srv.Viewers() {
			if v.Session == id && v.TotalLost == 17 && v.Jitter == 99 && v.FractionLost == 0.25 {
				return true
			}
		}
		return false
	})
	c.send(dollar(1, rr)[:4])
	c.send(dollar(1, rr)[4:] + c.buildRequest("OPTIONS", "*"))
	if resp, err := c.readResponse(); err != nil || resp.Status != StatusOK {
		t.Fatalf("OPTIONS after split $ frame: %v %v", resp, err)
	}
	// A stray CRLF before a '$' frame (after a request, or alone in a write) is skipped: the
	// frame is still read as one, not as a request line that would cost the viewer its stream.
	c.send(c.buildRequest("GET_PARAMETER", ts.url, "Session: "+id) + "\r\n")
	c.send(dollar(1, rr) + "\r\n\n" + dollar(1, rr) + c.buildRequest("OPTIONS", "*"))
	for _, what := range []string{"GET_PARAMETER before a stray CRLF", "OPTIONS after stray line ends and $ frames"} {
		if resp, err := c.readResponse(); err != nil || resp.Status != StatusOK {
			t.Fatalf("%s: %v %v", what, resp, err)
		}
	}
	// Media kept flowing throughout.
	c.readRTP(0)
}

// TestFixturesExist guards against a fixture directory that silently went empty.
func TestFixturesExist(t *testing.T) {
	ents, err := os.ReadDir("testdata/client-requests")
	if err != nil || len(ents) < 20 {
		t.Fatalf("fixtures missing: %d entries, %v", len(ents), err)
	}
}
