package rtspsrv

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/camerad/camerad/rtspsrv/warnlimit"
)

// Config configures a Server. Zero durations and limits take the defaults noted.
type Config struct {
	// Path is the stream's path, e.g. "/stream".
	Path string
	// UDPPort is the server's RTP port for UDP viewers (even; RTCP is UDPPort+1). 0 picks a
	// free even/odd pair.
	UDPPort int
	// UDPHost is the address the UDP ports bind to: the RTSP listener's, so that a camera
	// told to serve on one interface sends and receives media only there too. "" (or a
	// name rather than an address) binds every address.
	UDPHost string
	// Multicast is the group (IPv4, 224.0.0.0/4) and even RTP port that multicast viewers
	// receive from; RTCP is the next port. The zero value offers no multicast: SETUP asking
	// only for it gets 461.
	Multicast netip.AddrPort
	// MaxViewers bounds concurrent sessions; SETUP beyond it gets 503, unless a UDP viewer
	// held for silence can give up its place (see addSession). 0 means 100. One
	// address may also hold at most MaxViewers+hostConnSlack connections: more get 503 to
	// their first request and are closed, so that one host cannot use up the descriptors
	// everyone else needs.
	MaxViewers int
	// Username and Password, when Username is set, require Digest auth (or Basic, over TLS).
	Username, Password string

	IdleTimeout time.Duration // a connection with no playing TCP session and no request (60 s)
	// RequestTimeout bounds a request from its first byte to its last, and a new connection's
	// wait for its first byte (10 s): players speak at once; a socket that stays silent is
	// only holding a descriptor.
	RequestTimeout time.Duration
	WriteTimeout   time.Duration // a stuck TCP viewer is dropped after this (5 s)
	SessionTimeout time.Duration // a session with no keep-alive is ended (60 s)
	// RTCPTimeout ends a playing UDP session whose viewer sent RTCP and then fell silent for
	// this long (25 s: RFC 3550 §6.3.5's five report intervals of at least 5 s).
	RTCPTimeout time.Duration

	Limits Limits

	// ServerName goes into the Server header.
	ServerName string
	// CNAME names the camera in RTCP (RFC 3550 §6.5.1: the same for all its streams, and
	// unique, so "host" or "user@host"); "" means ServerName.
	CNAME  string
	Logger *slog.Logger
}

func (c Config) withDefaults() Config {
	if c.Path == "" {
		c.Path = "/stream"
	}
	if !strings.HasPrefix(c.Path, "/") {
		c.Path = "/" + c.Path
	}
	c.Path = strings.TrimRight(c.Path, "/")
	if c.MaxViewers <= 0 {
		c.MaxViewers = 100
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = 60 * time.Second
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = 10 * time.Second
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = 5 * time.Second
	}
	if c.SessionTimeout <= 0 {
		c.SessionTimeout = 60 * time.Second
	}
	if c.RTCPTimeout <= 0 {
		c.RTCPTimeout = 25 * time.Second
	}
	if c.ServerName == "" {
		c.ServerName = "camerad"
	}
	if c.CNAME == "" {
		c.CNAME = c.ServerName
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	c.Limits = c.Limits.withDefaults()
	return c
}

// Server serves one Stream over RTSP.
type Server struct {
	cfg    Config
	stream *Stream
	log    *slog.Logger
	auth   *authenticator
	udp    *udpSender
	// multicast is nil unless Config.Multicast is set.
	multicast *multicastGroup

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	sessions map[string]*session
	conns    map[*conn]struct{}
	byHost   map[string]int // open connections per client address
	lns      map[net.Listener]struct{}
	tunnels  map[string]*tunnelWait // HTTP tunnel GETs waiting for their POST, by cookie
	refusing chan struct{}          // a slot per over-limit connection being answered 503 (refuse.go)

	closeOnce   sync.Once
	refusedWarn warnlimit.Limiter // "viewer refused: limit reached"
	authWarn    warnlimit.Limiter // "authentication failed"
}

// refusedWarnInterval is how often at most a refused viewer, or a failed login, is logged.
const refusedWarnInterval = 10 * time.Second

// NewServer prepares a server for stream; Serve starts it.
func NewServer(cfg Config, stream *Stream) (*Server, error) {
	cfg = cfg.withDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	s := &Server{
		cfg:         cfg,
		stream:      stream,
		log:         cfg.Logger,
		refusedWarn: warnlimit.Limiter{Interval: refusedWarnInterval},
		authWarn:    warnlimit.Limiter{Interval: refusedWarnInterval},
		ctx:         ctx,
		cancel:      cancel,
		sessions:    make(map[string]*session),
		conns:       make(map[*conn]struct{}),
		byHost:      make(map[string]int),
		lns:         make(map[net.Listener]struct{}),
		tunnels:     make(map[string]*tunnelWait),
		refusing:    make(chan struct{}, maxRefusing),
	}
	if cfg.Username != "" {
		secret := make([]byte, 32)
		_, _ = rand.Read(secret)
		s.auth = newAuthenticator(cfg.Username, cfg.Password, secret)
	}
	udp, err := newUDPSender(s, cfg.UDPHost, cfg.UDPPort)
	if err != nil {
		cancel()
		return nil, err
	}
	s.udp = udp
	if cfg.Multicast.IsValid() {
		if s.multicast, err = newMulticastGroup(s, udp, cfg.Multicast); err != nil {
			udp.close()
			cancel()
			return nil, err
		}
	}
	s.wg.Add(3)
	go func() { defer s.wg.Done(); udp.run(ctx) }()
	go func() { defer s.wg.Done(); udp.readRTCP() }()
	go func() { defer s.wg.Done(); s.reapSessions(ctx) }()
	return s, nil
}

// UDPPorts returns the server's RTP and RTCP ports.
func (s *Server) UDPPorts() [2]int { return s.udp.ports }

// MulticastGroup returns the group and RTP port that multicast viewers receive from; the zero
// value when multicast is off.
func (s *Server) MulticastGroup() netip.AddrPort {
	if s.multicast == nil {
		return netip.AddrPort{}
	}
	return s.multicast.addr
}

// MulticastRoutable reports whether the kernel has a route to the multicast group now (false
// without a group). Without one, multicast SETUPs get 461 until a route appears.
func (s *Server) MulticastRoutable() bool {
	return s.multicast != nil && s.multicast.routable()
}

// Serve accepts connections on ln until Close. It returns nil after Close.
func (s *Server) Serve(ln net.Listener) error { return s.serve(ln, nil) }

// serve accepts connections on ln until Close; with tlsCfg they speak RTSP over TLS. Every
// listener feeds the same sessions, viewer limits and per-host connection counts.
func (s *Server) serve(ln net.Listener, tlsCfg *tls.Config) error {
	s.mu.Lock()
	if s.ctx.Err() != nil {
		s.mu.Unlock()
		ln.Close()
		return nil
	}
	s.lns[ln] = struct{}{}
	s.mu.Unlock()
	var delay time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.ctx.Err() != nil {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) {
				// Out of fds or a transient accept error: back off instead of spinning.
				delay = min(max(2*delay, 5*time.Millisecond), time.Second)
				s.log.Warn("accept failed; retrying", "err", err, "in", delay)
				time.Sleep(delay)
				continue
			}
			return fmt.Errorf("accept: %w", err)
		}
		delay = 0
		c := newConn(s, nc, tlsCfg)
		s.mu.Lock()
		if s.ctx.Err() != nil {
			s.mu.Unlock()
			nc.Close()
			return nil
		}
		if s.byHost[c.host] >= s.cfg.MaxViewers+hostConnSlack {
			c.log.Debug("connection refused: too many from this address", "max", s.cfg.MaxViewers+hostConnSlack)
			s.refuseLater(c)
			s.mu.Unlock()
			continue
		}
		s.byHost[c.host]++
		s.conns[c] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go func() {
			defer s.wg.Done()
			c.serve()
		}()
	}
}

// Close tears every session down (RTCP BYE to each viewer), closes all connections and the
// UDP sockets, and waits for the server's goroutines. Calls after the first do nothing.
func (s *Server) Close() error {
	s.closeOnce.Do(s.shutdown)
	return nil
}

// shutdown is Close's work, done once: the sockets it closes may have new owners after it.
func (s *Server) shutdown() {
	s.mu.Lock()
	s.cancel()
	for ln := range s.lns {
		ln.Close()
	}
	sessions := make([]*session, 0, len(s.sessions))
	for _, ss := range s.sessions {
		sessions = append(sessions, ss)
	}
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	// Writes blocked on viewers that stopped reading are cut short (new ones are bounded by
	// writeDeadline), so that ending their sessions does not wait for the write timeout.
	for _, c := range conns {
		_ = c.nc.SetWriteDeadline(time.Now().Add(shutdownWriteTimeout))
	}
	for _, ss := range sessions {
		ss.close("server shutting down")
	}
	for _, c := range conns {
		c.close()
	}
	s.udp.close()
	if s.multicast != nil {
		s.multicast.close()
	}
	s.wg.Wait()
}

// Viewers returns the counters of every playing session.
func (s *Server) Viewers() []ViewerStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]ViewerStats, 0, len(s.sessions))
	for _, ss := range s.sessions {
		if st, ok := ss.stats(); ok {
			out = append(out, st)
		}
	}
	return out
}

// SessionCount is the number of sessions set up (playing or not).
func (s *Server) SessionCount() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.sessions)
}

func (s *Server) newSessionID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return strings.ToUpper(hex.EncodeToString(b[:]))
}

// addSession registers ss unless the viewer limit is reached. At the limit, a UDP viewer
// held for silence (see session.hold) gives up its place, the one held longest first: it has
// been gone for RTCPTimeout at least and would keep the place to the session timeout, while
// someone is asking to watch now.
func (s *Server) addSession(ss *session) bool {
	// A few tries: the chosen one may be heard from, or end, before it is ended here.
	for range 3 {
		added, held := s.tryAddSession(ss)
		if added {
			return true
		}
		if held == nil {
			return false
		}
		held.giveUpSlot() // outside s.mu: ending a session takes it
	}
	return false
}

// tryAddSession registers ss if there is room; if not, it returns the session held longest,
// if any.
func (s *Server) tryAddSession(ss *session) (added bool, held *session) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ctx.Err() != nil {
		return false, nil
	}
	if len(s.sessions) < s.cfg.MaxViewers {
		s.sessions[ss.id] = ss
		return true, nil
	}
	var oldest time.Time
	for _, other := range s.sessions {
		if since := other.heldSince(); !since.IsZero() && (held == nil || since.Before(oldest)) {
			held, oldest = other, since
		}
	}
	return false, held
}

func (s *Server) session(id string) *session {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessions[id]
}

func (s *Server) removeSession(ss *session) {
	s.mu.Lock()
	delete(s.sessions, ss.id)
	s.mu.Unlock()
}

func (s *Server) removeConn(c *conn) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.conns[c]; !ok {
		return
	}
	delete(s.conns, c)
	if s.byHost[c.host]--; s.byHost[c.host] <= 0 {
		delete(s.byHost, c.host)
	}
}

// hostConnSlack is how many connections one address may hold beyond MaxViewers: a host that
// fills every viewer slot can still probe (OPTIONS, DESCRIBE) and reconnect.
const hostConnSlack = 8

// reapSessions ends sessions whose client stopped sending keep-alives. Sessions bound to an
// open TCP connection are kept alive by the connection itself.
func (s *Server) reapSessions(ctx context.Context) {
	// Every second at most: a viewer found unreachable is ended within a second or so of
	// unreachableGrace.
	t := time.NewTicker(min(s.cfg.SessionTimeout/4, s.cfg.RTCPTimeout/4, time.Second))
	defer t.Stop()
	type verdict struct {
		ss     *session
		what   keepAlive
		reason string
	}
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			var due []verdict
			s.mu.Lock()
			for _, ss := range s.sessions {
				if what, reason := ss.expiry(now, &s.cfg); what != keepAliveOK {
					due = append(due, verdict{ss, what, reason})
				}
			}
			s.mu.Unlock()
			for _, v := range due {
				switch v.what {
				case keepAliveExpired:
					v.ss.close(v.reason) // its "viewer left" line gives the reason
				case keepAliveSilent:
					if v.ss.hold(now, s.cfg.RTCPTimeout) {
						endsIn := s.cfg.SessionTimeout - time.Duration(v.ss.clock(now)-v.ss.lastSeen.Load())
						s.log.Info("viewer silent; holding its stream until it is heard from again",
							"session", v.ss.id, "remote", v.ss.remote, "reason", v.reason, "ends_in", endsIn.Round(time.Second))
					}
				case keepAliveHeardFrom:
					if v.ss.resume() {
						s.log.Info("viewer heard from again; its stream resumes", "session", v.ss.id, "remote", v.ss.remote)
					}
				}
			}
		}
	}
}
