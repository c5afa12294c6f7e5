package sim

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/camerad/camerad/cmd/rtspsim/internal/rtsp"
)

// defaultServerTimeout is assumed when SETUP's Session header names no timeout (RFC 2326
// 12.37).
const defaultServerTimeout = 60 * time.Second

// route says where an interleaved channel's frames go.
type route struct {
	t    *track
	rtcp bool
}

// session is one simulated viewer.
type session struct {
	id   int
	cfg  *Config
	url  string // without user info
	user string
	pass string

	findings findings
	conn     *rtsp.Conn
	tracksMu sync.Mutex // tracks grows during SETUP while progress lines read it
	tracks   []*track
	pairs    []*udpPair // UDP and multicast only, one per track
	rtcpChan []byte     // TCP only, per track
	routes   atomic.Pointer[[256]route]
	readers  sync.WaitGroup
	ourSSRC  uint32

	aggregateURL  string
	serverTimeout time.Duration
	public        map[string]bool

	state     atomic.Int32
	startedAt time.Time
	playSent  time.Time
	playDone  time.Time
}

// Session states, for progress lines.
const (
	statePending int32 = iota
	stateRunning
	stateDone
	stateFailed
)

func newSession(id int, cfg *Config, clean, user, pass string) *session {
	return &session{id: id, cfg: cfg, url: clean, user: user, pass: pass, ourSSRC: rand.Uint32()}
}

// run plays until stopAt (zero: until ctx ends), tears down and returns the result.
func (s *session) run(ctx context.Context, stopAt time.Time) SessionResult {
	s.state.Store(stateRunning)
	s.startedAt = time.Now()
	err := s.play(ctx, stopAt)
	end := time.Now()
	s.teardown()
	s.close()
	res := s.result(err, end)
	if res.OK {
		s.state.Store(stateDone)
	} else {
		s.state.Store(stateFailed)
	}
	return res
}

func (s *session) play(ctx context.Context, stopAt time.Time) error {
	u, err := url.Parse(s.url)
	if err != nil {
		return fmt.Errorf("parse URL: %w", err)
	}
	opts := rtsp.Options{
		UserAgent: s.cfg.UserAgent,
		Timeout:   s.cfg.Timeout,
		User:      s.user,
		Pass:      s.pass,
		Dialog:    s.cfg.Dialog,
		OnFrame:   s.onFrame,
		OnFinding: s.findings.add,
	}
	if s.cfg.Dialog != nil && s.cfg.Sessions > 1 {
		opts.DialogPrefix = fmt.Sprintf("[%d] ", s.id)
	}
	if s.conn, err = rtsp.Dial(ctx, u.Host, opts); err != nil {
		return err
	}

	resp, err := s.must(ctx, &rtsp.Request{Method: "OPTIONS", URL: s.url})
	if err != nil {
		return err
	}
	s.public = rtsp.ParsePublic(resp.Header.Get("Public"))

	resp, err = s.must(ctx, &rtsp.Request{Method: "DESCRIBE", URL: s.url, Header: rtsp.Header{{Name: "Accept", Value: "application/sdp"}}})
	if err != nil {
		return err
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(strings.ToLower(ct), "application/sdp") {
		s.findings.add(KindContentType, fmt.Sprintf("DESCRIBE Content-Type %q", ct))
	}
	base := s.url
	if v := resp.Header.Get("Content-Base"); v != "" {
		base = v
	} else if v := resp.Header.Get("Content-Location"); v != "" {
		base = v
	}
	s.aggregateURL = base
	descs, err := rtsp.ParseSDP(resp.Body, base)
	if err != nil {
		return fmt.Errorf("DESCRIBE: %w", err)
	}
	for i, d := range descs {
		if err := s.setup(ctx, i, d); err != nil {
			return err
		}
	}
	s.startReaders()

	s.playSent = time.Now()
	resp, err = s.must(ctx, &rtsp.Request{Method: "PLAY", URL: s.aggregateURL, Header: rtsp.Header{{Name: "Range", Value: "npt=0.000-"}}})
	if err != nil {
		return err
	}
	s.playDone = time.Now()
	s.applyRTPInfo(resp.Header.Get("RTP-Info"))
	return s.hold(ctx, stopAt)
}

// must sends req and turns a non-2xx answer into an error.
func (s *session) must(ctx context.Context, req *rtsp.Request) (*rtsp.Response, error) {
	resp, err := s.conn.Do(ctx, req)
	if err != nil {
		return nil, err
	}
	if !resp.OK() {
		return nil, &rtsp.StatusError{Method: req.Method, Code: resp.StatusCode, Reason: resp.Reason}
	}
	return resp, nil
}

func (s *session) setup(ctx context.Context, i int, d rtsp.Track) error {
	t := newTrack(d, &s.findings, s.cfg.RTPTimeSlack)
	t.reliable = s.cfg.Transport == TCP
	var offer string
	var pair *udpPair
	switch s.cfg.Transport {
	case UDP:
		var err error
		if pair, err = listenUDPPair(s.conn.LocalAddr().(*net.TCPAddr).IP); err != nil {
			return fmt.Errorf("setup %s: %w", d.URL, err)
		}
		port := pair.rtp.LocalAddr().(*net.UDPAddr).Port
		offer = fmt.Sprintf("RTP/AVP;unicast;client_port=%d-%d", port, port+1)
	case TCP:
		offer = fmt.Sprintf("RTP/AVP/TCP;unicast;interleaved=%d-%d", 2*i, 2*i+1)
	case Multicast:
		offer = "RTP/AVP;multicast"
	}
	// Keep the track even if SETUP fails below, so its sockets are closed.
	s.tracksMu.Lock()
	s.tracks = append(s.tracks, t)
	s.tracksMu.Unlock()
	s.pairs = append(s.pairs, pair)
	s.rtcpChan = append(s.rtcpChan, 0)

	resp, err := s.must(ctx, &rtsp.Request{Method: "SETUP", URL: d.URL, Header: rtsp.Header{{Name: "Transport", Value: offer}}})
	if err != nil {
		return fmt.Errorf("setup %s: %w", d.URL, err)
	}
	if id := resp.Header.Get("Session"); id != "" && s.serverTimeout == 0 {
		_, sec := rtsp.SessionHeader(id)
		s.serverTimeout = time.Duration(sec) * time.Second
		if sec <= 0 {
			s.serverTimeout = defaultServerTimeout
		}
	}
	raw := resp.Header.Get("Transport")
	if strings.Contains(raw, ",") {
		s.findings.add(KindTransport, fmt.Sprintf("SETUP %s: answer lists several transports: %q", d.URL, raw))
	}
	tr, err := rtsp.ParseTransport(raw)
	if err != nil {
		return fmt.Errorf("setup %s: %w", d.URL, err)
	}
	if tr.HasSSRC {
		t.setupSSRC, t.hasSSRC = tr.SSRC, true
	}
	switch s.cfg.Transport {
	case UDP:
		if tr.TCP() || tr.Multicast {
			return fmt.Errorf("setup %s: asked for UDP unicast, server answered %q", d.URL, raw)
		}
		if tr.ClientPorts != [2]int{} && tr.ClientPorts[0] != pair.rtp.LocalAddr().(*net.UDPAddr).Port {
			s.findings.add(KindTransport, fmt.Sprintf("SETUP %s: answer changed client_port to %d-%d", d.URL, tr.ClientPorts[0], tr.ClientPorts[1]))
		}
		if tr.ServerPorts[1] != 0 {
			ip, _ := netip.AddrFromSlice(s.conn.RemoteAddr().(*net.TCPAddr).IP)
			pair.serverRTCP = netip.AddrPortFrom(ip.Unmap(), uint16(tr.ServerPorts[1]))
		} else {
			s.findings.add(KindTransport, fmt.Sprintf("SETUP %s: answer has no server_port", d.URL))
		}
	case TCP:
		if !tr.TCP() {
			return fmt.Errorf("setup %s: asked for TCP, server answered %q", d.URL, raw)
		}
		ch := [2]int{2 * i, 2*i + 1}
		if tr.HasInter {
			ch = tr.Interleaved
		} else {
			s.findings.add(KindTransport, fmt.Sprintf("SETUP %s: answer has no interleaved channels", d.URL))
		}
		if ch[0] > 255 || ch[1] > 255 {
			return fmt.Errorf("setup %s: interleaved channels %d-%d out of range", d.URL, ch[0], ch[1])
		}
		routes := s.routesCopy()
		routes[ch[0]] = route{t: t}
		routes[ch[1]] = route{t: t, rtcp: true}
		s.routes.Store(routes)
		s.rtcpChan[i] = byte(ch[1])
	case Multicast:
		if !tr.Multicast || !tr.Destination.IsValid() || tr.Ports[0] == 0 {
			return fmt.Errorf("setup %s: asked for multicast, server answered %q", d.URL, raw)
		}
		if s.pairs[i], err = listenMulticastPair(tr.Destination, tr.Ports, nil); err != nil {
			return fmt.Errorf("setup %s: %w", d.URL, err)
		}
	}
	return nil
}

func (s *session) trackList() []*track {
	s.tracksMu.Lock()
	defer s.tracksMu.Unlock()
	return append([]*track(nil), s.tracks...)
}

func (s *session) routesCopy() *[256]route {
	var r [256]route
	if old := s.routes.Load(); old != nil {
		r = *old
	}
	return &r
}

// onFrame runs on the RTSP reader goroutine for each interleaved frame.
func (s *session) onFrame(ch byte, payload []byte) {
	routes := s.routes.Load()
	if routes == nil || routes[ch].t == nil {
		return
	}
	if r := routes[ch]; r.rtcp {
		r.t.handleRTCP(payload, time.Now())
	} else {
		r.t.handleRTP(payload, time.Now())
	}
}

func (s *session) startReaders() {
	for i, p := range s.pairs {
		if p == nil {
			continue
		}
		t := s.tracks[i]
		s.readers.Add(2)
		go func() { defer s.readers.Done(); readLoop(p.rtp, t.handleRTP) }()
		go func() { defer s.readers.Done(); readLoop(p.rtcp, t.handleRTCP) }()
	}
}

// applyRTPInfo hands each track its RTP-Info entry. Servers write the URL as the SETUP URL,
// as the control attribute alone, or (with one track) however they like.
func (s *session) applyRTPInfo(v string) {
	if v == "" {
		for _, t := range s.tracks {
			s.findings.add(KindRTPInfoMissing, fmt.Sprintf("PLAY answer has no RTP-Info (track %s)", t.desc.URL))
		}
		return
	}
	infos, err := rtsp.ParseRTPInfo(v)
	if err != nil {
		s.findings.add(KindRTPInfoMissing, fmt.Sprintf("PLAY RTP-Info %q: %v", v, err))
		return
	}
	for _, t := range s.tracks {
		info, ok := matchRTPInfo(infos, t, len(s.tracks))
		if !ok {
			s.findings.add(KindRTPInfoMissing, fmt.Sprintf("RTP-Info %q names no URL for track %s", v, t.desc.URL))
			continue
		}
		t.setRTPInfo(info)
	}
}

func matchRTPInfo(infos []rtsp.RTPInfo, t *track, tracks int) (rtsp.RTPInfo, bool) {
	trim := func(s string) string { return strings.TrimRight(s, "/") }
	for _, in := range infos {
		switch {
		case trim(in.URL) == trim(t.desc.URL),
			t.desc.Control != "" && strings.HasSuffix(trim(in.URL), "/"+strings.TrimLeft(t.desc.Control, "/")),
			in.URL != "" && !strings.Contains(in.URL, "://") && strings.HasSuffix(trim(t.desc.URL), "/"+strings.TrimLeft(in.URL, "/")):
			return in, true
		}
	}
	if tracks == 1 && len(infos) == 1 {
		return infos[0], true
	}
	return rtsp.RTPInfo{}, false
}

// hold keeps the session playing: keep-alives, receiver reports, and the first-packet
// deadline.
func (s *session) hold(ctx context.Context, stopAt time.Time) error {
	every := s.cfg.KeepAlive
	if every <= 0 {
		every = s.serverTimeout / 2
		if every <= 0 {
			every = defaultServerTimeout / 2
		}
	}
	every = max(every, time.Second)
	method := "OPTIONS"
	if s.public["GET_PARAMETER"] {
		method = "GET_PARAMETER"
	}
	keepAlive := time.NewTicker(every)
	defer keepAlive.Stop()

	var reports <-chan time.Time
	if s.cfg.ReceiverReports > 0 {
		tk := time.NewTicker(s.cfg.ReceiverReports)
		defer tk.Stop()
		reports = tk.C
	}
	var stop <-chan time.Time
	if !stopAt.IsZero() {
		tm := time.NewTimer(time.Until(stopAt))
		defer tm.Stop()
		stop = tm.C
	}
	firstPacket := time.NewTimer(s.cfg.Timeout)
	defer firstPacket.Stop()

	for {
		select {
		case <-ctx.Done():
			return nil
		case <-stop:
			return nil
		case <-s.conn.Done():
			return fmt.Errorf("server closed the connection: %w", s.conn.Err())
		case <-firstPacket.C:
			if s.packets() == 0 {
				return fmt.Errorf("no RTP packet within %v of PLAY", s.cfg.Timeout)
			}
		case <-reports:
			s.sendReceiverReports()
		case <-keepAlive.C:
			resp, err := s.conn.Do(ctx, &rtsp.Request{Method: method, URL: s.aggregateURL})
			if err != nil {
				if ctx.Err() != nil {
					return nil
				}
				return fmt.Errorf("keep-alive: %w", err)
			}
			if !resp.OK() {
				s.findings.add(KindStatus, fmt.Sprintf("keep-alive %s answered %d %s", method, resp.StatusCode, resp.Reason))
				if resp.StatusCode == 454 {
					return fmt.Errorf("keep-alive: session lost (454 %s)", resp.Reason)
				}
			}
		}
	}
}

func (s *session) packets() uint64 {
	var n uint64
	for _, t := range s.tracks {
		n += t.snapshot().packets
	}
	return n
}

func (s *session) sendReceiverReports() {
	now := time.Now()
	for i, t := range s.tracks {
		b, ok := t.receiverReport(s.ourSSRC, now)
		if !ok {
			continue
		}
		switch {
		case s.cfg.Transport == TCP:
			_ = s.conn.WriteFrame(s.rtcpChan[i], b)
		case s.pairs[i] != nil && s.pairs[i].serverRTCP.IsValid():
			_, _ = s.pairs[i].rtcp.WriteToUDPAddrPort(b, s.pairs[i].serverRTCP)
		}
	}
}

// teardown ends the session politely. A server that closes the connection instead of
// answering is within its rights; only a non-2xx answer is a finding.
func (s *session) teardown() {
	if s.conn == nil || s.conn.Session() == "" || s.conn.Err() != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), min(s.cfg.Timeout, 5*time.Second))
	defer cancel()
	resp, err := s.conn.Do(ctx, &rtsp.Request{Method: "TEARDOWN", URL: s.aggregateURL})
	if err == nil && !resp.OK() {
		s.findings.add(KindStatus, fmt.Sprintf("TEARDOWN answered %d %s", resp.StatusCode, resp.Reason))
	}
}

func (s *session) close() {
	if s.conn != nil {
		_ = s.conn.Close()
	}
	for _, p := range s.pairs {
		if p != nil {
			p.close()
		}
	}
	s.readers.Wait()
}
