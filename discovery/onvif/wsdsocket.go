package onvif

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"

	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"

	"github.com/camerad/camerad/discovery"
)

// wsdPort and wsdGroup are SOAP-over-UDP's (WS-Discovery §2.4).
const wsdPort = 3702

var wsdGroup = &net.UDPAddr{IP: net.IPv4(239, 255, 255, 250), Port: wsdPort}

// maxDatagram bounds what is read: real probes are under 1 KB (libonvif's buffer is 1 KB,
// python's and Windows' are a little more). Anything longer is not parsed at all, so a
// flood of large datagrams costs no XML parsing.
const maxDatagram = 8 << 10

// wsdSocket is the one IPv4 socket on :3702: it receives multicast probes from every
// joined interface and unicast probes, and sends answers and announcements.
type wsdSocket struct {
	pc     *ipv4.PacketConn
	joined map[int]bool // interface indexes whose group membership is in place
}

// listenWSD binds 0.0.0.0:3702 with SO_REUSEADDR and SO_REUSEPORT, so that wsdd or another
// WS-Discovery daemon on the same host keeps working: each socket gets every multicast
// datagram. (Unicast probes to a shared port reach only one of them; clients probe by
// multicast.)
func listenWSD(ctx context.Context) (*wsdSocket, error) {
	lc := net.ListenConfig{Control: discovery.ReusePort}
	c, err := lc.ListenPacket(ctx, "udp4", fmt.Sprintf("0.0.0.0:%d", wsdPort))
	if err != nil {
		return nil, fmt.Errorf("listen udp4 :%d: %w", wsdPort, err)
	}
	pc := ipv4.NewPacketConn(c)
	// The interface a datagram came in on tells which of our addresses to hand out; its
	// destination tells multicast probes (answered after a random delay) from unicast.
	if err := pc.SetControlMessage(ipv4.FlagInterface|ipv4.FlagDst, true); err != nil {
		c.Close()
		return nil, fmt.Errorf("ask for packet info: %w", err)
	}
	// Hello and Bye stay on the link (SOAP-over-UDP: TTL 1); that is the default, said
	// here so that it cannot change under us.
	if err := pc.SetMulticastTTL(1); err != nil {
		c.Close()
		return nil, fmt.Errorf("set multicast ttl: %w", err)
	}
	return &wsdSocket{pc: pc, joined: map[int]bool{}}, nil
}

// join adds the group on an interface. Joining again (the interface got a second address)
// is harmless: the kernel says EADDRINUSE.
func (s *wsdSocket) join(l discovery.Link) error {
	ifc, err := net.InterfaceByIndex(l.Index)
	if err != nil {
		return fmt.Errorf("interface %s: %w", l.Name, err)
	}
	if err := s.pc.JoinGroup(ifc, wsdGroup); err != nil && !errors.Is(err, unix.EADDRINUSE) {
		return fmt.Errorf("join %s on %s: %w", wsdGroup.IP, l.Name, err)
	}
	s.joined[l.Index] = true
	return nil
}

// send writes b to dst out of interface ifIndex from src, so that the receiver sees the
// address the answer's XAddrs name, whatever the routing table prefers.
func (s *wsdSocket) send(b []byte, ifIndex int, src netip.Addr, dst *net.UDPAddr) error {
	cm := &ipv4.ControlMessage{IfIndex: ifIndex}
	if src.Is4() {
		cm.Src = src.AsSlice()
	}
	_, err := s.pc.WriteTo(b, cm, dst)
	return err
}

func (s *wsdSocket) close() error { return s.pc.Close() }
