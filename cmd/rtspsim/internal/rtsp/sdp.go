package rtsp

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// Track is one m= section of a DESCRIBE answer.
type Track struct {
	Media        string // "video", "audio", ...
	Control      string // a=control value as written
	URL          string // control resolved against the base URL
	PayloadTypes []uint8
	Encoding     string // from a=rtpmap of the first payload type, e.g. "H264"
	ClockRate    int
	Fmtp         string
}

// IsH264 reports whether the track carries H.264 (RFC 6184).
func (t Track) IsH264() bool { return strings.EqualFold(t.Encoding, "H264") }

// HasPayloadType reports whether pt is one the SDP announced for the track.
func (t Track) HasPayloadType(pt uint8) bool {
	for _, p := range t.PayloadTypes {
		if p == pt {
			return true
		}
	}
	return false
}

// ParseSDP reads the tracks of a session description. It reads line by line and skips what
// it does not understand: cameras send SDP with fields out of order or missing, and a player
// only needs m=, a=control, a=rtpmap and a=fmtp.
func ParseSDP(body []byte, base string) ([]Track, error) {
	var tracks []Track
	sessionControl := ""
	rtpmaps := map[int]map[uint8][2]string{} // track index -> pt -> {encoding, clock}
	for line := range strings.SplitSeq(string(body), "\n") {
		line = strings.TrimRight(line, "\r")
		if len(line) < 2 || line[1] != '=' {
			continue
		}
		key, val := line[0], line[2:]
		switch key {
		case 'm':
			f := strings.Fields(val)
			if len(f) < 4 {
				return nil, fmt.Errorf("malformed m= line %q", line)
			}
			t := Track{Media: f[0]}
			for _, p := range f[3:] {
				if n, err := strconv.ParseUint(p, 10, 7); err == nil {
					t.PayloadTypes = append(t.PayloadTypes, uint8(n))
				}
			}
			tracks = append(tracks, t)
		case 'a':
			name, v, _ := strings.Cut(val, ":")
			if len(tracks) == 0 {
				if name == "control" {
					sessionControl = v
				}
				continue
			}
			t := &tracks[len(tracks)-1]
			switch name {
			case "control":
				t.Control = v
			case "rtpmap":
				pt, rest, _ := strings.Cut(v, " ")
				n, err := strconv.ParseUint(pt, 10, 7)
				if err != nil {
					continue
				}
				enc, clock, _ := strings.Cut(strings.TrimSpace(rest), "/")
				clock, _, _ = strings.Cut(clock, "/")
				idx := len(tracks) - 1
				if rtpmaps[idx] == nil {
					rtpmaps[idx] = map[uint8][2]string{}
				}
				rtpmaps[idx][uint8(n)] = [2]string{enc, clock}
			case "fmtp":
				t.Fmtp = v
			}
		}
	}
	if len(tracks) == 0 {
		return nil, fmt.Errorf("SDP has no m= section")
	}
	if sessionControl != "" && sessionControl != "*" {
		base = ResolveControl(base, sessionControl)
	}
	for i := range tracks {
		t := &tracks[i]
		if len(t.PayloadTypes) > 0 {
			if m, ok := rtpmaps[i][t.PayloadTypes[0]]; ok {
				t.Encoding = m[0]
				t.ClockRate, _ = strconv.Atoi(m[1])
			} else if t.PayloadTypes[0] < 96 {
				t.Encoding, t.ClockRate = staticPayload(t.PayloadTypes[0])
			}
		}
		if t.ClockRate == 0 {
			t.ClockRate = 90000
		}
		t.URL = ResolveControl(base, t.Control)
	}
	return tracks, nil
}

// staticPayload names the few static payload types (RFC 3551) a camera may announce without
// a=rtpmap.
func staticPayload(pt uint8) (string, int) {
	switch pt {
	case 0:
		return "PCMU", 8000
	case 8:
		return "PCMA", 8000
	case 26:
		return "JPEG", 90000
	case 33:
		return "MP2T", 90000
	}
	return "", 0
}

// ResolveControl turns an a=control value into a URL the way common players do: "*" or empty
// means the base itself, an absolute URL stands as is, anything else is appended to the base
// with exactly one "/" between (RFC 3986 resolution would drop the last path segment of a
// base without trailing slash, which is not what servers expect).
func ResolveControl(base, control string) string {
	switch {
	case control == "" || control == "*":
		return base
	case strings.Contains(control, "://"):
		return control
	case strings.HasSuffix(base, "/"):
		return base + strings.TrimPrefix(control, "/")
	default:
		return base + "/" + strings.TrimPrefix(control, "/")
	}
}

// SplitUserInfo returns the URL without credentials, and the credentials.
func SplitUserInfo(raw string) (clean, user, pass string, err error) {
	u, err := url.Parse(raw)
	if err != nil {
		return "", "", "", fmt.Errorf("parse URL %q: %w", raw, err)
	}
	if u.Scheme != "rtsp" {
		return "", "", "", fmt.Errorf("URL %q: scheme must be rtsp", raw)
	}
	if u.User != nil {
		user = u.User.Username()
		pass, _ = u.User.Password()
		u.User = nil
	}
	return u.String(), user, pass, nil
}
