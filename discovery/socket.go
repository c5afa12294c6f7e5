package discovery

import (
	"context"
	"errors"
	"fmt"
	"net"
	"syscall"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
)

// mdnsPort is the mDNS port; every mDNS response is sent from it (RFC 6762
// §6) and receivers such as avahi drop responses from any other port.
const mdnsPort = 5353

var (
	groupV4 = &net.UDPAddr{IP: net.IPv4(224, 0, 0, 251), Port: mdnsPort}
	groupV6 = &net.UDPAddr{IP: net.ParseIP("ff02::fb"), Port: mdnsPort}
)

// reusePort lets several sockets on the host bind 5353 at once: avahi-daemon's
// (which sets both options too) and ours. Multicast datagrams are then
// delivered to every one of them.
func reusePort(_, _ string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) {
		if serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); serr != nil {
			return
		}
		serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
	})
	if err != nil {
		return err
	}
	return serr
}

// listenMDNS opens UDP sockets on port 5353 for IPv4 and, where the kernel
// has IPv6, for IPv6. It does not join any group. Sent packets get IP TTL /
// hop limit 255 as RFC 6762 §11 requires.
func listenMDNS(ctx context.Context) (*ipv4.PacketConn, *ipv6.PacketConn, error) {
	lc := net.ListenConfig{Control: reusePort}
	c4, err := lc.ListenPacket(ctx, "udp4", fmt.Sprintf("0.0.0.0:%d", mdnsPort))
	if err != nil {
		return nil, nil, fmt.Errorf("listen udp4 :%d: %w", mdnsPort, err)
	}
	p4 := ipv4.NewPacketConn(c4)
	if err := p4.SetMulticastTTL(255); err != nil {
		c4.Close()
		return nil, nil, fmt.Errorf("set multicast ttl: %w", err)
	}
	if err := p4.SetTTL(255); err != nil {
		c4.Close()
		return nil, nil, fmt.Errorf("set ttl: %w", err)
	}

	c6, err := lc.ListenPacket(ctx, "udp6", fmt.Sprintf("[::]:%d", mdnsPort))
	if err != nil {
		// A kernel booted with ipv6.disable=1 has no AF_INET6; IPv4 alone is
		// a working responder.
		if errors.Is(err, unix.EAFNOSUPPORT) || errors.Is(err, unix.EADDRNOTAVAIL) {
			return p4, nil, nil
		}
		c4.Close()
		return nil, nil, fmt.Errorf("listen udp6 :%d: %w", mdnsPort, err)
	}
	p6 := ipv6.NewPacketConn(c6)
	if err := p6.SetMulticastHopLimit(255); err != nil {
		c4.Close()
		c6.Close()
		return nil, nil, fmt.Errorf("set multicast hop limit: %w", err)
	}
	if err := p6.SetHopLimit(255); err != nil {
		c4.Close()
		c6.Close()
		return nil, nil, fmt.Errorf("set hop limit: %w", err)
	}
	return p4, p6, nil
}
