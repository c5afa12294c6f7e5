package rtsp

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
)

// Request is an RTSP request from the client.
type Request struct {
	Method string
	URL    string // absolute rtsp:// URL without user info, or "*"
	Header Header
	Body   []byte
}

// Marshal renders the request as it goes on the wire.
func (r *Request) Marshal() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s RTSP/1.0\r\n", r.Method, r.URL)
	for _, f := range r.Header {
		fmt.Fprintf(&b, "%s: %s\r\n", f.Name, f.Value)
	}
	if len(r.Body) > 0 && !r.Header.Has("Content-Length") {
		fmt.Fprintf(&b, "Content-Length: %d\r\n", len(r.Body))
	}
	b.WriteString("\r\n")
	b.Write(r.Body)
	return b.Bytes()
}

// Response is an RTSP response from the server.
type Response struct {
	Proto      string // "RTSP/1.0"
	StatusCode int
	Reason     string
	Header     Header
	Body       []byte
	// Raw is the response exactly as received (head and body), for the -v dialog.
	Raw []byte
}

// OK reports a 2xx status.
func (r *Response) OK() bool { return r.StatusCode >= 200 && r.StatusCode < 300 }

// StatusError is returned for a non-2xx answer to a request that had to succeed.
type StatusError struct {
	Method string
	Code   int
	Reason string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("%s: server answered %d %s", e.Method, e.Code, e.Reason)
}

// parseStatusLine parses "RTSP/1.0 200 OK".
func parseStatusLine(line string, r *Response) error {
	proto, rest, ok := strings.Cut(line, " ")
	if !ok || !strings.HasPrefix(proto, "RTSP/") {
		return fmt.Errorf("malformed status line %q", line)
	}
	code, reason, _ := strings.Cut(rest, " ")
	n, err := strconv.Atoi(code)
	if err != nil || n < 100 || n > 999 {
		return fmt.Errorf("malformed status code in %q", line)
	}
	r.Proto, r.StatusCode, r.Reason = proto, n, reason
	return nil
}

// parseHeaderLine splits "Name: value"; continuation lines are not used by RTSP servers in
// practice and are rejected as malformed.
func parseHeaderLine(line string) (HeaderField, error) {
	name, value, ok := strings.Cut(line, ":")
	if !ok || name == "" || strings.ContainsAny(name, " \t") {
		return HeaderField{}, fmt.Errorf("malformed header line %q", line)
	}
	return HeaderField{Name: name, Value: strings.TrimSpace(value)}, nil
}
