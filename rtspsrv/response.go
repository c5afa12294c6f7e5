package rtspsrv

import (
	"bytes"
	"strconv"
	"time"
)

// Status codes the server answers with (RFC 2326 §7.1.1).
const (
	StatusOK                      = 200
	StatusBadRequest              = 400
	StatusUnauthorized            = 401
	StatusNotFound                = 404
	StatusMethodNotAllowed        = 405
	StatusRequestEntityTooLarge   = 413
	StatusRequestURITooLarge      = 414
	StatusParameterNotUnderstood  = 451
	StatusSessionNotFound         = 454
	StatusMethodNotValidInState   = 455
	StatusAggregateNotAllowed     = 459
	StatusUnsupportedTransport    = 461
	StatusInternalServerError     = 500
	StatusNotImplemented          = 501
	StatusServiceUnavailable      = 503
	StatusRTSPVersionNotSupported = 505
	StatusOptionNotSupported      = 551
)

var statusText = map[int]string{
	StatusOK:                      "OK",
	StatusBadRequest:              "Bad Request",
	StatusUnauthorized:            "Unauthorized",
	StatusNotFound:                "Not Found",
	StatusMethodNotAllowed:        "Method Not Allowed",
	StatusRequestEntityTooLarge:   "Request Entity Too Large",
	StatusRequestURITooLarge:      "Request-URI Too Large",
	StatusParameterNotUnderstood:  "Parameter Not Understood",
	StatusSessionNotFound:         "Session Not Found",
	StatusMethodNotValidInState:   "Method Not Valid in This State",
	StatusAggregateNotAllowed:     "Aggregate Operation Not Allowed",
	StatusUnsupportedTransport:    "Unsupported Transport",
	StatusInternalServerError:     "Internal Server Error",
	StatusNotImplemented:          "Not Implemented",
	StatusServiceUnavailable:      "Service Unavailable",
	StatusRTSPVersionNotSupported: "RTSP Version Not Supported",
	StatusOptionNotSupported:      "Option not supported",
}

// StatusText returns the reason phrase for code.
func StatusText(code int) string {
	if t, ok := statusText[code]; ok {
		return t
	}
	return "Status " + strconv.Itoa(code)
}

// Response is what a handler answers. CSeq, Server and Content-Length are added on write.
type Response struct {
	Status int
	Header Header
	Body   []byte
	// Close asks the connection to close after this response (malformed input).
	Close bool
	// afterWrite runs once the response is written (PLAY: let media follow it).
	afterWrite func()
}

func respond(status int) *Response { return &Response{Status: status} }

func (r *Response) with(name, value string) *Response {
	r.Header = append(r.Header, HeaderField{name, value})
	return r
}

// dateFormat is HTTP's date (RFC 2326 §12.18 defers to HTTP/1.1 §14.18, which has origin
// servers send one); players and capture tools show it, and it dates a capture.
const dateFormat = "Mon, 02 Jan 2006 15:04:05 GMT"

// marshal writes the response with cseq ("" when the request had none), dated now, into a
// buffer.
func (r *Response) marshal(cseq, server string, now time.Time) []byte {
	var b bytes.Buffer
	b.WriteString("RTSP/1.0 ")
	b.WriteString(strconv.Itoa(r.Status))
	b.WriteByte(' ')
	b.WriteString(StatusText(r.Status))
	b.WriteString("\r\n")
	if cseq != "" {
		b.WriteString("CSeq: " + cseq + "\r\n")
	}
	b.WriteString("Date: " + now.UTC().Format(dateFormat) + "\r\n")
	b.WriteString("Server: " + server + "\r\n")
	for _, f := range r.Header {
		b.WriteString(f.Name + ": " + f.Value + "\r\n")
	}
	if len(r.Body) > 0 || r.Header.Has("Content-Type") {
		b.WriteString("Content-Length: " + strconv.Itoa(len(r.Body)) + "\r\n")
	}
	b.WriteString("\r\n")
	b.Write(r.Body)
	return b.Bytes()
}
