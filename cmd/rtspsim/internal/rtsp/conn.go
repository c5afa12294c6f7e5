package rtsp

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Options configure a Conn.
type Options struct {
	// UserAgent is sent with every request.
	UserAgent string
	// Timeout bounds each request/response exchange and each write.
	Timeout time.Duration
	// User and Pass answer 401 challenges; empty User means no credentials.
	User, Pass string
	// Dialog, when set, receives every request and response as text (the -v output). Each
	// message is one Write call, prefixed per line with DialogPrefix.
	Dialog       io.Writer
	DialogPrefix string
	// OnFrame receives interleaved frames on the reader goroutine. payload is only valid
	// during the call.
	OnFrame func(channel byte, payload []byte)
	// OnFinding receives protocol slips that do not stop the dialog (CSeq not echoed, ...).
	OnFinding func(kind, detail string)
}

// Conn is one RTSP client connection. Requests are sent one at a time (Do is not meant to be
// called concurrently); a reader goroutine delivers responses to Do and frames to OnFrame.
type Conn struct {
	nc   net.Conn
	opts Options
	auth *Authenticator

	wmu  sync.Mutex // serializes writes: requests, RTCP frames, answers to server requests
	cseq int

	session string

	responses chan *Response
	done      chan struct{}
	readErr   error // set before done is closed
}

// Dial connects to the host of rawURL (default port 554) and starts the reader.
func Dial(ctx context.Context, host string, opts Options) (*Conn, error) {
	if opts.Timeout <= 0 {
		opts.Timeout = 10 * time.Second
	}
	if _, _, err := net.SplitHostPort(host); err != nil {
		host = net.JoinHostPort(host, "554")
	}
	d := net.Dialer{Timeout: opts.Timeout}
	nc, err := d.DialContext(ctx, "tcp", host)
	if err != nil {
		return nil, fmt.Errorf("connect %s: %w", host, err)
	}
	c := &Conn{
		nc:        nc,
		opts:      opts,
		responses: make(chan *Response, 1),
		done:      make(chan struct{}),
	}
	if opts.User != "" {
		c.auth = &Authenticator{User: opts.User, Pass: opts.Pass}
	}
	go c.readLoop()
	return c, nil
}

// LocalAddr is the client's end of the TCP connection; the server sends UDP media to its IP.
func (c *Conn) LocalAddr() net.Addr { return c.nc.LocalAddr() }

// RemoteAddr is the server's end.
func (c *Conn) RemoteAddr() net.Addr { return c.nc.RemoteAddr() }

// Session is the session id from the first SETUP answer.
func (c *Conn) Session() string { return c.session }

// Done is closed when the connection has ended (server closed it, or Close).
func (c *Conn) Done() <-chan struct{} { return c.done }

// Err is the reason the connection ended; valid after Done is closed.
func (c *Conn) Err() error {
	select {
	case <-c.done:
		return c.readErr
	default:
		return nil
	}
}

// Close closes the connection and waits for the reader to stop.
func (c *Conn) Close() error {
	err := c.nc.Close()
	<-c.done
	return err
}

func (c *Conn) readLoop() {
	defer close(c.done)
	r := NewReader(c.nc)
	for {
		it, err := r.Next()
		if err != nil {
			c.readErr = err
			return
		}
		switch it.Kind {
		case ItemFrame:
			if c.opts.OnFrame != nil {
				c.opts.OnFrame(it.Channel, it.Payload)
			}
		case ItemResponse:
			c.logDialog("S->C", it.Response.Raw)
			select {
			case c.responses <- it.Response:
			default:
				// Nobody is waiting: an answer to a request we gave up on, or one we never
				// sent.
				c.finding("unsolicited_response", fmt.Sprintf("response %d with CSeq %q while no request was pending",
					it.Response.StatusCode, it.Response.Header.Get("CSeq")))
			}
		case ItemRequest:
			c.logDialog("S->C", it.Raw)
			c.answerServerRequest(it.Request)
		}
	}
}

// answerServerRequest replies to a request the server sent us. Keep-alive probes are
// acknowledged; anything else (REDIRECT, ANNOUNCE) is beyond a load tool and refused.
func (c *Conn) answerServerRequest(req *Request) {
	status := "501 Not Implemented"
	switch req.Method {
	case "OPTIONS", "GET_PARAMETER":
		status = "200 OK"
	}
	msg := fmt.Sprintf("RTSP/1.0 %s\r\nCSeq: %s\r\n\r\n", status, req.Header.Get("CSeq"))
	c.wmu.Lock()
	_ = c.nc.SetWriteDeadline(time.Now().Add(c.opts.Timeout))
	_, _ = c.nc.Write([]byte(msg))
	c.wmu.Unlock()
	c.logDialog("C->S", []byte(msg))
}

func (c *Conn) finding(kind, detail string) {
	if c.opts.OnFinding != nil {
		c.opts.OnFinding(kind, detail)
	}
}

func (c *Conn) logDialog(dir string, raw []byte) {
	if c.opts.Dialog == nil {
		return
	}
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s%s %s  %s\n", c.opts.DialogPrefix, dir, c.nc.RemoteAddr(), time.Now().Format("15:04:05.000"))
	text := strings.ReplaceAll(string(raw), "\r\n", "\n")
	for line := range strings.SplitSeq(strings.TrimRight(text, "\n"), "\n") {
		b.WriteString(c.opts.DialogPrefix)
		b.WriteString("  ")
		b.WriteString(line)
		b.WriteByte('\n')
	}
	b.WriteString(c.opts.DialogPrefix)
	b.WriteByte('\n')
	_, _ = c.opts.Dialog.Write(b.Bytes())
}

// Do sends req and waits for its response. It adds CSeq, User-Agent, Session and
// Authorization, and answers one 401 challenge when the URL had credentials. A non-2xx
// answer is returned as a response, not an error.
func (c *Conn) Do(ctx context.Context, req *Request) (*Response, error) {
	for attempt := 0; ; attempt++ {
		resp, err := c.roundTrip(ctx, req)
		if err != nil {
			return nil, err
		}
		if resp.StatusCode == 401 && c.auth != nil && attempt == 0 {
			if err := c.auth.Challenge(resp.Header.Values("WWW-Authenticate")); err != nil {
				return resp, fmt.Errorf("%s: %w", req.Method, err)
			}
			continue
		}
		if id := resp.Header.Get("Session"); id != "" && c.session == "" {
			c.session, _ = SessionHeader(id)
		}
		return resp, nil
	}
}

func (c *Conn) roundTrip(ctx context.Context, req *Request) (*Response, error) {
	c.cseq++
	cseq := strconv.Itoa(c.cseq)
	hdr := Header{{"CSeq", cseq}}
	if c.opts.UserAgent != "" {
		hdr.Add("User-Agent", c.opts.UserAgent)
	}
	if c.session != "" && !req.Header.Has("Session") {
		hdr.Add("Session", c.session)
	}
	if c.auth != nil && c.auth.Ready() {
		hdr.Add("Authorization", c.auth.Authorization(req.Method, req.URL))
	}
	for _, f := range req.Header {
		if !strings.EqualFold(f.Name, "CSeq") && !strings.EqualFold(f.Name, "Authorization") {
			hdr = append(hdr, f)
		}
	}
	wire := (&Request{Method: req.Method, URL: req.URL, Header: hdr, Body: req.Body}).Marshal()

	// Drop a stale answer left from an exchange we abandoned, so it is not taken for ours.
	select {
	case <-c.responses:
	default:
	}
	c.wmu.Lock()
	_ = c.nc.SetWriteDeadline(time.Now().Add(c.opts.Timeout))
	_, err := c.nc.Write(wire)
	c.wmu.Unlock()
	if err != nil {
		return nil, fmt.Errorf("%s: write: %w", req.Method, err)
	}
	c.logDialog("C->S", wire)

	timer := time.NewTimer(c.opts.Timeout)
	defer timer.Stop()
	select {
	case resp := <-c.responses:
		c.checkCSeq(req.Method, cseq, resp)
		return resp, nil
	case <-c.done:
		// A server may answer and close at once (gortsplib after a wrong password): the
		// reader then queues the answer and closes done, and select picks either.
		select {
		case resp := <-c.responses:
			c.checkCSeq(req.Method, cseq, resp)
			return resp, nil
		default:
		}
		return nil, fmt.Errorf("%s: connection closed: %w", req.Method, c.readErr)
	case <-ctx.Done():
		return nil, fmt.Errorf("%s: %w", req.Method, ctx.Err())
	case <-timer.C:
		return nil, fmt.Errorf("%s: no response within %v", req.Method, c.opts.Timeout)
	}
}

// checkCSeq reports a response whose CSeq does not echo the request's.
func (c *Conn) checkCSeq(method, sent string, resp *Response) {
	switch got := resp.Header.Get("CSeq"); {
	case !resp.Header.Has("CSeq"):
		c.finding("cseq", fmt.Sprintf("%s: response has no CSeq (sent %s)", method, sent))
	case strings.TrimSpace(got) != sent:
		c.finding("cseq", fmt.Sprintf("%s: response CSeq %q, sent %s", method, got, sent))
	}
}

// WriteFrame sends an interleaved frame (RTCP receiver reports in TCP mode).
func (c *Conn) WriteFrame(channel byte, payload []byte) error {
	if len(payload) > 65535 {
		return errors.New("interleaved frame larger than 65535 bytes")
	}
	var hdr [interleavedHeaderLen]byte
	hdr[0], hdr[1] = '$', channel
	binary.BigEndian.PutUint16(hdr[2:], uint16(len(payload)))
	bufs := net.Buffers{hdr[:], payload}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.nc.SetWriteDeadline(time.Now().Add(c.opts.Timeout))
	if _, err := bufs.WriteTo(c.nc); err != nil {
		return fmt.Errorf("write interleaved frame: %w", err)
	}
	return nil
}
