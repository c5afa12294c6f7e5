package rtspsrv

import (
	"fmt"
	"net"
	"net/netip"
	"os"
	"sync"

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

	mu     sync.RWMutex // read-held around every system call so Close cannot reuse the fd under it
	closed bool
}

// listenRawUDP binds a blocking IPv4 UDP socket to port.
func listenRawUDP(port int) (*rawUDPConn, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.IPPROTO_UDP)
	if err != nil {
		return nil, fmt.Errorf("UDP socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrInet4{Port: port}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("bind UDP port %d: %w", port, err)
	}
	return &rawUDPConn{fd: fd, local: &net.UDPAddr{IP: net.IPv4zero, Port: port}}, nil
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
		if sa4, ok := sa.(*unix.SockaddrInet4); ok {
			from = netip.AddrPortFrom(netip.AddrFrom4(sa4.Addr), uint16(sa4.Port))
		}
		return nil
	})
	return n, from, err
}

// Close shuts the socket and wakes a reader blocked in it.
func (c *rawUDPConn) Close() error {
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

func (c *rawUDPConn) LocalAddr() net.Addr { return c.local }

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
