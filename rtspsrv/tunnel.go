package rtspsrv

import (
	"bufio"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"
)

// RTSP over HTTP: Apple's "Tunneling QuickTime RTSP and RTP over HTTP", as live555 (VLC),
// ffmpeg (-rtsp_transport http), GStreamer (rtsph://) and mediamtx speak it, for viewers
// behind proxies and firewalls that let only HTTP out. It shares the RTSP port: the first
// request line says which protocol a connection speaks.
//
//   - The client opens a GET carrying x-sessioncookie. The server answers 200 with
//     Content-Type application/x-rtsp-tunnelled and keeps the connection: every RTSP
//     response and all interleaved media go out on it, raw, exactly as on a plain RTSP
//     connection (so the non-blocking writev media path applies unchanged).
//   - The client then opens a POST with the same cookie, whose body (of a Content-Length
//     that is never honoured) is the base64 of its RTSP requests and interleaved RTCP. No
//     response is ever sent on it. RTCP may also come raw on the GET (live555 sends it
//     there): see readTunnelGET.
//   - The GET's conn then reads its requests from the POST's socket through a base64
//     decoder: read deadlines go to the POST socket, writes to the GET's. The tunnel is one
//     RTSP connection; closing either half ends it and its TCP sessions, like closing a
//     plain connection. Media through a tunnel is interleaved only: that is what the
//     clients ask for, and UDP would defeat the point of tunnelling.
//
// A GET waits for its POST for RequestTimeout at most. Cookies are the server's, removed
// when used or when the GET gives up; a POST joins only a GET from the same address and the
// same listener kind (plain or TLS), so that a guessed cookie cannot inject requests into
// someone else's tunnel. Both halves count toward the per-address connection limit.
//
// Not supported: a client that closes the POST after each request and opens a new one (the
// spec allows it; no current player does). The tunnel ends with its POST.

// Errors of the tunnel, for logs and tests.
var (
	// errHTTPRequest marks an error in an HTTP request's header: the answer is HTTP, not RTSP.
	errHTTPRequest = errors.New("HTTP request")
	// errHandedOff ends a POST connection's own loop: its GET connection reads its socket now.
	errHandedOff = errors.New("connection handed over to its HTTP tunnel")
	// errTunnelTimeout ends a GET whose POST never came.
	errTunnelTimeout = errors.New("HTTP tunnel: no POST joined the GET in time")
)

// tunnelContentType is the type both halves of a tunnel carry.
const tunnelContentType = "application/x-rtsp-tunnelled"

// maxCookieBytes bounds a session cookie: players send 22 to 32 characters.
const maxCookieBytes = 128

// tunnelWait is a tunnel GET waiting for its POST.
type tunnelWait struct {
	get *conn
	// join receives the POST's conn. It holds one, and is sent on under Server.mu by the one
	// POST that removed the cookie, so the send never blocks.
	join chan *conn
}

func isHTTPProto(proto string) bool { return strings.HasPrefix(proto, "HTTP/") }

var httpStatusText = map[int]string{
	200: "OK",
	400: "Bad Request",
	404: "Not Found",
	501: "Not Implemented",
	503: "Service Unavailable",
	505: "HTTP Version Not Supported",
}

// writeHTTP writes an HTTP/1.0 status line and header lines ("Name: value").
func (c *conn) writeHTTP(status int, header ...string) error {
	var b strings.Builder
	b.WriteString("HTTP/1.0 " + strconv.Itoa(status) + " " + httpStatusText[status] + "\r\n")
	b.WriteString("Server: " + c.srv.cfg.ServerName + "\r\n")
	for _, h := range header {
		b.WriteString(h + "\r\n")
	}
	b.WriteString("\r\n")
	if err := c.writeBytes([]byte(b.String())); err != nil {
		return fmt.Errorf("write HTTP %d: %w", status, err)
	}
	return nil
}

// httpError answers an HTTP request with status and ends the connection.
func (c *conn) httpError(status int, why string) error {
	// Debug: a browser or scanner probing the camera's port is no event.
	c.log.Debug("HTTP request refused; closing connection", "status", status, "why", why)
	_ = c.writeHTTP(status, "Connection: close", "Content-Length: 0")
	return fmt.Errorf("%w: HTTP %d: %s", errClosedByServer, status, why)
}

// badHTTPRequest answers an HTTP request whose header could not be read: 400 when it was
// malformed or too large; nothing when the peer went away.
func (c *conn) badHTTPRequest(err error) error {
	if errors.Is(err, errMalformed) || errors.Is(err, errTooLarge) {
		return c.httpError(400, err.Error())
	}
	return err
}

// serveHTTP handles an HTTP request on a connection: one half of a tunnel, or an error.
func (c *conn) serveHTTP(req *Request) error {
	if c.post != nil {
		// Inside a tunnel only RTSP flows; an HTTP answer would only confuse the player.
		return fmt.Errorf("%w: HTTP request inside an HTTP tunnel", errMalformed)
	}
	if req.Proto != "HTTP/1.0" && req.Proto != "HTTP/1.1" {
		return c.httpError(505, "version "+truncate(req.Proto))
	}
	if req.Method != "GET" && req.Method != "POST" {
		return c.httpError(501, "method "+truncate(req.Method))
	}
	cookie := req.Header.Get("x-sessioncookie")
	if cookie == "" {
		// A browser, or anything else that is not a tunnelling player: camerad is no web server.
		return c.httpError(400, "no x-sessioncookie: not an RTSP tunnel")
	}
	if len(cookie) > maxCookieBytes {
		return c.httpError(400, "x-sessioncookie too long")
	}
	tgt, _, err := c.srv.resolve(c, req.URI)
	if err != nil {
		return c.httpError(400, err.Error())
	}
	if tgt != targetAggregate && tgt != targetTrack {
		return c.httpError(404, "path "+truncate(req.URI))
	}
	if req.Method == "GET" {
		return c.openTunnel(cookie)
	}
	return c.joinTunnel(cookie)
}

// openTunnel answers a tunnel GET, waits for its POST and makes c read from it.
func (c *conn) openTunnel(cookie string) error {
	s := c.srv
	w := &tunnelWait{get: c, join: make(chan *conn, 1)}
	s.mu.Lock()
	if _, taken := s.tunnels[cookie]; taken {
		s.mu.Unlock()
		return c.httpError(400, "x-sessioncookie already in use")
	}
	// Registered before the answer goes out: a client may send its POST the moment it
	// reads the 200.
	s.tunnels[cookie] = w
	s.mu.Unlock()

	err := c.writeHTTP(200,
		"Content-Type: "+tunnelContentType,
		"Cache-Control: no-cache",
		"Pragma: no-cache",
		"Connection: close")
	if err != nil {
		if p := s.withdrawTunnel(cookie, w); p != nil {
			p.close()
		}
		return err
	}
	c.log.Debug("HTTP tunnel GET waiting for its POST")
	// Wait by reading the GET: that ends at once when the client gives up (EOF), when the
	// server closes the socket, at RequestTimeout, or when the joining POST moves the
	// deadline to now to wake it. The channel is checked once the deadline is set, so that a
	// POST that joined before cannot have its wake-up overwritten.
	_ = c.in.SetReadDeadline(time.Now().Add(s.cfg.RequestTimeout))
	var p *conn
	select {
	case p = <-w.join:
	default:
		if _, err = c.br.Peek(1); err == nil {
			err = fmt.Errorf("%w: bytes on a tunnel GET", errMalformed) // the client talks on the wrong half
		} else if errors.Is(err, os.ErrDeadlineExceeded) {
			err = errTunnelTimeout
		}
		p = s.withdrawTunnel(cookie, w)
	}
	if p == nil {
		return err
	}
	return c.attachTunnel(p)
}

// withdrawTunnel removes w's cookie; if a POST took it first, it returns that POST's conn.
func (s *Server) withdrawTunnel(cookie string, w *tunnelWait) *conn {
	s.mu.Lock()
	if s.tunnels[cookie] == w {
		delete(s.tunnels, cookie)
		s.mu.Unlock()
		return nil
	}
	s.mu.Unlock()
	return <-w.join // sent under s.mu when the cookie was removed: already there
}

// attachTunnel makes the GET connection c read its requests from the POST connection p.
func (c *conn) attachTunnel(p *conn) error {
	c.mu.Lock()
	if c.closed { // closed meanwhile (shutdown, or a failed write): the POST goes too
		c.mu.Unlock()
		p.close()
		return fmt.Errorf("HTTP tunnel: GET connection closed before its POST joined")
	}
	c.post = p
	c.mu.Unlock()
	// Only this goroutine reads c.in and c.br. p.br may already hold the start of the body.
	get := c.br
	c.in = p.nc
	c.br = bufio.NewReaderSize(&tunnelReader{src: p.br}, 4096)
	go c.readTunnelGET(get)
	c.log.Debug("HTTP tunnel open", "post", p.remote)
	return nil
}

// readTunnelGET reads the GET half of an open tunnel (from br) until the connection ends.
// Clients should send nothing there, but live555 (VLC) writes its RTCP receiver reports to
// the GET, '$'-framed and not base64. Unread, they would be lost as keep-alives and loss
// reports, and after a few hours fill the socket's receive buffer, which stalls the client's
// RTCP writes and then its video. So they are handled as on a plain connection. Line breaks
// are skipped; any other byte is a client that lost its framing, and ends the tunnel. EOF (a
// client that closed its sending side) only ends the reading: media still goes out.
func (c *conn) readTunnelGET(br *bufio.Reader) {
	for {
		// The joining POST set a read deadline of now on the GET to wake openTunnel, perhaps
		// after this goroutine started: clear it, and again whenever it fires.
		_ = c.nc.SetReadDeadline(time.Time{})
		first, err := br.Peek(1)
		switch {
		case err == nil && first[0] == '$':
			err = c.readInterleaved(br)
		case err == nil && (first[0] == '\r' || first[0] == '\n'):
			_, err = br.Discard(1)
		case err == nil:
			c.log.Debug("HTTP tunnel: bytes other than RTCP on the GET; closing the tunnel", "byte", first[0])
			c.closeBecause("HTTP tunnel broken")
			return
		}
		switch {
		case err == nil, errors.Is(err, os.ErrDeadlineExceeded):
		case errors.Is(err, io.EOF):
			return
		default: // the peer reset it, or the server closed the connection
			c.close()
			return
		}
	}
}

// joinTunnel hands the POST connection c to the GET waiting with cookie; c's own loop ends.
func (c *conn) joinTunnel(cookie string) error {
	s := c.srv
	s.mu.Lock()
	w := s.tunnels[cookie]
	if w == nil || w.get.host != c.host || (w.get.tls == nil) != (c.tls == nil) {
		s.mu.Unlock()
		// A cookie from elsewhere is left in place: guessing one cannot end a tunnel either.
		return c.httpError(404, "no tunnel GET with this x-sessioncookie")
	}
	delete(s.tunnels, cookie)
	c.handedOff = true
	w.join <- c
	s.mu.Unlock()
	_ = w.get.nc.SetReadDeadline(time.Now()) // wake the GET (see openTunnel); nc: its in is the GET goroutine's
	c.log.Debug("HTTP tunnel POST joined its GET", "get", w.get.remote)
	return errHandedOff
}

// tunnelReader decodes a tunnel POST's body. Players base64-encode each request (and each
// RTCP packet) on its own, with its own '=' padding, so the body is a run of base64 texts
// rather than one: it is decoded quantum by quantum (4 characters), each padded or not.
// Whitespace between quanta (some clients end each request with CRLF) is skipped.
type tunnelReader struct {
	src *bufio.Reader
	q   [4]byte // the quantum being read
	qn  int
	dec [3]byte
	out []byte // decoded, not yet returned
	err error  // sticky: a broken tunnel stays broken
}

// Read decodes what has arrived, waiting only while it has nothing at all to return: the
// request a quantum completes may be the last thing the client sends before it awaits the
// response.
func (t *tunnelReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		if len(t.out) > 0 {
			k := copy(p[n:], t.out)
			t.out = t.out[k:]
			n += k
			continue
		}
		if t.err != nil || n > 0 && t.src.Buffered() == 0 {
			break
		}
		b, err := t.src.ReadByte()
		if err != nil {
			t.err = err
			break
		}
		switch b {
		case ' ', '\t', '\r', '\n':
			continue
		}
		t.q[t.qn] = b
		if t.qn++; t.qn < len(t.q) {
			continue
		}
		t.qn = 0
		k, err := base64.StdEncoding.Decode(t.dec[:], t.q[:])
		if err != nil {
			t.err = fmt.Errorf("%w: HTTP tunnel body is not base64: %w", errMalformed, err)
			break
		}
		t.out = t.dec[:k]
	}
	if n > 0 {
		return n, nil
	}
	return 0, t.err
}
