// Package rtspsrv is camerad's RTSP 1.0 server: it parses requests with limits, keeps
// sessions and their state, describes the stream in SDP, packetizes H.264 per RFC 6184 and
// fans frames out to viewers over UDP (sendmmsg) and TCP-interleaved (writev) without copying
// the payload.
package rtspsrv

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// Limits bound what one request may make the server hold. Zero fields take the defaults.
type Limits struct {
	MaxLineBytes   int // request line and each header line
	MaxHeaders     int
	MaxHeaderBytes int // all header lines together
	MaxBodyBytes   int
}

func (l Limits) withDefaults() Limits {
	if l.MaxLineBytes <= 0 {
		l.MaxLineBytes = 4096
	}
	if l.MaxHeaders <= 0 {
		l.MaxHeaders = 64
	}
	if l.MaxHeaderBytes <= 0 {
		l.MaxHeaderBytes = 16 << 10
	}
	if l.MaxBodyBytes <= 0 {
		l.MaxBodyBytes = 64 << 10
	}
	return l
}

// Request is one parsed RTSP request.
type Request struct {
	Method string
	URI    string // as sent: "*", an absolute rtsp:// URL, or (tolerated) a path
	Proto  string // "RTSP/1.0"
	Header Header
	Body   []byte
}

// errMalformed marks requests that get 400 Bad Request (and a closed connection).
var errMalformed = errors.New("malformed request")

// errTooLarge marks requests over a limit: also an error status and a close, but logged
// differently. errLineTooLong and errBodyTooLarge say which limit, for 414 and 413.
var (
	errTooLarge     = errors.New("request over limit")
	errLineTooLong  = errors.New("request line too long")
	errBodyTooLarge = errors.New("body too large")
)

// malformedStatus is the answer to a request that readRequest refused.
func malformedStatus(err error) int {
	switch {
	case errors.Is(err, errLineTooLong):
		return StatusRequestURITooLarge
	case errors.Is(err, errBodyTooLarge):
		return StatusRequestEntityTooLarge
	}
	return StatusBadRequest
}

// readRequest reads one request. Errors wrapping errMalformed or errTooLarge mean the bytes
// on the connection can no longer be trusted; io errors mean the peer went away. With such an
// error it returns what it could read of the request, if anything (its CSeq goes back with
// the error status). An HTTP request (RTSP over HTTP, see tunnel.go) is read too, without its
// body; errors in its header also wrap errHTTPRequest, so that the answer is in HTTP.
func readRequest(r *bufio.Reader, lim Limits) (*Request, error) {
	line, err := readLine(r, lim.MaxLineBytes)
	if errors.Is(err, errTooLarge) {
		return nil, fmt.Errorf("%w: %w", errLineTooLong, err)
	}
	if err != nil {
		return nil, err
	}
	// Tolerate stray empty lines between pipelined requests (some clients send an extra CRLF).
	for skipped := 0; len(line) == 0; skipped++ {
		if skipped > 4 {
			return nil, fmt.Errorf("%w: empty request line", errMalformed)
		}
		if line, err = readLine(r, lim.MaxLineBytes); err != nil {
			return nil, err
		}
	}
	req := &Request{}
	parts := strings.Fields(line)
	if len(parts) != 3 {
		return nil, fmt.Errorf("%w: request line %q", errMalformed, truncate(line))
	}
	req.Method, req.URI, req.Proto = parts[0], parts[1], parts[2]
	if !isToken(req.Method) {
		return nil, fmt.Errorf("%w: method %q", errMalformed, truncate(req.Method))
	}
	isHTTP := isHTTPProto(req.Proto)
	if !strings.HasPrefix(req.Proto, "RTSP/") && !isHTTP {
		return nil, fmt.Errorf("%w: protocol %q", errMalformed, truncate(req.Proto))
	}
	if err := readHeader(r, lim, req); err != nil {
		if isHTTP {
			// Its error must be answered in HTTP (see tunnel.go).
			err = fmt.Errorf("%w: %w", errHTTPRequest, err)
		}
		if errors.Is(err, errMalformed) || errors.Is(err, errTooLarge) {
			return req, err
		}
		return nil, err
	}
	if isHTTP {
		// An HTTP request (a tunnel's GET or POST) has no body for the parser: the POST's is
		// the tunnel itself, of a Content-Length that is never honoured.
		return req, nil
	}
	if cl := req.Header.Get("Content-Length"); cl != "" {
		n, err := strconv.Atoi(cl)
		if err != nil || n < 0 || cl[0] < '0' || cl[0] > '9' { // 1*DIGIT: not "+3"
			return req, fmt.Errorf("%w: Content-Length %q", errMalformed, truncate(cl))
		}
		for _, f := range req.Header {
			// Two lengths that disagree leave the end of the body, and with it where the next
			// request starts, to guesswork (RFC 7230 §3.3.3, which RTSP's framing follows).
			if strings.EqualFold(f.Name, "Content-Length") && f.Value != cl {
				return req, fmt.Errorf("%w: Content-Length %q and %q", errMalformed, truncate(cl), truncate(f.Value))
			}
		}
		if n > lim.MaxBodyBytes {
			return req, fmt.Errorf("%w: %w: body of %d bytes exceeds %d", errTooLarge, errBodyTooLarge, n, lim.MaxBodyBytes)
		}
		req.Body = make([]byte, n)
		if _, err := io.ReadFull(r, req.Body); err != nil {
			return nil, fmt.Errorf("read body: %w", err)
		}
	}
	return req, nil
}

// readHeader reads req's header lines up to the empty line, within lim.
func readHeader(r *bufio.Reader, lim Limits, req *Request) error {
	total := 0
	for {
		line, err := readLine(r, lim.MaxLineBytes)
		if err != nil {
			return err
		}
		if line == "" {
			break
		}
		total += len(line)
		if total > lim.MaxHeaderBytes || len(req.Header) >= lim.MaxHeaders {
			return fmt.Errorf("%w: headers exceed %d lines or %d bytes", errTooLarge, lim.MaxHeaders, lim.MaxHeaderBytes)
		}
		if line[0] == ' ' || line[0] == '\t' {
			// Obsolete line folding: continue the previous header's value.
			if len(req.Header) == 0 {
				return fmt.Errorf("%w: continuation line before any header", errMalformed)
			}
			last := &req.Header[len(req.Header)-1]
			last.Value += " " + strings.TrimSpace(line)
			continue
		}
		name, value, ok := strings.Cut(line, ":")
		name = strings.TrimSpace(name)
		if !ok || !isToken(name) {
			return fmt.Errorf("%w: header line %q", errMalformed, truncate(line))
		}
		req.Header = append(req.Header, HeaderField{Name: name, Value: strings.TrimSpace(value)})
	}
	return nil
}

// readLine reads a CRLF- or LF-terminated line of at most max bytes, without the terminator.
func readLine(r *bufio.Reader, max int) (string, error) {
	var buf []byte
	for {
		chunk, err := r.ReadSlice('\n')
		if len(buf)+len(chunk) > max+2 {
			return "", fmt.Errorf("%w: line longer than %d bytes", errTooLarge, max)
		}
		buf = append(buf, chunk...)
		if err == nil {
			break
		}
		if errors.Is(err, bufio.ErrBufferFull) {
			continue
		}
		return "", err
	}
	buf = bytes.TrimRight(buf, "\r\n")
	// A CR inside a line would be a line end to some peers: echoed in a response header
	// (Require comes back as Unsupported) it could forge headers. NUL has no place either.
	if i := bytes.IndexAny(buf, "\x00\r"); i >= 0 {
		return "", fmt.Errorf("%w: control byte %#x in line", errMalformed, buf[i])
	}
	return string(buf), nil
}

// isToken reports whether s is a non-empty RFC 2616 token (method and header names).
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte("()<>@,;:\\\"/[]?={}", c) >= 0 {
			return false
		}
	}
	return true
}

func truncate(s string) string {
	if len(s) > 64 {
		return s[:64] + "…"
	}
	return s
}
