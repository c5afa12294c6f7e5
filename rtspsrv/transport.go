package rtspsrv

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
)

// Lower transports a viewer can use.
type Lower int

// The lower transports.
const (
	LowerUDP Lower = iota + 1
	LowerTCP
	LowerMulticast
)

func (l Lower) String() string {
	switch l {
	case LowerUDP:
		return "udp"
	case LowerTCP:
		return "tcp"
	case LowerMulticast:
		return "multicast"
	}
	return "unknown"
}

// TransportSpec is one alternative of a Transport header (RFC 2326 §12.39).
type TransportSpec struct {
	Profile     string // "RTP/AVP", "RTP/AVPF", "RTP/SAVP", ...
	Lower       Lower
	ClientPorts [2]int // UDP: client_port=a-b
	Interleaved [2]int // TCP: interleaved=a-b; -1 when absent
	Destination string
	Port        [2]int
	TTL         int
	Mode        string // "play" (default) or "record"
	SSRC        string
	Append      bool
}

var errUnsupportedTransport = errors.New("unsupported transport")

// parseTransports parses a Transport header into its comma-separated alternatives, in the
// client's order of preference. A spec the server cannot serve is returned too, with the
// error that rules it out, so that SETUP can pick the first usable one and explain if none is.
func parseTransports(h string) ([]TransportSpec, []error) {
	var specs []TransportSpec
	var errs []error
	for _, alt := range splitOutsideQuotes(h, ',') {
		alt = strings.TrimSpace(alt)
		if alt == "" {
			continue
		}
		spec, err := parseTransportSpec(alt)
		specs = append(specs, spec)
		errs = append(errs, err)
	}
	return specs, errs
}

func parseTransportSpec(s string) (TransportSpec, error) {
	t := TransportSpec{Interleaved: [2]int{-1, -1}, Mode: "play"}
	params := strings.Split(s, ";")
	proto := strings.ToUpper(strings.TrimSpace(params[0]))
	// transport-protocol/profile[/lower-transport]
	parts := strings.Split(proto, "/")
	if len(parts) < 2 || parts[0] != "RTP" {
		return t, fmt.Errorf("%w: %q is not RTP", errUnsupportedTransport, params[0])
	}
	t.Profile = parts[0] + "/" + parts[1]
	if t.Profile != "RTP/AVP" {
		return t, fmt.Errorf("%w: profile %s (only RTP/AVP)", errUnsupportedTransport, t.Profile)
	}
	t.Lower = LowerUDP
	if len(parts) == 3 {
		switch parts[2] {
		case "UDP":
		case "TCP":
			t.Lower = LowerTCP
		default:
			return t, fmt.Errorf("%w: lower transport %s", errUnsupportedTransport, parts[2])
		}
	}
	multicast := false
	for _, p := range params[1:] {
		k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
		var err error
		switch strings.ToLower(k) {
		case "unicast":
		case "multicast":
			multicast = true
		case "client_port":
			t.ClientPorts, err = parsePortRange(v)
		case "interleaved":
			t.Interleaved, err = parseChannelRange(v)
		case "destination":
			t.Destination = strings.Trim(v, `"`)
		case "port":
			t.Port, err = parsePortRange(v)
		case "ttl":
			t.TTL, err = strconv.Atoi(v)
		case "mode":
			t.Mode = strings.ToLower(strings.Trim(v, `"`))
		case "ssrc":
			t.SSRC = v
		case "append":
			t.Append = true
		}
		if err != nil {
			return t, fmt.Errorf("transport parameter %s: %w", k, err)
		}
	}
	if multicast {
		if t.Lower == LowerTCP {
			return t, fmt.Errorf("%w: multicast over TCP", errUnsupportedTransport)
		}
		// The client's destination, port and ttl are only wishes: the group is the camera's
		// (RFC 2326 §12.39 lets the server choose), so that one client cannot point the stream
		// at an address of its choosing.
		t.Lower = LowerMulticast
	}
	if t.Mode != "play" {
		return t, fmt.Errorf("%w: mode=%s (a camera only plays)", errUnsupportedTransport, t.Mode)
	}
	if t.Lower == LowerUDP && t.ClientPorts[0] == 0 {
		return t, fmt.Errorf("%w: UDP without client_port", errUnsupportedTransport)
	}
	return t, nil
}

// parsePortRange parses "a-b" or "a" (b = a+1) UDP ports.
func parsePortRange(v string) ([2]int, error) {
	lo, hi, hasHi := strings.Cut(v, "-")
	a, err := strconv.Atoi(lo)
	if err != nil || a <= 0 || a > 65535 {
		return [2]int{}, fmt.Errorf("bad port %q", v)
	}
	b := a + 1
	if hasHi {
		if b, err = strconv.Atoi(hi); err != nil || b <= 0 || b > 65535 {
			return [2]int{}, fmt.Errorf("bad port %q", v)
		}
	} else if b > 65535 {
		return [2]int{}, fmt.Errorf("port %q leaves no port for RTCP", v)
	}
	return [2]int{a, b}, nil
}

// parseChannelRange parses "a-b" or "a" interleaved channels (0..255).
func parseChannelRange(v string) ([2]int, error) {
	lo, hi, hasHi := strings.Cut(v, "-")
	a, err := strconv.Atoi(lo)
	if err != nil || a < 0 || a > 255 {
		return [2]int{}, fmt.Errorf("bad channel %q", v)
	}
	b := a + 1
	if hasHi {
		if b, err = strconv.Atoi(hi); err != nil || b < 0 || b > 255 {
			return [2]int{}, fmt.Errorf("bad channel %q", v)
		}
	}
	if b > 255 {
		return [2]int{}, fmt.Errorf("bad channel %q", v)
	}
	return [2]int{a, b}, nil
}

// splitOutsideQuotes splits s at sep, except inside double quotes.
func splitOutsideQuotes(s string, sep byte) []string {
	var out []string
	quoted, start := false, 0
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case '"':
			quoted = !quoted
		case sep:
			if !quoted {
				out = append(out, s[start:i])
				start = i + 1
			}
		}
	}
	return append(out, s[start:])
}

// formatUDPTransport is the reply to a UDP SETUP.
func formatUDPTransport(clientIP string, client, server [2]int, ssrc uint32) string {
	return fmt.Sprintf("RTP/AVP;unicast;destination=%s;client_port=%d-%d;server_port=%d-%d;ssrc=%08X;mode=play",
		clientIP, client[0], client[1], server[0], server[1], ssrc)
}

// formatMulticastTransport is the reply to a multicast SETUP: the group every multicast
// viewer receives, its port pair and TTL.
func formatMulticastTransport(group netip.AddrPort, ttl int, ssrc uint32) string {
	return fmt.Sprintf("RTP/AVP;multicast;destination=%s;port=%d-%d;ttl=%d;ssrc=%08X;mode=play",
		group.Addr(), group.Port(), group.Port()+1, ttl, ssrc)
}

// formatTCPTransport is the reply to a TCP SETUP.
func formatTCPTransport(ch [2]int, ssrc uint32) string {
	return fmt.Sprintf("RTP/AVP/TCP;unicast;interleaved=%d-%d;ssrc=%08X;mode=play", ch[0], ch[1], ssrc)
}
