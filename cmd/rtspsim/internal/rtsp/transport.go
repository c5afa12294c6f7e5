package rtsp

import (
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Transport is the part of a Transport header (RFC 2326 12.39) a client acts on.
type Transport struct {
	Protocol    string // "RTP/AVP", "RTP/AVP/UDP" or "RTP/AVP/TCP"
	Multicast   bool
	ClientPorts [2]int
	ServerPorts [2]int
	Interleaved [2]int
	HasInter    bool
	Destination netip.Addr // multicast group (or unicast destination)
	Ports       [2]int     // multicast port pair
	TTL         int
	SSRC        uint32
	HasSSRC     bool
}

// TCP reports whether media comes interleaved on the RTSP connection.
func (t Transport) TCP() bool { return strings.HasSuffix(strings.ToUpper(t.Protocol), "/TCP") }

// ParseTransport parses the first transport of a Transport header value; servers must answer
// with exactly one, and a second one is reported by the caller, not here.
func ParseTransport(v string) (Transport, error) {
	first, _, _ := strings.Cut(v, ",")
	parts := strings.Split(first, ";")
	t := Transport{Protocol: strings.TrimSpace(parts[0])}
	if !strings.HasPrefix(strings.ToUpper(t.Protocol), "RTP/AVP") {
		return t, fmt.Errorf("transport %q is not RTP/AVP", t.Protocol)
	}
	for _, p := range parts[1:] {
		k, val, _ := strings.Cut(strings.TrimSpace(p), "=")
		var err error
		switch strings.ToLower(k) {
		case "multicast":
			t.Multicast = true
		case "client_port":
			t.ClientPorts, err = parsePortRange(val)
		case "server_port":
			t.ServerPorts, err = parsePortRange(val)
		case "port":
			t.Ports, err = parsePortRange(val)
		case "interleaved":
			t.Interleaved, err = parsePortRange(val)
			t.HasInter = err == nil
		case "destination":
			if val != "" {
				t.Destination, err = netip.ParseAddr(val)
			}
		case "ttl":
			t.TTL, err = strconv.Atoi(val)
		case "ssrc":
			var n uint64
			n, err = strconv.ParseUint(val, 16, 32)
			t.SSRC, t.HasSSRC = uint32(n), err == nil
		}
		if err != nil {
			return t, fmt.Errorf("transport parameter %q: %w", p, err)
		}
	}
	return t, nil
}

// parsePortRange parses "a-b" or "a" (b is then a+1, the RTCP port by convention).
func parsePortRange(v string) ([2]int, error) {
	a, b, found := strings.Cut(v, "-")
	lo, err := strconv.Atoi(a)
	if err != nil || lo < 0 || lo > 65535 {
		return [2]int{}, fmt.Errorf("bad port %q", v)
	}
	hi := lo + 1
	if found {
		if hi, err = strconv.Atoi(b); err != nil || hi < 0 || hi > 65535 {
			return [2]int{}, fmt.Errorf("bad port %q", v)
		}
	}
	return [2]int{lo, hi}, nil
}

// SessionHeader parses "id;timeout=60"; timeout is 0 when absent.
func SessionHeader(v string) (id string, timeoutSec int) {
	id, params, _ := strings.Cut(v, ";")
	for p := range strings.SplitSeq(params, ";") {
		k, val, _ := strings.Cut(strings.TrimSpace(p), "=")
		if strings.EqualFold(k, "timeout") {
			timeoutSec, _ = strconv.Atoi(val)
		}
	}
	return strings.TrimSpace(id), timeoutSec
}

// RTPInfo is one entry of an RTP-Info header (RFC 2326 12.33).
type RTPInfo struct {
	URL        string
	Seq        uint16
	HasSeq     bool
	RTPTime    uint32
	HasRTPTime bool
}

// ParseRTPInfo parses an RTP-Info value. Entries are separated by commas, but URLs may hold
// commas too, so an entry starts only where "url=" follows a comma.
func ParseRTPInfo(v string) ([]RTPInfo, error) {
	var entries []string
	for _, piece := range strings.Split(v, ",") {
		if strings.HasPrefix(strings.TrimSpace(piece), "url=") || len(entries) == 0 {
			entries = append(entries, piece)
		} else {
			entries[len(entries)-1] += "," + piece
		}
	}
	var out []RTPInfo
	for _, e := range entries {
		var info RTPInfo
		for p := range strings.SplitSeq(strings.TrimSpace(e), ";") {
			k, val, _ := strings.Cut(strings.TrimSpace(p), "=")
			switch strings.ToLower(k) {
			case "url":
				info.URL = val
			case "seq":
				n, err := strconv.ParseUint(val, 10, 16)
				if err != nil {
					return nil, fmt.Errorf("RTP-Info seq %q: %w", val, err)
				}
				info.Seq, info.HasSeq = uint16(n), true
			case "rtptime":
				n, err := strconv.ParseUint(val, 10, 32)
				if err != nil {
					return nil, fmt.Errorf("RTP-Info rtptime %q: %w", val, err)
				}
				info.RTPTime, info.HasRTPTime = uint32(n), true
			}
		}
		out = append(out, info)
	}
	return out, nil
}

// ParsePublic returns the method names listed in a Public header.
func ParsePublic(v string) map[string]bool {
	out := map[string]bool{}
	for m := range strings.SplitSeq(v, ",") {
		if m = strings.ToUpper(strings.TrimSpace(m)); m != "" {
			out[m] = true
		}
	}
	return out
}
