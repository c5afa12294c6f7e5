package rtspsrv

import (
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
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
	rtpAddr := &net.UDPAddr{IP: ip.AsSlice(), Port: int(addr.Port())}
	rtpRaw, _ := newRawAddr(rtpAddr) // an IPv4 address always converts
	return &multicastGroup{
		udp:   udp,
		addr:  addr,
		probe: probe,
		sender: &session{
			id:     "multicast",
			srv:    s,
			remote: addr.String(),
			lower:  LowerMulticast,
			state:  stateReady,
			epoch:  time.Now(),
			dest: udpDest{
				rtp:    rtpAddr,
				rtcp:   &net.UDPAddr{IP: ip.AsSlice(), Port: int(addr.Port()) + 1},
				rtpRaw: rtpRaw,
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

// close closes the probe socket, once: its number may be another file's afterwards.
func (g *multicastGroup) close() {
	g.probeMu.Lock()
	defer g.probeMu.Unlock()
	if g.probe >= 0 {
		unix.Close(g.probe)
		g.probe = -1
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
	g.udp.sendRTCP(g.sender.dest.rtcp, appendBye(make([]byte, 0, 64), g.sender.v, g.sender.srv.cfg.CNAME))
}
