package rtspsrv

import (
	"context"
	"io"
	"net"
	"time"
)

// A connection over the per-host limit (MaxViewers+hostConnSlack) is not served, but its
// first request is answered 503 with Retry-After before it is closed: a player then tells its
// user the camera is full (ffmpeg: "503 Service Unavailable"), where a connection closed
// unanswered reads as a network fault and is retried at once. The answer is cheap and
// bounded: at most maxRefusing connections wait for their request at a time, each for at most
// refuseTimeout; any beyond are closed unanswered, as before, so that a host opening
// connections in a loop gains nothing.
const (
	maxRefusing   = 4
	refuseTimeout = 2 * time.Second
)

// refuseLater answers c with 503 in the background if a refusing slot is free, and closes it
// at once otherwise. The caller holds s.mu (so that Close waits for the answer, or cuts it
// short).
func (s *Server) refuseLater(c *conn) {
	select {
	case s.refusing <- struct{}{}:
	default:
		c.raw.Close()
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer func() { <-s.refusing }()
		s.refuse(c)
	}()
}

// refuse reads c's first request, answers it 503 and closes c.
func (s *Server) refuse(c *conn) {
	defer c.raw.Close()
	stop := context.AfterFunc(s.ctx, func() { c.raw.Close() }) // Close must not wait for us
	defer stop()
	if c.tls != nil {
		return // an answer would first cost a TLS handshake
	}
	_ = c.raw.SetDeadline(time.Now().Add(refuseTimeout))
	req, err := readRequest(c.br, s.cfg.Limits)
	if err != nil {
		return
	}
	if isHTTPProto(req.Proto) { // the GET or POST of an HTTP tunnel
		err = c.writeHTTP(StatusServiceUnavailable, "Retry-After: "+retryAfterFull, "Connection: close")
	} else {
		cseq := req.Header.Get("CSeq")
		if !validCSeq(cseq) {
			cseq = ""
		}
		err = c.write(respond(StatusServiceUnavailable).with("Retry-After", retryAfterFull).with("Connection", "close"), cseq)
	}
	if err == nil {
		lingerClose(c.raw)
	}
}

// lingerClose ends the connection's sending side and reads what the client still sends
// (a tunnel's POST body, say) for a moment: closing a socket with unread bytes makes the
// kernel reset the connection, and a reset can reach the client before the answer does.
func lingerClose(nc net.Conn) {
	tc, ok := nc.(*net.TCPConn)
	if !ok {
		return
	}
	_ = tc.CloseWrite()
	_ = tc.SetReadDeadline(time.Now().Add(lingerTimeout))
	_, _ = io.Copy(io.Discard, io.LimitReader(tc, lingerMaxBytes))
}

// lingerTimeout and lingerMaxBytes bound lingerClose: enough for a client to read the answer
// and close, too little for a client to hold the slot by sending on.
const (
	lingerTimeout  = 500 * time.Millisecond
	lingerMaxBytes = 64 << 10
)
