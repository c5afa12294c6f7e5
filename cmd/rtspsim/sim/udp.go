package sim

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// udpRecvBuffer is the socket receive buffer asked for per socket. A keyframe arrives as a
// burst of dozens of packets; with a hundred sessions on a busy two-core machine the default
// buffer overflows before the reader runs, and the tool would report its own drops as loss.
const udpRecvBuffer = 2 << 20

// udpPair is the RTP and RTCP sockets of one track.
type udpPair struct {
	rtp, rtcp *net.UDPConn
	// serverRTCP is where receiver reports go (invalid when the server named no port).
	serverRTCP netip.AddrPort
}

// listenUDPPair binds an even RTP port and the odd RTCP port above it on ip, as RFC 3550
// recommends and many servers require.
func listenUDPPair(ip net.IP) (*udpPair, error) {
	var lastErr error
	for range 64 {
		a, err := net.ListenUDP("udp", &net.UDPAddr{IP: ip})
		if err != nil {
			return nil, fmt.Errorf("listen udp on %v: %w", ip, err)
		}
		port := a.LocalAddr().(*net.UDPAddr).Port
		if port%2 != 0 || port == 65535 {
			a.Close()
			continue
		}
		b, err := net.ListenUDP("udp", &net.UDPAddr{IP: ip, Port: port + 1})
		if err != nil {
			a.Close()
			lastErr = err
			continue
		}
		growRecvBuffer(a)
		growRecvBuffer(b)
		return &udpPair{rtp: a, rtcp: b}, nil
	}
	return nil, fmt.Errorf("no free even/odd UDP port pair on %v: %w", ip, lastErr)
}

// listenMulticastPair joins group on the RTP and RTCP ports the server named.
func listenMulticastPair(group netip.Addr, ports [2]int, ifi *net.Interface) (*udpPair, error) {
	a, err := net.ListenMulticastUDP("udp", ifi, &net.UDPAddr{IP: group.AsSlice(), Port: ports[0]})
	if err != nil {
		return nil, fmt.Errorf("join %v port %d: %w", group, ports[0], err)
	}
	b, err := net.ListenMulticastUDP("udp", ifi, &net.UDPAddr{IP: group.AsSlice(), Port: ports[1]})
	if err != nil {
		a.Close()
		return nil, fmt.Errorf("join %v port %d: %w", group, ports[1], err)
	}
	growRecvBuffer(a)
	growRecvBuffer(b)
	return &udpPair{rtp: a, rtcp: b}, nil
}

// growRecvBuffer asks for udpRecvBuffer bytes, past net.core.rmem_max when running as root
// (SO_RCVBUFFORCE), and otherwise settles for what the kernel grants.
func growRecvBuffer(c *net.UDPConn) {
	raw, err := c.SyscallConn()
	if err == nil {
		var serr error
		err = raw.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, udpRecvBuffer)
		})
		if err == nil && serr == nil {
			return
		}
	}
	_ = c.SetReadBuffer(udpRecvBuffer)
}

func (p *udpPair) close() {
	p.rtp.Close()
	p.rtcp.Close()
}

// readLoop delivers datagrams from c to handle until c is closed. One buffer per socket,
// reused: the handlers do not keep it.
func readLoop(c *net.UDPConn, handle func([]byte, time.Time)) {
	buf := make([]byte, 65536)
	for {
		n, err := c.Read(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// ICMP port unreachable from an earlier send shows up here on Linux; it is
			// not fatal for a receiving socket.
			if errors.Is(err, syscall.ECONNREFUSED) {
				continue
			}
			return
		}
		handle(buf[:n], time.Now())
	}
}
