package rtspsrv

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// multicastTTL keeps the group's packets on the camera's own network: the stream is for the
// LAN, and a router must not carry it further.
const multicastTTL = 1

// multicastGroup serves every multicast viewer with one stream sent to a group address: the
// camera sends each packet once however many viewers there are, and the network copies it.
// To the UDP sender the group is one more viewer, whose address is the group's. It sends
// while at least one multicast session plays, and says RTCP BYE to the group when the last
// one stops.
type multicastGroup struct {
	udp    *udpSender
	addr   netip.AddrPort // group and RTP port; RTCP is the next port
	sender *session       // the group as the UDP sender sees it; never in the session table

	mu      sync.Mutex
	playing int // multicast sessions playing

	probeMu sync.Mutex
	probe   int // an unbound UDP socket, for routable

	own multicastSockets // the group's own ports to send from; zero if they could not be had
}

// newMulticastGroup checks that addr can be the group, next to the UDP ports of udp.
func newMulticastGroup(s *Server, udp *udpSender, addr netip.AddrPort) (*multicastGroup, error) {
	ip := addr.Addr()
	switch {
	case !ip.Is4() || !ip.IsMulticast():
		return nil, fmt.Errorf("multicast group %s: not an IPv4 multicast address (224.0.0.0/4)", ip)
	case ip.IsLinkLocalMulticast():
		return nil, fmt.Errorf("multicast group %s: 224.0.0.0/24 is reserved for routing protocols", ip)
	case addr.Port() == 0 || addr.Port()%2 != 0:
		return nil, fmt.Errorf("multicast port %d: the RTP port must be even (RTCP is the next one)", addr.Port())
	case int(addr.Port()) == udp.ports[0]:
		// Linux hands a group's datagrams to every socket bound to the port on any address,
		// the server's own RTP socket included.
		return nil, fmt.Errorf("multicast port %d: the server's UDP ports are %d-%d; the group needs other ones",
			addr.Port(), udp.ports[0], udp.ports[1])
	case udp.rtp == nil:
		return nil, fmt.Errorf("multicast group %s: the UDP ports are bound to an IPv6 address", ip)
	}
	if err := udp.rtp.do(func(fd int) error {
		return unix.SetsockoptInt(fd, unix.IPPROTO_IP, unix.IP_MULTICAST_TTL, multicastTTL)
	}); err != nil {
		return nil, fmt.Errorf("multicast TTL: %w", err)
	}
	probe, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("multicast route probe: %w", err)
	}
	own, err := listenMulticastSockets(addr)
	if err != nil {
		s.log.Warn("multicast: the group's own ports are taken; sending from the server's UDP ports, whose packets gortsplib-based clients (mediamtx) ignore",
			"group", addr, "err", err)
	}
	rtpAddr := &net.UDPAddr{IP: ip.AsSlice(), Port: int(addr.Port())}
	rtpRaw, _ := newRawAddr(rtpAddr) // an IPv4 address always converts
	return &multicastGroup{
		udp:   udp,
		addr:  addr,
		probe: probe,
		own:   own,
		sender: &session{
			id:     "multicast",
			srv:    s,
			remote: addr.String(),
			lower:  LowerMulticast,
			state:  stateReady,
			epoch:  time.Now(),
			dest: udpDest{
				rtp:      rtpAddr,
				rtcp:     &net.UDPAddr{IP: ip.AsSlice(), Port: int(addr.Port()) + 1},
				rtpRaw:   rtpRaw,
				rtpFrom:  own.rtp,
				rtcpFrom: own.rtcp,
			},
			v: &viewer{ssrc: rand.Uint32(), seq: uint16(rand.Uint32()), anchorTS: rand.Uint32()},
		},
	}, nil
}

// routable reports whether the kernel has a route for the group now. A camera with no default
// route (a static address without a gateway, say) and no multicast route would drop every
// packet for the group: the player is better told 461 at SETUP and left to try unicast.
// Connecting a UDP socket asks the routing table without sending anything; the socket was
// made with the server's, so it asks the server's network namespace.
func (g *multicastGroup) routable() bool {
	g.probeMu.Lock()
	defer g.probeMu.Unlock()
	if g.probe < 0 {
		return false // closed
	}
	sa := &unix.SockaddrInet4{Port: int(g.addr.Port()), Addr: g.addr.Addr().As4()}
	return unix.Connect(g.probe, sa) == nil
}

// close closes the probe socket, once (its number may be another file's afterwards), and the
// group's own ports.
func (g *multicastGroup) close() {
	g.probeMu.Lock()
	defer g.probeMu.Unlock()
	if g.probe >= 0 {
		unix.Close(g.probe)
		g.probe = -1
	}
	g.own.close()
}

// multicastSockets send the group's packets from the group's own ports: RTP from its port,
// RTCP from the next, as live555, gst-rtsp-server and mediamtx send theirs. gortsplib's
// client, and so mediamtx pulling a camera over multicast, drops multicast packets that come
// from any other port than the one the Transport names; ffmpeg and GStreamer take either.
// They are bound to the group address with SO_REUSEADDR, beside the players on the same
// host that bind the port to receive. Nothing reads them: their receive buffers are kept to
// the minimum, so that the group's packets looped back to the host cost no memory.
type multicastSockets struct {
	rtp  *rawUDPConn
	rtcp *net.UDPConn
}

func listenMulticastSockets(group netip.AddrPort) (multicastSockets, error) {
	var m multicastSockets
	var err error
	m.rtp, err = listenRawUDP(unix.AF_INET, group.Addr(), int(group.Port()), multicastSenderOptions)
	if err != nil {
		return multicastSockets{}, err
	}
	lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
		var optErr error
		if err := rc.Control(func(fd uintptr) { optErr = multicastSenderOptions(int(fd)) }); err != nil {
			return err
		}
		return optErr
	}}
	rtcpAddr := netip.AddrPortFrom(group.Addr(), group.Port()+1).String()
	pc, err := lc.ListenPacket(context.Background(), "udp4", rtcpAddr)
	if err != nil {
		m.rtp.Close()
		return multicastSockets{}, fmt.Errorf("bind %s: %w", rtcpAddr, err)
	}
	m.rtcp = pc.(*net.UDPConn)
	return m, nil
}

// multicastSenderOptions: shared with receivers on this host, TTL 1 (see multicastTTL), and a
// receive buffer as small as the kernel allows.
func multicastSenderOptions(fd int) error {
	for _, o := range []struct {
		level, opt, value int
		name              string
	}{
		{unix.SOL_SOCKET, unix.SO_REUSEADDR, 1, "SO_REUSEADDR"},
		{unix.IPPROTO_IP, unix.IP_MULTICAST_TTL, multicastTTL, "IP_MULTICAST_TTL"},
		{unix.SOL_SOCKET, unix.SO_RCVBUF, 1, "SO_RCVBUF"},
	} {
		if err := unix.SetsockoptInt(fd, o.level, o.opt, o.value); err != nil {
			return fmt.Errorf("%s: %w", o.name, err)
		}
	}
	return nil
}

func (m multicastSockets) close() {
	if m.rtp != nil {
		m.rtp.Close()
	}
	if m.rtcp != nil {
		m.rtcp.Close()
	}
}

// transport is the SETUP reply for a multicast viewer.
func (g *multicastGroup) transport() string {
	return formatMulticastTransport(g.addr, multicastTTL, g.sender.v.ssrc)
}

// join counts a session that starts playing and returns the RTP-Info values for its PLAY.
// The first one starts the group at the next keyframe, like a unicast viewer. Later ones
// join a running stream: the next sequence number is exact, the timestamp is where the
// group's clock stands now (the next frame's is a little later), and the caller asks the
// source for a keyframe so that they need not wait for the next one.
func (g *multicastGroup) join(now time.Time) (seq uint16, rtptime uint32) {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.playing++
	if g.playing > 1 {
		return g.udp.joinRunning(g.sender.v, now)
	}
	v := g.sender.v
	seq, rtptime = v.nextRTPInfo(now)
	g.sender.srv.stream.join(&v.cur)
	v.nextSR = now // the first frame goes with a report: players wait for one to sync
	g.udp.add(g.sender)
	return seq, rtptime
}

// leave counts a session that stops playing; the last one stops the group.
func (g *multicastGroup) leave() {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.playing--
	if g.playing > 0 {
		return
	}
	g.udp.remove(g.sender)
	g.udp.sendRTCP(g.sender.dest, appendBye(make([]byte, 0, 64), g.sender.v, g.sender.srv.cfg.CNAME))
}
