package rtspsrv

import (
	"bufio"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"sync"
	"syscall"
	"time"
)

// conn is one RTSP control connection. It reads requests and interleaved frames in order,
// answers each request before reading the next (so pipelined requests are answered in
// order), and shares its write side with the TCP media writers of its sessions.
type conn struct {
	srv           *Server
	nc            net.Conn  // what RTSP is spoken over: raw, or tls wrapping raw
	raw           net.Conn  // the accepted socket
	tls           *tls.Conn // nil on a plain RTSP connection
	br            *bufio.Reader
	in            net.Conn // what br reads from, and so where read deadlines go: nc, or a tunnel's POST
	log           *slog.Logger
	remote        string
	host          string // the client's address without the port
	spoken        bool   // a first byte has arrived
	strayLineEnds int    // line-end bytes skipped since the last message (see readMessage)
	// An HTTP tunnel (tunnel.go): on its GET connection, post is the POST connection its
	// requests arrive on; handedOff marks a POST connection whose socket its GET now reads.
	post      *conn // under mu
	handedOff bool

	writeMu sync.Mutex
	writev  *writevOnce // nil when nc is not a socket (TLS); then media is written only blocking
	gather  []byte      // TLS: a frame's packets gathered for one Write (see writeGathered)
	// partial is the media writer whose frame is on the wire in part: a non-blocking write
	// left the rest to its goroutine. Until that is written nothing else may be (a response,
	// a BYE or another session's packet would land inside a '$' frame, and the player would
	// lose its framing for good); writeFree is signalled, with writeMu, when it is. Under
	// writeMu, as is writeClosed.
	partial     *tcpMedia
	writeFree   *sync.Cond
	writeClosed bool

	mu       sync.Mutex
	sessions map[*session]struct{} // sessions set up over this connection
	closed   bool
	once     sync.Once
}

// newConn wraps an accepted socket; with tlsCfg it speaks RTSP over TLS.
func newConn(s *Server, raw net.Conn, tlsCfg *tls.Config) *conn {
	// Socket options go on the socket itself: a tls.Conn hides it.
	limitUnsent(raw)
	c := &conn{
		srv:      s,
		nc:       raw,
		raw:      raw,
		log:      s.log.With("remote", raw.RemoteAddr().String()),
		remote:   raw.RemoteAddr().String(),
		host:     remoteHost(raw),
		sessions: make(map[*session]struct{}),
	}
	if tlsCfg != nil {
		c.tls = tls.Server(raw, tlsCfg)
		c.nc = c.tls
		c.log = c.log.With("tls", true)
	}
	c.br = bufio.NewReaderSize(c.nc, 4096)
	c.in = c.nc
	c.writev = newWritevOnce(c.nc)
	c.writeFree = sync.NewCond(&c.writeMu)
	return c
}

// scheme is the URL scheme of the connection, for the URLs the server hands out.
func (c *conn) scheme() string {
	if c.tls != nil {
		return "rtsps"
	}
	return "rtsp"
}

// interleavedOnly reports whether media must stay inside the connection: over TLS (the
// picture would otherwise go in the clear) and through an HTTP tunnel (UDP would not get
// through what the tunnel is for). Called on the connection's goroutine.
func (c *conn) interleavedOnly() bool { return c.tls != nil || c.post != nil }

// via says what the connection's RTSP travels inside, for the log ("" for plain RTSP).
// Called on the connection's goroutine.
func (c *conn) via() string {
	switch {
	case c.post != nil && c.tls != nil:
		return "http-tunnel+tls"
	case c.post != nil:
		return "http-tunnel"
	case c.tls != nil:
		return "tls"
	}
	return ""
}

func (c *conn) serve() {
	reason := "connection closed" // what the "viewer left" lines of its sessions say
	defer func() {
		if !c.handedOff { // a tunnel's POST: its GET connection closes it
			c.closeBecause(reason)
		}
	}()
	c.log.Debug("connection opened")
	if c.tls != nil {
		if err := c.handshake(); err != nil {
			// Debug: port scanners and plain RTSP sent to the TLS port end here.
			c.log.Debug("connection closed", "reason", err)
			return
		}
	}
	for {
		if err := c.readMessage(); err != nil {
			c.logEnd(err)
			if errors.Is(err, errMalformed) || errors.Is(err, errTooLarge) {
				reason = "bad request: " + err.Error()
			}
			return
		}
	}
}

// readMessage reads and handles one request or interleaved frame.
func (c *conn) readMessage() error {
	// Waiting for the next message: idle connections are bounded, except while media flows to
	// the client over this connection (its writes detect a dead peer). Until its first byte a
	// connection gets only RequestTimeout.
	switch {
	case c.playingOverTCP():
		_ = c.in.SetReadDeadline(time.Time{})
	case !c.spoken:
		_ = c.in.SetReadDeadline(time.Now().Add(c.srv.cfg.RequestTimeout))
	default:
		_ = c.in.SetReadDeadline(time.Now().Add(c.srv.cfg.IdleTimeout))
	}
	first, err := c.br.Peek(1)
	if err != nil {
		return err
	}
	if first[0] == '\r' || first[0] == '\n' {
		// A stray line end between messages (some clients add a CRLF after a request or an
		// interleaved frame): skipped here, so that a '$' frame after it is still one, and
		// so that waiting for the next message keeps its own deadline. Only a few in a row:
		// line ends alone must not keep a connection that says nothing open for ever.
		if c.strayLineEnds++; c.strayLineEnds > maxStrayLineEnds {
			_ = c.write(respond(StatusBadRequest).with("Connection", "close"), "")
			return fmt.Errorf("%w: %d line ends without a message", errMalformed, c.strayLineEnds)
		}
		_, err := c.br.Discard(1)
		return err
	}
	c.strayLineEnds = 0
	c.spoken = true
	// From the first byte on, the whole message must arrive within RequestTimeout.
	_ = c.in.SetReadDeadline(time.Now().Add(c.srv.cfg.RequestTimeout))
	if first[0] == '$' {
		return c.readInterleaved(c.br)
	}
	req, err := readRequest(c.br, c.srv.cfg.Limits)
	if err != nil {
		if errors.Is(err, errHTTPRequest) {
			return c.badHTTPRequest(err)
		}
		if errors.Is(err, errMalformed) || errors.Is(err, errTooLarge) {
			// Debug, not Info: a port scanner on :554 would otherwise push everything useful
			// out of the image's small log. The client gets its answer either way, with its
			// CSeq if that much was readable.
			c.log.Debug("bad request; closing connection", "err", err)
			cseq := ""
			if req != nil && validCSeq(req.Header.Get("CSeq")) {
				cseq = req.Header.Get("CSeq")
			}
			c.write(respond(malformedStatus(err)).with("Connection", "close"), cseq)
			return err
		}
		return err
	}
	if isHTTPProto(req.Proto) {
		return c.serveHTTP(req)
	}
	resp := c.srv.handle(c, req)
	cseq := req.Header.Get("CSeq")
	if resp.Status == StatusBadRequest && !validCSeq(cseq) {
		cseq = ""
	}
	if err := c.write(resp, cseq); err != nil {
		return err
	}
	if resp.afterWrite != nil {
		resp.afterWrite()
	}
	if resp.Close {
		return errClosedByServer
	}
	return nil
}

var errClosedByServer = errors.New("closed after error response")

// maxStrayLineEnds is how many line-end bytes may come between two messages (four CRLFs).
const maxStrayLineEnds = 8

// readInterleaved consumes a '$' frame from the client from br: RTCP receiver reports on an
// odd channel of one of this connection's sessions; anything else is skipped.
func (c *conn) readInterleaved(br *bufio.Reader) error {
	var hdr [4]byte
	if _, err := io.ReadFull(br, hdr[:]); err != nil {
		return err
	}
	ch, n := int(hdr[1]), int(binary.BigEndian.Uint16(hdr[2:]))
	payload, err := br.Peek(min(n, br.Size()))
	if err != nil {
		return err
	}
	if len(payload) == n {
		c.mu.Lock()
		for ss := range c.sessions {
			ss.interleavedFromClient(ch, payload)
		}
		c.mu.Unlock()
	}
	_, err = br.Discard(n)
	return err
}

// write sends a response; it shares the connection with media writers, so it takes the lock.
func (c *conn) write(resp *Response, cseq string) error {
	return c.writeBytes(resp.marshal(cseq, c.srv.cfg.ServerName, time.Now()))
}

// writeBytes writes a whole message (a response) between media writes.
func (c *conn) writeBytes(b []byte) error {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	c.waitTurn(nil)
	defer c.clearWriteDeadline()
	_ = c.nc.SetWriteDeadline(c.writeDeadline())
	_, err := c.nc.Write(b)
	return err
}

// shutdownWriteTimeout bounds every write once the server is shutting down (a BYE, the rest
// of a frame): a viewer that stopped reading must not hold the exit up for the whole write
// timeout.
const shutdownWriteTimeout = 300 * time.Millisecond

// writeDeadline is the deadline of a blocking write that starts now.
func (c *conn) writeDeadline() time.Time {
	d := c.srv.cfg.WriteTimeout
	if c.srv.ctx.Err() != nil {
		d = min(d, shutdownWriteTimeout)
	}
	return time.Now().Add(d)
}

// writeMedia writes owner's interleaved RTP/RTCP with one writev (over TLS: gathered into
// few records), after any other writer's frame on the wire; bufs is consumed.
func (c *conn) writeMedia(owner *tcpMedia, bufs *net.Buffers) error {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	c.waitTurn(owner)
	defer c.clearWriteDeadline()
	_ = c.nc.SetWriteDeadline(c.writeDeadline())
	var err error
	if c.tls != nil {
		err = c.writeGathered(bufs)
	} else {
		_, err = bufs.WriteTo(c.nc)
	}
	if err == nil {
		c.finished(owner)
	}
	return err
}

// waitTurn waits, writeMu held, until no other writer's frame is on the wire in part (or the
// connection has closed: the write then fails).
func (c *conn) waitTurn(owner *tcpMedia) {
	for c.partial != nil && c.partial != owner && !c.writeClosed {
		c.writeFree.Wait()
	}
}

// finished notes, writeMu held, that owner has nothing on the wire in part any more.
func (c *conn) finished(owner *tcpMedia) {
	if c.partial == owner && owner != nil {
		c.partial = nil
		c.writeFree.Broadcast()
	}
}

// onWireInPart reports whether owner's frame is on the wire in part.
func (c *conn) onWireInPart(owner *tcpMedia) bool {
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	return c.partial == owner
}

// clearWriteDeadline lifts a blocking write's deadline once it is over: tryWriteMedia's
// writes go through the same descriptor, and a deadline left behind would fail them when it
// passes.
func (c *conn) clearWriteDeadline() { _ = c.nc.SetWriteDeadline(time.Time{}) }

// tryWriteMedia writes what the connection takes of owner's bufs now, without waiting for
// room, for the write lock or for another writer's frame, and consumes it from bufs.
func (c *conn) tryWriteMedia(owner *tcpMedia, bufs *net.Buffers) error {
	if c.writev == nil || !c.writeMu.TryLock() {
		return nil
	}
	defer c.writeMu.Unlock()
	if c.partial != nil && c.partial != owner {
		return nil
	}
	if err := c.writev.write(bufs); err != nil {
		return err
	}
	switch {
	case len(*bufs) == 0:
		c.finished(owner)
	case c.writev.n > 0:
		c.partial = owner // the rest is its goroutine's to write, before anyone else's
	}
	return nil
}

// addSession records a session set up over the connection; false when the connection has
// closed meanwhile (its sessions have been ended, and this one would outlive it).
func (c *conn) addSession(ss *session) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	c.sessions[ss] = struct{}{}
	return true
}

// maxSessionsPerConn bounds the sessions one RTSP connection may set up at a time. Players
// need one (one stream, one track); a few more leave room for tools that test several
// transports over one connection.
const maxSessionsPerConn = 8

func (c *conn) sessionCount() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.sessions)
}

func (c *conn) dropSession(ss *session) {
	c.mu.Lock()
	delete(c.sessions, ss)
	c.mu.Unlock()
}

func (c *conn) playingOverTCP() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for ss := range c.sessions {
		if ss.lower == LowerTCP && ss.playing() {
			return true
		}
	}
	return false
}

// close ends the connection and the sessions that end with it (see session.endsWithConn):
// UDP and multicast ones that play to a viewer heard from live on.
func (c *conn) close() { c.closeBecause("connection closed") }

// closeBecause is close, with the reason its sessions' "viewer left" lines give.
func (c *conn) closeBecause(reason string) {
	c.once.Do(func() {
		// The socket, not the tls.Conn: tls.Conn.Close first sends close_notify with a 5 s
		// write deadline, which a viewer that stopped reading would make Close (and the
		// server's shutdown, which closes connections one by one) wait out. RTSP frames its
		// own messages, so a missing close_notify cannot truncate one unnoticed.
		c.raw.Close()
		c.writeMu.Lock() // writers waiting for their turn: their writes now fail
		c.writeClosed, c.partial = true, nil
		c.writeFree.Broadcast()
		c.writeMu.Unlock()
		c.mu.Lock()
		var ending []*session
		for ss := range c.sessions {
			if ss.endsWithConn() {
				ending = append(ending, ss)
			}
		}
		c.closed = true
		post := c.post
		c.mu.Unlock()
		if post != nil {
			post.close() // the tunnel's other half: unblocks the read from it too
		}
		for _, ss := range ending {
			ss.close(reason)
		}
		c.srv.removeConn(c)
	})
}

// logEnd says once, at the right level, why the connection ended. A peer that goes away is
// normal for a camera (viewer closed, Wi-Fi dropped): debug level.
func (c *conn) logEnd(err error) {
	switch {
	case errors.Is(err, errHandedOff):
		c.log.Debug("connection joined its HTTP tunnel")
	case errors.Is(err, errMalformed), errors.Is(err, errTooLarge):
		// Logged with its cause where it was answered.
	case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed), errors.Is(err, syscall.ECONNRESET),
		errors.Is(err, syscall.EPIPE), errors.Is(err, errClosedByServer):
		c.log.Debug("connection closed", "reason", err)
	case errors.Is(err, os.ErrDeadlineExceeded):
		c.log.Debug("connection timed out")
	default:
		c.log.Debug("connection ended", "err", err)
	}
}
