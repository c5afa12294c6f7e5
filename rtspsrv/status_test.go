package rtspsrv

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/camerad/camerad/rtspsrv/digest"
	"github.com/camerad/camerad/rtspsrv/digest/digesttest"
)

// statusCase is one bad (or unusual) request and what the server must answer.
type statusCase struct {
	name string
	// raw, when set, is sent as is (CSeq included or not); otherwise method/uri/headers are
	// sent with the client's next CSeq.
	raw     string
	method  string
	uri     string // relative to the server URL when it starts with "/" or is empty
	headers []string
	// prepare runs on the same connection first and may return headers to add (a session).
	prepare func(t *testing.T, ts *testServer, c *rtspClient) []string

	status   int
	noCSeq   bool              // the request had no usable CSeq, so the answer has none
	closed   bool              // the server must close the connection after answering
	headers2 map[string]string // response headers that must be present ("" = any value)
}

func (sc statusCase) run(t *testing.T, ts *testServer) {
	t.Helper()
	c := ts.dial(t)
	var extra []string
	if sc.prepare != nil {
		extra = sc.prepare(t, ts, c)
	}
	raw := sc.raw
	if raw != "" {
		c.cseq = 1 // raw requests are written with CSeq 1 (when they have one)
	} else {
		uri := sc.uri
		if uri == "" || strings.HasPrefix(uri, "/") {
			uri = ts.url + uri
		}
		raw = c.buildRequest(sc.method, uri, append(append([]string{}, sc.headers...), extra...)...)
	}
	c.send(raw)
	resp, err := c.readResponse()
	if err != nil {
		t.Fatalf("no response: %v", err)
	}
	if resp.Status != sc.status {
		t.Fatalf("status %d %s, want %d (%v)", resp.Status, resp.Reason, sc.status, resp)
	}
	if resp.Reason != StatusText(sc.status) {
		t.Errorf("reason %q, want %q", resp.Reason, StatusText(sc.status))
	}
	switch {
	case sc.noCSeq && resp.Header.Has("CSeq"):
		t.Errorf("CSeq %q echoed although the request had none usable", resp.Header.Get("CSeq"))
	case !sc.noCSeq && resp.Header.Get("CSeq") != fmt.Sprint(c.cseq):
		t.Errorf("CSeq %q, want %d", resp.Header.Get("CSeq"), c.cseq)
	}
	for k, v := range sc.headers2 {
		if !resp.Header.Has(k) || v != "" && resp.Header.Get(k) != v {
			t.Errorf("header %s = %q, want %q", k, resp.Header.Get(k), v)
		}
	}
	if sc.closed {
		c.requireClosed()
		return
	}
	// The connection is still good for the next request.
	c.mustDo(StatusOK, "OPTIONS", ts.url)
}

func setupTCPSession(t *testing.T, ts *testServer, c *rtspClient) string {
	t.Helper()
	resp := c.mustDo(StatusOK, "SETUP", ts.url+"/trackID=0", "Transport: RTP/AVP/TCP;unicast")
	return sessionID(resp.Header.Get("Session"))
}

// TestErrorStatuses sends one request per error status of DESIGN §4 (and the other statuses
// the server uses) while another viewer plays, and checks after each that this viewer is
// still receiving without loss and that a new client is still served.
func TestErrorStatuses(t *testing.T) {
	ts := startServer(t, Config{})
	healthy, _, _ := ts.playTCP(t)
	mon := monitorTCP(t, healthy, 0)
	mon.requireFlowing(t, "start")

	allowPlay := "OPTIONS, PLAY, PAUSE, TEARDOWN, GET_PARAMETER, SET_PARAMETER"
	inReady := func(t *testing.T, ts *testServer, c *rtspClient) []string {
		return []string{"Session: " + setupTCPSession(t, ts, c)}
	}
	playing := func(t *testing.T, ts *testServer, c *rtspClient) []string {
		id := setupTCPSession(t, ts, c)
		c.mustDo(StatusOK, "PLAY", ts.url, "Session: "+id)
		return []string{"Session: " + id}
	}
	cases := []statusCase{
		{name: "400 garbage", raw: "\x16\x03\x01\x00\xa5\x01\x00\x00\xa1\x03\x03\r\n\r\n", status: StatusBadRequest, noCSeq: true, closed: true,
			headers2: map[string]string{"Connection": "close"}},
		{name: "400 no CSeq", raw: "OPTIONS * RTSP/1.0\r\nUser-Agent: x\r\n\r\n", status: StatusBadRequest, noCSeq: true, closed: true,
			headers2: map[string]string{"Connection": "close"}},
		{name: "400 bad CSeq", raw: "OPTIONS * RTSP/1.0\r\nCSeq: one\r\n\r\n", status: StatusBadRequest, noCSeq: true, closed: true},
		// The CSeq before the bad line is readable, and goes back with the 400 (RFC 2326 §12.17).
		{name: "400 bad header line", raw: "OPTIONS * RTSP/1.0\r\nCSeq: 1\r\nno colon here\r\n\r\n", status: StatusBadRequest, closed: true},
		{name: "400 bad header line before CSeq", raw: "OPTIONS * RTSP/1.0\r\nno colon here\r\nCSeq: 1\r\n\r\n", status: StatusBadRequest, noCSeq: true, closed: true},
		{name: "400 unparsable URL", method: "DESCRIBE", uri: "rtsp://[::1/stream", status: StatusBadRequest},
		{name: "404 unknown path", method: "DESCRIBE", uri: "rtsp://127.0.0.1/nope", status: StatusNotFound},
		{name: "404 unknown track", method: "SETUP", uri: "/trackID=1", headers: []string{"Transport: RTP/AVP/TCP;unicast"}, status: StatusNotFound},
		{name: "405 ANNOUNCE", method: "ANNOUNCE", headers: []string{"Content-Type: application/sdp"},
			status: StatusMethodNotAllowed, headers2: map[string]string{"Allow": publicMethods}},
		{name: "405 RECORD", method: "RECORD", status: StatusMethodNotAllowed, headers2: map[string]string{"Allow": publicMethods}},
		{name: "454 unknown session", method: "PLAY", headers: []string{"Session: 0123456789ABCDEF"}, status: StatusSessionNotFound},
		{name: "454 PLAY without session", method: "PLAY", status: StatusSessionNotFound},
		{name: "454 TEARDOWN without session", method: "TEARDOWN", status: StatusSessionNotFound},
		{name: "455 PAUSE before PLAY", method: "PAUSE", prepare: inReady, status: StatusMethodNotValidInState,
			headers2: map[string]string{"Allow": ""}},
		{name: "455 SETUP while playing", method: "SETUP", uri: "/trackID=0", headers: []string{"Transport: RTP/AVP/TCP;unicast"}, prepare: playing,
			status: StatusMethodNotValidInState, headers2: map[string]string{"Allow": allowPlay}},
		{name: "459 SETUP aggregate", method: "SETUP", headers: []string{"Transport: RTP/AVP/TCP;unicast"}, status: StatusAggregateNotAllowed},
		{name: "461 SAVP only", method: "SETUP", uri: "/trackID=0", headers: []string{"Transport: RTP/SAVP;unicast;client_port=5000-5001"}, status: StatusUnsupportedTransport},
		{name: "461 multicast only", method: "SETUP", uri: "/trackID=0", headers: []string{"Transport: RTP/AVP;multicast"}, status: StatusUnsupportedTransport},
		{name: "461 record", method: "SETUP", uri: "/trackID=0", headers: []string{"Transport: RTP/AVP/TCP;unicast;mode=record"}, status: StatusUnsupportedTransport},
		{name: "461 no Transport", method: "SETUP", uri: "/trackID=0", status: StatusUnsupportedTransport},
		{name: "501 unknown method", method: "FLY", status: StatusNotImplemented},
		{name: "505 RTSP/2.0", raw: "OPTIONS * RTSP/2.0\r\nCSeq: 1\r\n\r\n", status: StatusRTSPVersionNotSupported},
		{name: "505 RTSP/1.1", raw: "DESCRIBE rtsp://127.0.0.1/stream RTSP/1.1\r\nCSeq: 1\r\n\r\n", status: StatusRTSPVersionNotSupported},
		{name: "400 RTSP/2.0 without CSeq", raw: "OPTIONS * RTSP/2.0\r\n\r\n", status: StatusBadRequest, noCSeq: true, closed: true},
		{name: "551 Require", method: "DESCRIBE", headers: []string{"Require: com.example.fancy"}, status: StatusOptionNotSupported,
			headers2: map[string]string{"Unsupported": "com.example.fancy"}},
		{name: "451 GET_PARAMETER with a body", raw: "GET_PARAMETER * RTSP/1.0\r\nCSeq: 1\r\nContent-Type: text/parameters\r\nContent-Length: 6\r\n\r\nfocus\n",
			status: StatusParameterNotUnderstood},
	}
	for _, sc := range cases {
		t.Run(sc.name, func(t *testing.T) {
			sc.run(t, ts)
			mon.requireFlowing(t, sc.name)
			ts.dial(t).mustDo(StatusOK, "OPTIONS", "*")
		})
	}
}

// TestUnauthorizedStatus: with a password set, everything but OPTIONS needs credentials.
func TestUnauthorizedStatus(t *testing.T) {
	ts := startServer(t, Config{Username: "admin", Password: "secret"})
	c := ts.dial(t)
	c.mustDo(StatusOK, "OPTIONS", ts.url)
	c.mustDo(StatusOK, "OPTIONS", "*")
	var nonce string
	for _, m := range []string{"DESCRIBE", "SETUP", "PLAY", "GET_PARAMETER", "TEARDOWN"} {
		resp := c.mustDo(StatusUnauthorized, m, ts.url+"/trackID=0", "Transport: RTP/AVP/TCP;unicast")
		if !resp.Header.Has("WWW-Authenticate") {
			t.Errorf("%s: 401 without a challenge", m)
		}
		nonce = digest.ParseParams(strings.TrimPrefix(resp.Header.Get("WWW-Authenticate"), "Digest "))["nonce"]
	}
	// Still serving: with credentials the same connection gets in.
	c.mustDo(StatusOK, "DESCRIBE", ts.url, "Authorization: "+digesttest.Authorization("admin", authRealm, "secret", "DESCRIBE", ts.url, nonce, ""))
}

// TestTooManyViewers: SETUP beyond MaxViewers gets 503 with Retry-After; a TEARDOWN frees a
// slot; the playing viewer never notices.
func TestTooManyViewers(t *testing.T) {
	ts := startServer(t, Config{MaxViewers: 2})
	healthy, _, _ := ts.playTCP(t)
	mon := monitorTCP(t, healthy, 0)

	c := ts.dial(t)
	id := setupTCPSession(t, ts, c)
	for i := range 3 {
		other := ts.dial(t)
		resp := other.mustDo(StatusServiceUnavailable, "SETUP", ts.url+"/trackID=0", "Transport: RTP/AVP/TCP;unicast")
		if resp.Header.Get("Retry-After") == "" {
			t.Errorf("attempt %d: the 503 says nothing of when to retry (Retry-After)", i)
		}
		// The refused client may still ask other things.
		other.mustDo(StatusOK, "OPTIONS", ts.url)
		if n := ts.srv.SessionCount(); n != 2 {
			t.Fatalf("attempt %d: %d sessions, want 2", i, n)
		}
	}
	mon.requireFlowing(t, "after 503s")
	c.mustDo(StatusOK, "TEARDOWN", ts.url, "Session: "+id)
	setupTCPSession(t, ts, ts.dial(t))
	mon.requireFlowing(t, "after a slot was reused")
}

// TestPlayScale: a player asking for another speed (NVR timeline controls do) still gets the
// live stream, and the answer says at which scale (RFC 2326 §12.34); without the header the
// answer has none.
func TestPlayScale(t *testing.T) {
	ts := startServer(t, Config{})
	for _, scale := range []string{"2.0", ""} {
		c, id, _ := ts.playTCP(t)
		c.mustDo(StatusOK, "PAUSE", ts.url, "Session: "+id)
		headers := []string{"Session: " + id}
		if scale != "" {
			headers = append(headers, "Scale: "+scale)
		}
		resp := c.mustDo(StatusOK, "PLAY", ts.url, headers...)
		want := map[string]string{"2.0": "1"}[scale]
		if got := resp.Header.Get("Scale"); got != want {
			t.Errorf("PLAY with Scale %q: answered Scale %q, want %q", scale, got, want)
		}
	}
}

// TestResponsesAreDated: every response carries an HTTP date (RFC 2326 §12.18), errors too.
func TestResponsesAreDated(t *testing.T) {
	ts := startServer(t, Config{})
	c := ts.dial(t)
	for _, resp := range []*rtspResponse{
		c.mustDo(StatusOK, "OPTIONS", ts.url),
		c.mustDo(StatusSessionNotFound, "PLAY", ts.url, "Session: 0123456789ABCDEF"),
	} {
		d, err := http.ParseTime(resp.Header.Get("Date"))
		if err != nil || time.Since(d).Abs() > time.Minute {
			t.Errorf("Date %q: %v; want the current time in HTTP's format", resp.Header.Get("Date"), err)
		}
	}
}

// TestViewersArePlaying: Viewers (the status line's viewer count) lists the sessions that are
// playing, not those set up and never played, nor paused ones.
func TestViewersArePlaying(t *testing.T) {
	ts := startServer(t, Config{})
	_, playing, _ := ts.playTCP(t)
	setupTCPSession(t, ts, ts.dial(t))
	paused, pausedID, _ := ts.playTCP(t)
	paused.mustDo(StatusOK, "PAUSE", ts.url, "Session: "+pausedID)
	var got []string
	for _, v := range ts.srv.Viewers() {
		got = append(got, v.Session)
	}
	if len(got) != 1 || got[0] != playing {
		t.Errorf("Viewers lists %q; want the one playing session %q of 3", got, playing)
	}
	paused.mustDo(StatusOK, "PLAY", ts.url, "Session: "+pausedID)
	if n := len(ts.srv.Viewers()); n != 2 {
		t.Errorf("after the paused one resumed, %d viewers, want 2", n)
	}
}
