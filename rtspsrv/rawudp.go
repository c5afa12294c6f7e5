package rtspsrv

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// rawUDPConn is the RTP socket, kept out of Go's network poller on purpose.
//
// Go registers every socket it manages for write readiness (EPOLLOUT, edge-triggered). For a
// UDP socket that makes the kernel wake the poller thread each time a sent datagram is freed
// (sock_wfree -> write space -> epoll): on loopback that is at transmit, on a NIC at transmit
// completion. The fan-out sends thousands of datagrams a second, and each of those wake-ups
// is a futile context switch: at 100 UDP viewers they took the server from about 12 to 115
// context switches per frame. A blocking socket that nobody polls for writing has no such
// waiter; a thread blocked reading it is not woken by write space either.
type rawUDPConn struct {
	fd    int
	local *net.UDPAddr

	mu      sync.RWMutex // read-held around every system call so Close cannot reuse the fd under it
	closed  bool
	closing atomic.Bool // Close has begun: a second one must not shut down whatever fd has the number now
}

// listenRawUDP binds a blocking UDP socket of family (unix.AF_INET, or unix.AF_INET6 for
// IPv6 only) to ip (every address when it is not valid) and port. IPv4 viewers, nearly all of them, keep a plain IPv4 socket rather than
// v4-mapped addresses on a dual-stack one, which the kernel would route through its IPv6
// send path first.
// Each of opts is applied to the socket before it is bound.
func listenRawUDP(family int, ip netip.Addr, port int, opts ...func(fd int) error) (*rawUDPConn, error) {
	fd, err := unix.Socket(family, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.IPPROTO_UDP)
	if err != nil {
		return nil, fmt.Errorf("UDP socket: %w", err)
	}
	for _, opt := range opts {
		if err := opt(fd); err != nil {
			unix.Close(fd)
			return nil, fmt.Errorf("UDP socket: %w", err)
		}
	}
	// IP_RECVERR queues the ICMP errors our datagrams draw (port or host unreachable) with
	// their destinations, so that a viewer that vanished can be told apart: see drainErrors.
	level, opt := unix.IPPROTO_IP, unix.IP_RECVERR
	if family == unix.AF_INET6 {
		level, opt = unix.IPPROTO_IPV6, unix.IPV6_RECVERR
	}
	if err := unix.SetsockoptInt(fd, level, opt, 1); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("UDP socket: RECVERR: %w", err)
	}
	var sa unix.Sockaddr
	local := &net.UDPAddr{Port: port}
	if family == unix.AF_INET {
		sa4 := &unix.SockaddrInet4{Port: port}
		local.IP = net.IPv4zero
		if ip.IsValid() {
			sa4.Addr, local.IP = ip.As4(), ip.AsSlice()
		}
		sa = sa4
	} else {
		if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, 1); err != nil {
			unix.Close(fd)
			return nil, fmt.Errorf("UDP socket: IPV6_V6ONLY: %w", err)
		}
		sa6 := &unix.SockaddrInet6{Port: port}
		local.IP = net.IPv6unspecified
		if ip.IsValid() {
			sa6.Addr, local.IP = ip.As16(), ip.AsSlice()
			if ip.Zone() != "" {
				if ifi, err := net.InterfaceByName(ip.Zone()); err == nil {
					sa6.ZoneId = uint32(ifi.Index)
				}
			}
		}
		sa = sa6
	}
	if err := unix.Bind(fd, sa); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("bind UDP port %d: %w", port, err)
	}
	return &rawUDPConn{fd: fd, local: local}, nil
}

// rawAddr is a destination as sendmmsg takes it: a sockaddr_in for an IPv4 viewer (for the
// IPv4 socket), a sockaddr_in6 for an IPv6 one (for the IPv6 socket).
type rawAddr struct {
	sa   unix.RawSockaddrInet6 // or a RawSockaddrInet4 in its first bytes
	len  uint32
	ipv6 bool
}

// newRawAddr converts addr; ok is false for an address it cannot express (an unknown zone).
func newRawAddr(addr *net.UDPAddr) (ra *rawAddr, ok bool) {
	ip, valid := netip.AddrFromSlice(addr.IP)
	if !valid {
		return nil, false
	}
	ip = ip.Unmap()
	ra = &rawAddr{}
	port := [2]byte{byte(addr.Port >> 8), byte(addr.Port)} // network byte order
	if ip.Is4() {
		sa4 := (*unix.RawSockaddrInet4)(unsafe.Pointer(&ra.sa))
		sa4.Family = unix.AF_INET
		sa4.Port = *(*uint16)(unsafe.Pointer(&port))
		sa4.Addr = ip.As4()
		ra.len = unix.SizeofSockaddrInet4
		return ra, true
	}
	ra.sa.Family = unix.AF_INET6
	ra.sa.Port = *(*uint16)(unsafe.Pointer(&port))
	ra.sa.Addr = ip.As16()
	if addr.Zone != "" { // a link-local address means nothing without its interface
		ifi, err := net.InterfaceByName(addr.Zone)
		if err != nil {
			return nil, false
		}
		ra.sa.Scope_id = uint32(ifi.Index)
	}
	ra.len, ra.ipv6 = unix.SizeofSockaddrInet6, true
	return ra, true
}

var errRawClosed = fmt.Errorf("raw UDP socket: %w", net.ErrClosed)

// do runs f on the descriptor unless the socket is closed.
func (c *rawUDPConn) do(f func(fd int) error) error {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.closed {
		return errRawClosed
	}
	return f(c.fd)
}

// setWriteBuffer asks for a send buffer of n bytes (capped by net.core.wmem_max).
func (c *rawUDPConn) setWriteBuffer(n int) error {
	return c.do(func(fd int) error { return unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, n) })
}

// readFromAddrPort blocks until a datagram arrives or Close shuts the socket.
func (c *rawUDPConn) readFromAddrPort(b []byte) (int, netip.AddrPort, error) {
	var n int
	var from netip.AddrPort
	err := c.do(func(fd int) error {
		var sa unix.Sockaddr
		var err error
		n, sa, err = unix.Recvfrom(fd, b, 0)
		if err != nil {
			return os.NewSyscallError("recvfrom", err)
		}
		from = sockaddrAddrPort(sa)
		return nil
	})
	return n, from, err
}

// drainErrors reads the socket's error queue and calls fn with the destination of every
// datagram that drew "port unreachable", "host unreachable" or "network unreachable". The
// kernel reports a queued error to the next receive (and, once, to the next send); the
// reader then drains the queue here.
func (c *rawUDPConn) drainErrors(fn func(dest netip.AddrPort)) {
	var b [64]byte
	var oob [512]byte
	for {
		var dest netip.AddrPort
		var errno unix.Errno
		err := c.do(func(fd int) error {
			_, oobn, _, from, err := unix.Recvmsg(fd, b[:], oob[:], unix.MSG_ERRQUEUE|unix.MSG_DONTWAIT)
			if err != nil {
				return err
			}
			dest = sockaddrAddrPort(from)
			msgs, err := unix.ParseSocketControlMessage(oob[:oobn])
			if err != nil {
				return nil
			}
			for _, m := range msgs {
				isErr := m.Header.Level == unix.IPPROTO_IP && m.Header.Type == unix.IP_RECVERR ||
					m.Header.Level == unix.IPPROTO_IPV6 && m.Header.Type == unix.IPV6_RECVERR
				if isErr && len(m.Data) >= int(unsafe.Sizeof(unix.SockExtendedErr{})) {
					errno = unix.Errno((*unix.SockExtendedErr)(unsafe.Pointer(&m.Data[0])).Errno)
				}
			}
			return nil
		})
		if err != nil {
			return // EAGAIN: drained; or closed
		}
		switch errno {
		case unix.ECONNREFUSED, unix.EHOSTUNREACH, unix.ENETUNREACH:
			if dest.IsValid() {
				fn(dest)
			}
		}
	}
}

// sockaddrAddrPort converts a received address (IPv4-mapped IPv6 unmapped, IPv6 zones as
// interface names, as Go's own sockets report them).
func sockaddrAddrPort(sa unix.Sockaddr) netip.AddrPort {
	switch sa := sa.(type) {
	case *unix.SockaddrInet4:
		return netip.AddrPortFrom(netip.AddrFrom4(sa.Addr), uint16(sa.Port))
	case *unix.SockaddrInet6:
		ip := netip.AddrFrom16(sa.Addr).Unmap()
		if sa.ZoneId != 0 {
			if ifi, err := net.InterfaceByIndex(int(sa.ZoneId)); err == nil {
				ip = ip.WithZone(ifi.Name)
			}
		}
		return netip.AddrPortFrom(ip, uint16(sa.Port))
	}
	return netip.AddrPort{}
}

// Close shuts the socket and wakes a reader blocked in it.
func (c *rawUDPConn) Close() error {
	if c.closing.Swap(true) {
		return errRawClosed
	}
	// Shutdown wakes a blocked reader now; it fails with ENOTCONN on an unconnected socket,
	// but wakes it all the same.
	_ = unix.Shutdown(c.fd, unix.SHUT_RDWR)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return errRawClosed
	}
	c.closed = true
	return unix.Close(c.fd)
}

// sendmmsg sends what one call of w takes of ds; see mmsgWriter.send.
func (c *rawUDPConn) sendmmsg(w *mmsgWriter, ds []datagram, wait bool) (int, error) {
	var n int
	err := c.do(func(fd int) error {
		var err error
		n, err = w.send(fd, ds, wait)
		return err
	})
	return n, err
}
