package rtspsrv

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// publicMethods is what OPTIONS advertises and 405/455 answers list in Allow.
const publicMethods = "OPTIONS, DESCRIBE, SETUP, PLAY, PAUSE, TEARDOWN, GET_PARAMETER, SET_PARAMETER"

// describeWait bounds how long DESCRIBE waits for a source that has not yet produced SPS/PPS
// (a camera still starting).
const describeWait = 5 * time.Second

// retryAfterFull is the Retry-After, in seconds, of a SETUP refused for lack of a viewer
// slot: a slot frees when a viewer leaves, or at the latest when a vanished one times out.
const retryAfterFull = "10"

// target is what a request URI names.
type target int

const (
	targetNone      target = iota // not ours
	targetAggregate               // the stream: rtsp://host/stream
	targetTrack                   // its video track: rtsp://host/stream/trackID=0
	targetAny                     // "*"
)

// handle answers one request. Every path out carries a status; CSeq is added by the caller.
func (s *Server) handle(c *conn, req *Request) *Response {
	// CSeq first: a request without a usable one is malformed whatever its version, and only
	// the 400 that closes the connection goes out without a CSeq.
	if !validCSeq(req.Header.Get("CSeq")) {
		r := respond(StatusBadRequest).with("Connection", "close")
		r.Close = true
		return r
	}
	if req.Proto != "RTSP/1.0" {
		return respond(StatusRTSPVersionNotSupported)
	}
	if require := req.Header.Get("Require"); require != "" {
		// No option extensions are supported (RFC 2326 §12.32); an empty Require names none.
		// Proxy-Require is for proxies.
		return respond(StatusOptionNotSupported).with("Unsupported", require)
	}
	switch req.Method {
	case "OPTIONS", "DESCRIBE", "SETUP", "PLAY", "PAUSE", "TEARDOWN", "GET_PARAMETER", "SET_PARAMETER":
	case "ANNOUNCE", "RECORD":
		// A camera only plays; publishing to it is not allowed.
		return respond(StatusMethodNotAllowed).with("Allow", publicMethods)
	default:
		return respond(StatusNotImplemented).with("Allow", publicMethods)
	}
	if req.Method != "OPTIONS" && s.auth.enabled() {
		encrypted := c.tls != nil
		switch verdict := s.auth.check(req, time.Now(), encrypted); verdict {
		case authOK:
		case authWrong, authBasicInClear:
			// Worth a line: an NVR with a mistyped password, or one that can only send it in
			// clear, otherwise just fails to connect, with nothing in the camera's log. (A
			// player's first request carries no credentials, and the 401 that asks for them
			// is no failure.)
			if ok, skipped := s.authWarn.Allow(time.Now()); ok {
				msg := "authentication failed: wrong username or password"
				if verdict == authBasicInClear {
					msg = "authentication refused: Basic sends the password in clear; the player must use Digest, or rtsps://"
				}
				c.log.Warn(msg, "user", presentedUser(req), "method", req.Method, "failed_unlogged", skipped)
			}
			return s.auth.challenge(time.Now(), false, encrypted)
		default:
			return s.auth.challenge(time.Now(), verdict == authStale, encrypted)
		}
	}
	tgt, base, err := s.resolve(c, req.URI)
	if err != nil {
		return respond(StatusBadRequest)
	}
	var ss *session
	if id := sessionID(req.Header.Get("Session")); id != "" {
		// A session set up over TLS exists only for TLS connections: its id travelled
		// encrypted, and plain RTSP must not be a way to keep it alive or end it.
		if ss = s.session(id); ss == nil || ss.c.tls != nil && c.tls == nil {
			return respond(StatusSessionNotFound)
		}
		ss.touch()
	}
	switch req.Method {
	case "OPTIONS":
		r := respond(StatusOK).with("Public", publicMethods)
		if ss != nil { // a keep-alive (live555's -K, some NVRs): it names the session it kept
			r.with("Session", s.sessionHeader(ss))
		}
		return r
	case "DESCRIBE":
		return s.describe(c, tgt, base)
	case "SETUP":
		return s.setup(c, req, tgt, ss)
	case "PLAY":
		r := s.play(tgt, base, ss)
		if r.Status == StatusOK && req.Header.Has("Scale") {
			// A live camera plays at one speed; RFC 2326 §12.34 wants the scale used echoed.
			r.with("Scale", "1")
		}
		return r
	case "PAUSE":
		return s.pause(tgt, ss)
	case "TEARDOWN":
		if ss == nil {
			return respond(StatusSessionNotFound)
		}
		ss.close("teardown")
		return respond(StatusOK)
	default: // GET_PARAMETER, SET_PARAMETER
		if len(strings.TrimSpace(string(req.Body))) > 0 {
			// Keep-alives have no body; the camera exposes no parameters.
			return respond(StatusParameterNotUnderstood)
		}
		r := respond(StatusOK)
		if ss != nil {
			r.with("Session", s.sessionHeader(ss))
		}
		return r
	}
}

func (s *Server) describe(c *conn, tgt target, base string) *Response {
	if tgt != targetAggregate && tgt != targetTrack {
		return respond(StatusNotFound)
	}
	ctx, cancel := context.WithTimeout(s.ctx, describeWait)
	defer cancel()
	ps, err := s.stream.ParameterSets(ctx)
	if err != nil {
		s.log.Warn("DESCRIBE before the source produced SPS/PPS", "err", err)
		return respond(StatusServiceUnavailable).with("Retry-After", "5")
	}
	var local net.IP
	if a, ok := c.nc.LocalAddr().(*net.TCPAddr); ok {
		local = a.IP
	}
	body, err := buildSDP(ps, uint64(time.Now().Unix()), local)
	if err != nil {
		s.log.Error("building SDP", "err", err)
		return respond(StatusInternalServerError)
	}
	r := respond(StatusOK).
		with("Content-Base", base+"/").
		with("Content-Type", "application/sdp")
	r.Body = body
	return r
}

// ownUDPPorts reports whether client ports on clientIP are the server's own RTP/RTCP ports (a
// client on the camera itself, or tunnelled to it, can name them): the session would then
// send to itself and take its own packets for the viewer's, and never expire.
func (s *Server) ownUDPPorts(c *conn, clientIP net.IP, ports [2]int) bool {
	local, ok := c.nc.LocalAddr().(*net.TCPAddr)
	if !clientIP.IsLoopback() && (!ok || !clientIP.Equal(local.IP)) {
		return false
	}
	for _, p := range ports {
		if p == s.udp.ports[0] || p == s.udp.ports[1] {
			return true
		}
	}
	return false
}

func (s *Server) setup(c *conn, req *Request, tgt target, ss *session) *Response {
	switch tgt {
	case targetTrack:
	case targetAggregate:
		return respond(StatusAggregateNotAllowed)
	default:
		return respond(StatusNotFound)
	}
	th := req.Header.Get("Transport")
	if th == "" {
		return respond(StatusUnsupportedTransport)
	}
	specs, errs := parseTransports(th)
	clientIP, zone := remoteIP(c.nc), remoteZone(c.nc)
	chosen := -1
	var rtpRaw *rawAddr
	for i, sp := range specs {
		if errs[i] != nil {
			continue
		}
		if c.interleavedOnly() && sp.Lower != LowerTCP {
			continue // media stays inside a TLS connection or HTTP tunnel (see tls.go, tunnel.go)
		}
		if sp.Lower == LowerMulticast && (s.multicast == nil || !s.multicast.routable()) {
			continue // not offered, or nowhere to send it: the next alternative, or 461
		}
		if sp.Lower == LowerUDP {
			if s.ownUDPPorts(c, clientIP, sp.ClientPorts) {
				continue
			}
			ra, ok := newRawAddr(&net.UDPAddr{IP: clientIP, Port: sp.ClientPorts[0], Zone: zone})
			if !ok || ra.ipv6 && s.udp.rtp6 == nil || !ra.ipv6 && s.udp.rtp == nil {
				continue // no UDP socket of the client's family (no IPv6, or bound to one address): TCP it is
			}
			rtpRaw = ra
		}
		chosen = i
		break
	}
	if chosen < 0 {
		return respond(StatusUnsupportedTransport)
	}
	spec := specs[chosen]
	if ss != nil {
		// One track: a second SETUP in a session may only repeat the first while not playing,
		// or move a UDP viewer to other ports (RFC 2326 §10.4: a client may change transport
		// parameters of a session that is not playing).
		if ss.playing() {
			return respond(StatusMethodNotValidInState).with("Allow", "OPTIONS, PLAY, PAUSE, TEARDOWN, GET_PARAMETER, SET_PARAMETER")
		}
		if ss.lower != spec.Lower || ss.c != c {
			return respond(StatusUnsupportedTransport)
		}
		if ss.lower == LowerUDP && spec.ClientPorts != [2]int{ss.dest.rtp.Port, ss.dest.rtcp.Port} {
			s.udp.move(ss, udpDest{
				rtp:    &net.UDPAddr{IP: clientIP, Port: spec.ClientPorts[0], Zone: zone},
				rtcp:   &net.UDPAddr{IP: clientIP, Port: spec.ClientPorts[1], Zone: zone},
				rtpRaw: rtpRaw,
			})
		}
		return respond(StatusOK).with("Transport", s.transportReply(ss)).with("Session", s.sessionHeader(ss))
	}
	if c.sessionCount() >= maxSessionsPerConn {
		// Without a bound, one connection could take every viewer slot.
		c.log.Debug("SETUP refused: too many sessions on one connection", "max", maxSessionsPerConn)
		return respond(StatusServiceUnavailable)
	}
	ss = &session{
		id:     s.newSessionID(),
		srv:    s,
		c:      c,
		remote: c.remote,
		lower:  spec.Lower,
		state:  stateReady,
		epoch:  time.Now(),
		v: &viewer{
			ssrc:     rand.Uint32(),
			seq:      uint16(rand.Uint32()),
			anchorTS: rand.Uint32(),
		},
	}
	ss.touch()
	switch spec.Lower {
	case LowerMulticast:
		ss.v = s.multicast.sender.v // counters and SSRC are the group's
	case LowerTCP:
		ss.channels = c.freeChannels(spec.Interleaved)
	case LowerUDP:
		ss.dest = udpDest{
			rtp:    &net.UDPAddr{IP: clientIP, Port: spec.ClientPorts[0], Zone: zone},
			rtcp:   &net.UDPAddr{IP: clientIP, Port: spec.ClientPorts[1], Zone: zone},
			rtpRaw: rtpRaw,
		}
	}
	if !s.addSession(ss) {
		if ok, skipped := s.refusedWarn.Allow(time.Now()); ok {
			s.log.Warn("viewer refused: limit reached", "remote", c.remote, "max", s.cfg.MaxViewers,
				"refused_unlogged", skipped)
		}
		return respond(StatusServiceUnavailable).with("Retry-After", retryAfterFull)
	}
	if !c.addSession(ss) {
		s.removeSession(ss) // the connection closed under the SETUP: nobody to answer
		return respond(StatusServiceUnavailable)
	}
	if ss.lower == LowerUDP {
		s.udp.register(ss)
	}
	// Debug: a SETUP that never plays is nobody watching, and a client looping on SETUP and
	// TEARDOWN must not push everything useful out of the camera's small log.
	ss.via = c.via()
	s.log.Debug("viewer set up", viewerAttrs(ss)...)
	return respond(StatusOK).with("Transport", s.transportReply(ss)).with("Session", s.sessionHeader(ss))
}

// viewerAttrs are the log attributes that say who a viewer is and how it is served.
func viewerAttrs(ss *session) []any {
	attrs := []any{"session", ss.id, "remote", ss.remote, "transport", ss.lower.String()}
	if ss.via != "" {
		attrs = append(attrs, "via", ss.via)
	}
	return attrs
}

func (s *Server) transportReply(ss *session) string {
	switch ss.lower {
	case LowerTCP:
		return formatTCPTransport(ss.channels, ss.v.ssrc)
	case LowerMulticast:
		return s.multicast.transport()
	}
	return formatUDPTransport(ss.dest.rtp.IP.String(),
		[2]int{ss.dest.rtp.Port, ss.dest.rtcp.Port}, s.udp.ports, ss.v.ssrc)
}

func (s *Server) sessionHeader(ss *session) string {
	return ss.id + ";timeout=" + strconv.Itoa(int(s.cfg.SessionTimeout/time.Second))
}

func (s *Server) play(tgt target, base string, ss *session) *Response {
	if ss == nil {
		return respond(StatusSessionNotFound)
	}
	if tgt != targetAggregate && tgt != targetTrack {
		return respond(StatusNotFound)
	}
	if ss.lower == LowerUDP {
		s.udp.supersede(ss, s.udp.claim(ss))
	}
	seq, rtptime, ok := ss.play()
	if !ok {
		s.udp.forget(ss) // ended meanwhile: claim must not leave its addresses mapped to it
		return respond(StatusSessionNotFound)
	}
	if ss.played.CompareAndSwap(false, true) {
		s.log.Info("viewer playing", viewerAttrs(ss)...)
	}
	r := respond(StatusOK).
		with("Range", "npt=0.000-").
		with("Session", s.sessionHeader(ss))
	if rtptime != 0 || seq != 0 {
		r.with("RTP-Info", fmt.Sprintf("url=%s/%s;seq=%d;rtptime=%d", base, trackControl, seq, rtptime))
	}
	if ss.lower == LowerTCP {
		r.afterWrite = ss.releaseTCP
	}
	return r
}

func (s *Server) pause(tgt target, ss *session) *Response {
	if ss == nil {
		return respond(StatusSessionNotFound)
	}
	if tgt != targetAggregate && tgt != targetTrack {
		return respond(StatusNotFound)
	}
	if !ss.pause() {
		return respond(StatusMethodNotValidInState).with("Allow", "OPTIONS, SETUP, PLAY, TEARDOWN, GET_PARAMETER, SET_PARAMETER")
	}
	return respond(StatusOK).with("Session", s.sessionHeader(ss))
}

// resolve maps a request URI to what it names, and returns the stream's base URL as the
// client addresses it (for Content-Base and RTP-Info). Clients build track URLs in several
// ways, all accepted: base + "/trackID=0" (RFC 3986 against Content-Base), "/trackID=0"
// (resolved against the URL without its trailing slash), with or without a trailing slash.
func (s *Server) resolve(c *conn, uri string) (target, string, error) {
	host := c.nc.LocalAddr().String()
	if uri == "*" {
		return targetAny, c.scheme() + "://" + host + s.cfg.Path, nil
	}
	u, err := url.Parse(uri)
	if err != nil {
		return targetNone, "", fmt.Errorf("request URI %q: %w", truncate(uri), err)
	}
	if u.Host != "" {
		host = u.Host
	}
	// The scheme is the listener's, whatever the client wrote: over TLS, Content-Base and
	// RTP-Info must not send a player on to cleartext.
	base := c.scheme() + "://" + host + s.cfg.Path
	p := strings.TrimRight(u.Path, "/")
	switch {
	case p == s.cfg.Path && strings.HasSuffix(strings.TrimRight(u.RawQuery, "/"), "/"+trackControl):
		// The URL the player was given, with a query, and the track's control appended to it
		// rather than resolved against Content-Base (some NVRs): ".../stream?x=1/trackID=0".
		return targetTrack, base, nil
	case p == s.cfg.Path:
		return targetAggregate, base, nil
	case p == s.cfg.Path+"/"+trackControl, p == "/"+trackControl, p == trackControl:
		return targetTrack, base, nil
	}
	return targetNone, base, nil
}

// freeChannels returns the interleaved channel pair for a new TCP session on c: the one asked
// for when it is free, otherwise the lowest free even pair.
func (c *conn) freeChannels(want [2]int) [2]int {
	c.mu.Lock()
	defer c.mu.Unlock()
	used := func(ch int) bool {
		for ss := range c.sessions {
			if ss.lower == LowerTCP && (ss.channels[0] == ch || ss.channels[1] == ch) {
				return true
			}
		}
		return false
	}
	if want[0] >= 0 && !used(want[0]) && !used(want[1]) {
		return want
	}
	for ch := 0; ch+1 <= 255; ch += 2 {
		if !used(ch) && !used(ch+1) {
			return [2]int{ch, ch + 1}
		}
	}
	return [2]int{0, 1}
}

func sessionID(h string) string {
	id, _, _ := strings.Cut(h, ";")
	return strings.TrimSpace(id)
}

func validCSeq(v string) bool {
	// RFC 2326 puts no bound on 1*DIGIT (mediamtx and gst-rtsp-server echo 11 digits); 20
	// keeps a hostile one short. It is echoed as it came, never parsed as a number.
	if v == "" || len(v) > 20 {
		return false
	}
	for i := range len(v) {
		if v[i] < '0' || v[i] > '9' {
			return false
		}
	}
	return true
}

// remoteHost is the client's address without the port ("" when it has none).
func remoteHost(nc net.Conn) string {
	if ip := remoteIP(nc); ip != nil {
		return ip.String()
	}
	host, _, _ := net.SplitHostPort(nc.RemoteAddr().String())
	return host
}

// remoteZone is the client's IPv6 zone (the interface of a link-local address), if any.
func remoteZone(nc net.Conn) string {
	if a, ok := nc.RemoteAddr().(*net.TCPAddr); ok {
		return a.Zone
	}
	return ""
}

func remoteIP(nc net.Conn) net.IP {
	if a, ok := nc.RemoteAddr().(*net.TCPAddr); ok {
		if v4 := a.IP.To4(); v4 != nil {
			return v4
		}
		return a.IP
	}
	return nil
}
