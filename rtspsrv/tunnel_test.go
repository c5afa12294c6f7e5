package rtspsrv

import (
	"bufio"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtcp"
)

// Tests of RTSP over HTTP (tunnel.go) with raw sockets: the two HTTP requests as players
// send them, then RTSP through the tunnel with the usual raw client, whose writes become
// base64 on the POST and whose reads come from the GET.

var tunnelCookies atomic.Int64

// newCookie returns a session cookie unique in the test binary.
func newCookie() string { return fmt.Sprintf("tunnelCookie%d", tunnelCookies.Add(1)) }

// tunnelEncoding turns one write of RTSP bytes into the POST writes a client makes of it.
type tunnelEncoding func(p []byte) []string

var (
	// padded is what ffmpeg, live555 and GStreamer do: each request its own base64 text.
	padded tunnelEncoding = func(p []byte) []string { return []string{base64.StdEncoding.EncodeToString(p)} }
	// paddedCRLF ends each text with CRLF, as some clients do.
	paddedCRLF tunnelEncoding = func(p []byte) []string { return []string{base64.StdEncoding.EncodeToString(p) + "\r\n"} }
	// splitQuanta writes the text 3 characters at a time, so that quanta straddle TCP writes.
	splitQuanta tunnelEncoding = func(p []byte) []string {
		s := base64.StdEncoding.EncodeToString(p)
		var out []string
		for len(s) > 0 {
			n := min(3, len(s))
			out = append(out, s[:n])
			s = s[n:]
		}
		return out
	}
	// splitPadded encodes the request in two texts, each padded, cut mid-request, and
	// writes them separately.
	splitPadded tunnelEncoding = func(p []byte) []string {
		a, b := cutPadded(p)
		return []string{a, b}
	}
	// splitPaddedOneWrite writes both texts at once: padding in the middle of a segment,
	// which a single streaming base64 decoder rejects.
	splitPaddedOneWrite tunnelEncoding = func(p []byte) []string {
		a, b := cutPadded(p)
		return []string{a + b}
	}
)

// cutPadded encodes p as two base64 texts, the first ending in padding.
func cutPadded(p []byte) (string, string) {
	k := len(p)/2 + 1
	if k%3 == 0 {
		k++ // a cut at a multiple of 3 would need no padding
	}
	k = min(k, len(p))
	return base64.StdEncoding.EncodeToString(p[:k]), base64.StdEncoding.EncodeToString(p[k:])
}

// tunnelConn is a client's tunnel seen as one connection: reads (and their deadlines) from
// the GET, writes base64 onto the POST.
type tunnelConn struct {
	net.Conn // the GET
	post     net.Conn
	enc      tunnelEncoding
}

func (c *tunnelConn) Write(p []byte) (int, error) {
	chunks := c.enc(p)
	for i, s := range chunks {
		if i > 0 {
			time.Sleep(time.Millisecond) // separate segments
		}
		if _, err := io.WriteString(c.post, s); err != nil {
			return 0, err
		}
	}
	return len(p), nil
}

func (c *tunnelConn) SetWriteDeadline(t time.Time) error { return c.post.SetWriteDeadline(t) }

func (c *tunnelConn) Close() error {
	c.post.Close()
	return c.Conn.Close()
}

// readHTTPHead reads an HTTP response's status line and header.
func readHTTPHead(br *bufio.Reader) (string, Header, error) {
	status, err := br.ReadString('\n')
	if err != nil {
		return "", nil, fmt.Errorf("status line: %w", err)
	}
	var h Header
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return "", nil, fmt.Errorf("header: %w", err)
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			return strings.TrimRight(status, "\r\n"), h, nil
		}
		name, value, _ := strings.Cut(line, ":")
		h = append(h, HeaderField{Name: name, Value: strings.TrimSpace(value)})
	}
}

// tunnelGET opens a tunnel GET with cookie and checks the server's answer: 200, the
// tunnel's content type, no caching.
func tunnelGET(t *testing.T, addr, cookie string) (net.Conn, *bufio.Reader) {
	t.Helper()
	get, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { get.Close() })
	_ = get.SetDeadline(time.Now().Add(ioDeadline))
	fmt.Fprintf(get, "GET /stream HTTP/1.0\r\nUser-Agent: test\r\nx-sessioncookie: %s\r\nAccept: application/x-rtsp-tunnelled\r\nPragma: no-cache\r\nCache-Control: no-cache\r\n\r\n", cookie)
	br := bufio.NewReader(get)
	status, h, err := readHTTPHead(br)
	if err != nil {
		t.Fatalf("tunnel GET: %v", err)
	}
	if status != "HTTP/1.0 200 OK" {
		t.Fatalf("tunnel GET: status %q, want HTTP/1.0 200 OK", status)
	}
	for name, want := range map[string]string{
		"Content-Type": "application/x-rtsp-tunnelled", "Cache-Control": "no-cache", "Pragma": "no-cache", "Connection": "close",
	} {
		if got := h.Get(name); got != want {
			t.Errorf("tunnel GET answer: %s %q, want %q", name, got, want)
		}
	}
	if h.Has("Content-Length") {
		t.Errorf("tunnel GET answer has a Content-Length: %v", h)
	}
	_ = get.SetDeadline(time.Time{})
	return get, br
}

// tunnelPOST opens the POST half for cookie, its body not yet begun.
func tunnelPOST(t *testing.T, addr, cookie string) net.Conn {
	t.Helper()
	post, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { post.Close() })
	_ = post.SetWriteDeadline(time.Now().Add(ioDeadline))
	fmt.Fprintf(post, "POST /stream HTTP/1.0\r\nUser-Agent: test\r\nx-sessioncookie: %s\r\nContent-Type: application/x-rtsp-tunnelled\r\nPragma: no-cache\r\nCache-Control: no-cache\r\nContent-Length: 32767\r\nExpires: Sun, 9 Jan 1972 00:00:00 GMT\r\n\r\n", cookie)
	return post
}

// dialTunnel opens a whole tunnel and returns an RTSP client speaking through it.
func (ts *testServer) dialTunnel(t *testing.T, enc tunnelEncoding) (*rtspClient, *tunnelConn) {
	t.Helper()
	cookie := newCookie()
	get, br := tunnelGET(t, ts.addr, cookie)
	tc := &tunnelConn{Conn: get, post: tunnelPOST(t, ts.addr, cookie), enc: enc}
	return &rtspClient{t: t, nc: tc, br: br}, tc
}

// playTunnel sets up and plays a TCP-interleaved viewer through a tunnel.
func (ts *testServer) playTunnel(t *testing.T) (*rtspClient, *tunnelConn, string) {
	t.Helper()
	c, tc := ts.dialTunnel(t, padded)
	setup := c.mustDo(StatusOK, "SETUP", ts.url+"/trackID=0", "Transport: RTP/AVP/TCP;unicast;interleaved=0-1")
	id := sessionID(setup.Header.Get("Session"))
	c.mustDo(StatusOK, "PLAY", ts.url+"/", "Session: "+id, "Range: npt=0.000-")
	return c, tc, id
}

// TestTunnelPlay: DESCRIBE, SETUP and PLAY through a tunnel; media arrives on the GET,
// starting with a keyframe; RTCP from the client and keep-alives pass through the POST, on
// which the server never writes. The log says the viewer came through a tunnel.
func TestTunnelPlay(t *testing.T) {
	var logs syncBuffer
	ts := startServer(t, Config{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	c, tc := ts.dialTunnel(t, padded)
	c.mustDo(StatusOK, "OPTIONS", "*")
	desc := c.mustDo(StatusOK, "DESCRIBE", ts.url, "Accept: application/sdp")
	if got, want := desc.Header.Get("Content-Base"), ts.url+"/"; got != want {
		t.Errorf("Content-Base %q, want %q: a tunnel hands out rtsp:// URLs", got, want)
	}
	if !strings.Contains(string(desc.Body), "H264/90000") {
		t.Errorf("SDP without H.264: %s", desc.Body)
	}
	// UDP is not offered through a tunnel: the interleaved alternative is taken.
	setup := c.mustDo(StatusOK, "SETUP", ts.url+"/trackID=0", "Transport: RTP/AVP;unicast;client_port=5000-5001,RTP/AVP/TCP;unicast;interleaved=0-1")
	if tr := setup.Header.Get("Transport"); !strings.HasPrefix(tr, "RTP/AVP/TCP;unicast;interleaved=0-1") {
		t.Errorf("Transport %q, want interleaved", tr)
	}
	id := sessionID(setup.Header.Get("Session"))
	c.mustDo(StatusOK, "PLAY", ts.url+"/", "Session: "+id, "Range: npt=0.000-")
	if out := logs.String(); !strings.Contains(out, `msg="viewer playing" session=`+id) || !strings.Contains(out, "transport=tcp via=http-tunnel") {
		t.Errorf("the viewer's log line does not say it came through a tunnel:\n%s", out)
	}
	if first := c.readRTP(0); !startsKeyframe(first) {
		t.Errorf("first RTP packet through the tunnel is not the start of a keyframe: %v", first)
	}
	for range 50 {
		c.readRTP(0)
	}
	// An RTCP receiver report (interleaved, channel 1) in its own base64 text, then a
	// keep-alive: both reach the server in order.
	rr := []byte{'$', 1, 0, 8, 0x80, 201, 0, 1, 1, 2, 3, 4}
	c.send(string(rr))
	c.mustDo(StatusOK, "GET_PARAMETER", ts.url, "Session: "+id)
	if n := ts.srv.SessionCount(); n != 1 {
		t.Errorf("%d sessions, want 1", n)
	}
	// Nothing is ever written on the POST.
	_ = tc.post.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
	if n, err := tc.post.Read(make([]byte, 1)); n != 0 || !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("read on the POST: %d bytes, %v; want nothing", n, err)
	}
	c.mustDo(StatusOK, "TEARDOWN", ts.url, "Session: "+id)
	waitUntil(t, "session gone after TEARDOWN", func() bool { return ts.srv.SessionCount() == 0 })
}

// TestTunnelRTCPOnGET: live555 (VLC) sends its receiver reports raw on the tunnel's GET, not
// base64 on the POST. The server reads and applies them (they would otherwise pile up in the
// GET's receive buffer until the client's writes stall), and a GET that carries anything else
// has lost its framing: the tunnel ends.
func TestTunnelRTCPOnGET(t *testing.T) {
	ts := startServer(t, Config{})
	c, tc, id := ts.playTunnel(t)
	ssrc := c.readRTP(0).SSRC
	rr, _ := (&rtcp.ReceiverReport{SSRC: 42, Reports: []rtcp.ReceptionReport{{SSRC: ssrc, TotalLost: 17, Jitter: 9}}}).Marshal()
	frame := append([]byte{'$', 1, 0, byte(len(rr))}, rr...)
	for range 3 { // with line breaks between, as a lenient reader should allow
		if _, err := tc.Conn.Write(append(frame, '\r', '\n')); err != nil {
			t.Fatal(err)
		}
	}
	waitUntil(t, "the receiver report on the GET applied", func() bool {
		for _, v := range ts.srv.Viewers() {
			if v.Session == id && v.TotalLost == 17 && v.Jitter == 9 {
				return true
			}
		}
		return false
	})
	c.mustDo(StatusOK, "GET_PARAMETER", ts.url, "Session: "+id) // the tunnel still works

	if _, err := tc.Conn.Write([]byte("GET_PARAMETER rtsp://x/ RTSP/1.0\r\n\r\n")); err != nil {
		t.Fatal(err)
	}
	c.requireClosed()
	waitUntil(t, "session ended", func() bool { return ts.srv.SessionCount() == 0 })
}

// TestTunnelEncodings: requests arrive however the client cuts its base64: each request its
// own padded text (with or without CRLF), quanta split across TCP segments, a request split
// into two padded texts, two pipelined requests in one text.
func TestTunnelEncodings(t *testing.T) {
	ts := startServer(t, Config{})
	for _, tc := range []struct {
		name string
		enc  tunnelEncoding
	}{
		{"padded per request", padded},
		{"padded with CRLF", paddedCRLF},
		{"quanta split across writes", splitQuanta},
		{"request in two padded texts", splitPadded},
		{"two padded texts in one write", splitPaddedOneWrite},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, _ := ts.dialTunnel(t, tc.enc)
			for range 3 { // sizes vary with CSeq: padding of every length
				c.mustDo(StatusOK, "OPTIONS", ts.url)
			}
			c.mustDo(StatusOK, "DESCRIBE", ts.url, "Accept: application/sdp")
			c.send(c.buildRequest("OPTIONS", "*") + c.buildRequest("GET_PARAMETER", ts.url))
			for range 2 {
				if r, err := c.readResponse(); err != nil || r.Status != StatusOK {
					t.Fatalf("pipelined through the tunnel: %v %v", r, err)
				}
			}
		})
	}
}

// httpExchange sends raw on a new connection and reads everything until the server closes
// it; it fails the test if the connection stays open.
func httpExchange(t *testing.T, addr string, raw ...string) string {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(ioDeadline))
	for _, r := range raw {
		if _, err := io.WriteString(nc, r); err != nil {
			t.Fatalf("write: %v", err)
		}
	}
	out, err := io.ReadAll(nc)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("server left the connection open; it sent %q", out)
	}
	return string(out)
}

// TestTunnelErrors: HTTP that is not a usable tunnel gets an HTTP status (never an RTSP
// one) and a close, while a tunnel viewer keeps playing and new tunnels still open.
func TestTunnelErrors(t *testing.T) {
	ts := startServer(t, Config{})
	healthy, _, _ := ts.playTunnel(t)
	mon := monitorTCP(t, healthy, 0)
	mon.requireFlowing(t, "start")

	taken := newCookie()
	get, _ := tunnelGET(t, ts.addr, taken) // waits for its POST meanwhile
	defer get.Close()

	post := func(cookie string) string {
		return "POST /stream HTTP/1.0\r\nx-sessioncookie: " + cookie + "\r\nContent-Type: application/x-rtsp-tunnelled\r\nContent-Length: 32767\r\n\r\n"
	}
	for _, tc := range []struct {
		name, raw, status string
	}{
		{"browser GET", "GET / HTTP/1.1\r\nHost: camera\r\nAccept: text/html\r\n\r\n", "400"},
		{"GET without cookie", "GET /stream HTTP/1.0\r\nAccept: application/x-rtsp-tunnelled\r\n\r\n", "400"},
		{"GET of another path", "GET /nope HTTP/1.0\r\nx-sessioncookie: " + newCookie() + "\r\n\r\n", "404"},
		{"GET with a cookie in use", "GET /stream HTTP/1.0\r\nx-sessioncookie: " + taken + "\r\n\r\n", "400"},
		{"GET with a huge cookie", "GET /stream HTTP/1.0\r\nx-sessioncookie: " + strings.Repeat("c", 200) + "\r\n\r\n", "400"},
		{"POST with an unknown cookie", post(newCookie()) + "T1BUSU9OUw==", "404"},
		{"POST without cookie", "POST /stream HTTP/1.0\r\nContent-Length: 32767\r\n\r\n", "400"},
		{"other method", "PUT /stream HTTP/1.1\r\nx-sessioncookie: x\r\n\r\n", "501"},
		{"other HTTP version", "GET /stream HTTP/2.0\r\nx-sessioncookie: x\r\n\r\n", "505"},
		{"bad header line", "GET /stream HTTP/1.1\r\nno colon\r\n\r\n", "400"},
		{"header over the limit", "GET /stream HTTP/1.1\r\nX: " + strings.Repeat("a", 5000) + "\r\n\r\n", "400"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := httpExchange(t, ts.addr, tc.raw)
			if !strings.HasPrefix(out, "HTTP/1.0 "+tc.status+" ") {
				t.Errorf("answer %q, want HTTP/1.0 %s", out, tc.status)
			}
			if strings.Contains(out, "RTSP/") {
				t.Errorf("an RTSP status to an HTTP request: %q", out)
			}
			mon.requireFlowing(t, tc.name)
		})
	}
	// A POST from another address cannot join the waiting GET, even with its cookie.
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}, Timeout: ioDeadline}
	other, err := d.Dial("tcp", ts.addr)
	if err != nil {
		t.Fatalf("dial from 127.0.0.2: %v", err)
	}
	_ = other.SetDeadline(time.Now().Add(ioDeadline))
	_, _ = io.WriteString(other, post(taken)+"T1BUSU9OUyAqIFJUU1AvMS4wDQpDU2VxOiAxDQoNCg==")
	if out, _ := io.ReadAll(other); !strings.HasPrefix(string(out), "HTTP/1.0 404 ") {
		t.Errorf("POST from another address with a live cookie: %q, want 404", out)
	}
	other.Close()
	// The waiting GET was not disturbed by the attempts on its cookie: its POST joins.
	tc := &tunnelConn{Conn: get, post: tunnelPOST(t, ts.addr, taken), enc: padded}
	c := &rtspClient{t: t, nc: tc, br: bufio.NewReader(get)}
	c.mustDo(StatusOK, "OPTIONS", "*")

	// A request that is not base64 ends the tunnel.
	bad, badTC := ts.dialTunnel(t, padded)
	bad.mustDo(StatusOK, "OPTIONS", "*")
	if _, err := io.WriteString(badTC.post, "!!!not base64!!!"); err != nil {
		t.Fatal(err)
	}
	bad.requireClosed()
	// So does HTTP inside the tunnel.
	nested, _ := ts.dialTunnel(t, padded)
	nested.send("GET /stream HTTP/1.0\r\nx-sessioncookie: " + newCookie() + "\r\n\r\n")
	nested.requireClosed()

	mon.requireFlowing(t, "after the errors")
	c2, _ := ts.dialTunnel(t, padded)
	c2.mustDo(StatusOK, "OPTIONS", "*")
	ts.dial(t).mustDo(StatusOK, "OPTIONS", "*")
}

// TestTunnelGETTimeout: a GET whose POST never comes is closed after RequestTimeout, and its
// cookie is forgotten.
func TestTunnelGETTimeout(t *testing.T) {
	const timeout = 300 * time.Millisecond
	ts := startServer(t, Config{RequestTimeout: timeout})
	cookie := newCookie()
	start := time.Now()
	out := httpExchange(t, ts.addr, "GET /stream HTTP/1.0\r\nx-sessioncookie: "+cookie+"\r\nAccept: application/x-rtsp-tunnelled\r\n\r\n")
	if !strings.HasPrefix(out, "HTTP/1.0 200 OK\r\n") {
		t.Fatalf("GET answered %q", out)
	}
	if d := time.Since(start); d < timeout/2 {
		t.Errorf("GET closed after %v, before RequestTimeout (%v)", d, timeout)
	}
	if out := httpExchange(t, ts.addr, "POST /stream HTTP/1.0\r\nx-sessioncookie: "+cookie+"\r\n\r\n"); !strings.HasPrefix(out, "HTTP/1.0 404 ") {
		t.Errorf("POST after its GET timed out: %q, want 404", out)
	}
	ts.srv.mu.Lock()
	n := len(ts.srv.tunnels)
	ts.srv.mu.Unlock()
	if n != 0 {
		t.Errorf("%d cookies left", n)
	}
}

// TestTunnelEnds: closing either half of a playing tunnel ends it: the other half is closed,
// the session ends, and goroutines and descriptors return to where they were.
func TestTunnelEnds(t *testing.T) {
	ts := startServer(t, Config{})
	warm, _ := ts.dialTunnel(t, padded)
	warm.mustDo(StatusOK, "OPTIONS", "*")
	waitUntil(t, "warm-up connections gone", func() bool { ts.srv.mu.Lock(); defer ts.srv.mu.Unlock(); return len(ts.srv.conns) == 2 })
	g, fds := runtime.NumGoroutine(), countFDs(t)

	for _, half := range []string{"POST", "GET"} {
		t.Run("client closes its "+half, func(t *testing.T) {
			c, tc, _ := ts.playTunnel(t)
			c.readRTP(0)
			if half == "POST" {
				tc.post.Close()
				c.requireClosed() // the GET: the server ends the tunnel
			} else {
				tc.Conn.Close()
				_ = tc.post.SetReadDeadline(time.Now().Add(ioDeadline))
				if _, err := io.Copy(io.Discard, tc.post); errors.Is(err, os.ErrDeadlineExceeded) {
					t.Fatalf("POST left open after its GET closed")
				}
			}
			waitUntil(t, "session ended", func() bool { return ts.srv.SessionCount() == 0 })
		})
	}
	// Unjoined halves and failed POSTs too.
	for range 5 {
		get, _ := tunnelGET(t, ts.addr, newCookie())
		get.Close()
		httpExchange(t, ts.addr, "POST /stream HTTP/1.0\r\nx-sessioncookie: nobody\r\n\r\n")
	}
	for range 5 {
		c, tc := ts.dialTunnel(t, padded)
		c.mustDo(StatusOK, "OPTIONS", "*")
		tc.Close()
	}
	waitUntil(t, "connections gone", func() bool { ts.srv.mu.Lock(); defer ts.srv.mu.Unlock(); return len(ts.srv.conns) <= 2 })
	settleResources(t, g, fds)
}

// TestTunnelHostLimit: both halves count toward the per-address connection limit.
func TestTunnelHostLimit(t *testing.T) {
	ts := startServer(t, Config{MaxViewers: 1})
	limit := 1 + hostConnSlack
	for range limit / 2 {
		c, _ := ts.dialTunnel(t, padded)
		c.mustDo(StatusOK, "OPTIONS", "*")
	}
	// One connection left: a GET, whose POST is then refused with HTTP 503 and closed.
	cookie := newCookie()
	get, _ := tunnelGET(t, ts.addr, cookie)
	post := tunnelPOST(t, ts.addr, cookie)
	_ = post.SetReadDeadline(time.Now().Add(ioDeadline))
	answer, err := io.ReadAll(post)
	if errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatal("POST beyond the per-address limit was accepted")
	}
	if !strings.HasPrefix(string(answer), "HTTP/1.0 503 ") {
		t.Fatalf("POST beyond the per-address limit answered %q; want HTTP 503", answer)
	}
	get.Close()
}

// TestTunnelIdleTimeout: read deadlines apply to the POST, where requests come from: a
// tunnel with nothing playing that stops sending requests is closed after IdleTimeout.
func TestTunnelIdleTimeout(t *testing.T) {
	ts := startServer(t, Config{IdleTimeout: 300 * time.Millisecond})
	c, tc := ts.dialTunnel(t, padded)
	c.mustDo(StatusOK, "OPTIONS", "*")
	c.requireClosed()
	_ = tc.post.SetReadDeadline(time.Now().Add(ioDeadline))
	if _, err := io.Copy(io.Discard, tc.post); errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatal("POST left open after the tunnel timed out")
	}
}
