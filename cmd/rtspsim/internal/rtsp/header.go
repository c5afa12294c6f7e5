// Package rtsp is the client side of RTSP 1.0 (RFC 2326) as rtspsim needs it: requests and
// responses on one TCP connection, `$`-interleaved RTP/RTCP on the same connection, Basic and
// Digest authentication, and the Transport, RTP-Info, Session and SDP values a player reads.
//
// It is deliberately tolerant in what it accepts (cameras in the field send odd but playable
// answers) and records protocol slips as findings instead of failing on them, because finding
// those slips is the point of the tool.
package rtsp

import "strings"

// HeaderField is one header line as sent or received.
type HeaderField struct {
	Name, Value string
}

// Header keeps header lines in order, so a dialog printed with -v reads like the wire.
// Lookups are case-insensitive, as RTSP (like HTTP) requires.
type Header []HeaderField

// Get returns the first value of name, or "".
func (h Header) Get(name string) string {
	for _, f := range h {
		if strings.EqualFold(f.Name, name) {
			return f.Value
		}
	}
	return ""
}

// Has reports whether a header called name is present (even with an empty value).
func (h Header) Has(name string) bool {
	for _, f := range h {
		if strings.EqualFold(f.Name, name) {
			return true
		}
	}
	return false
}

// Values returns every value of name, in order.
func (h Header) Values(name string) []string {
	var out []string
	for _, f := range h {
		if strings.EqualFold(f.Name, name) {
			out = append(out, f.Value)
		}
	}
	return out
}

// Set replaces all fields called name with one field.
func (h *Header) Set(name, value string) {
	out := (*h)[:0]
	for _, f := range *h {
		if !strings.EqualFold(f.Name, name) {
			out = append(out, f)
		}
	}
	*h = append(out, HeaderField{name, value})
}

// Add appends a field.
func (h *Header) Add(name, value string) { *h = append(*h, HeaderField{name, value}) }
