package rtspsrv

import "strings"

// HeaderField is one header line.
type HeaderField struct{ Name, Value string }

// Header keeps header lines in the order received; names compare case-insensitively, as
// RTSP (like HTTP) requires and as real clients exercise ("Cseq", "CSEQ").
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

// Has reports whether name is present (even with an empty value).
func (h Header) Has(name string) bool {
	for _, f := range h {
		if strings.EqualFold(f.Name, name) {
			return true
		}
	}
	return false
}

// Set replaces name's value or appends it.
func (h *Header) Set(name, value string) {
	for i, f := range *h {
		if strings.EqualFold(f.Name, name) {
			(*h)[i].Value = value
			return
		}
	}
	*h = append(*h, HeaderField{name, value})
}
