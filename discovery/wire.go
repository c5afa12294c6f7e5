package discovery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"sync"

	"golang.org/x/net/dns/dnsmessage"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// maxPacket bounds what we read; mDNS packets fit the link MTU (RFC 6762 §17)
// and 9000 covers jumbo frames.
const maxPacket = 9000

// packet is one parsed mDNS message and where it came from.
type packet struct {
	msg     dnsmessage.Message
	ifIndex int
	src     netip.AddrPort
	// direct is set for a packet sent to one of our addresses rather than to the mDNS group.
	direct bool
	// linkLocal is set when the packet cannot have crossed a router: it was sent to the
	// group (224.0.0.251 and ff02::fb are never forwarded) or arrived with TTL 255, which
	// every hop lowers (RFC 6762 §11).
	linkLocal bool
}

// wire is the responder's mDNS socket pair, one per address family. They
// share port 5353 with any other responder on the host (avahi-daemon), by
// SO_REUSEPORT, and each receives every multicast datagram.
type wire struct {
	v4  *ipv4.PacketConn
	v6  *ipv6.PacketConn
	log *slog.Logger

	in chan packet
	wg sync.WaitGroup
}

// openWire binds 5353, joins the mDNS groups on every link and starts readers.
func openWire(ctx context.Context, links snapshot, log *slog.Logger) (*wire, error) {
	v4, v6, err := listenMDNS(ctx)
	if err != nil {
		return nil, err
	}
	w := &wire{v4: v4, v6: v6, log: log, in: make(chan packet, 64)}
	joined := 0
	for _, l := range links {
		ifc := l.ifc
		if l.hasV4() {
			if err := v4.JoinGroup(&ifc, groupV4); err != nil {
				log.Warn("mdns: join IPv4 group", "iface", ifc.Name, "err", err)
			} else {
				joined++
			}
		}
		if v6 != nil && l.hasV6() {
			if err := v6.JoinGroup(&ifc, groupV6); err != nil {
				log.Warn("mdns: join IPv6 group", "iface", ifc.Name, "err", err)
			} else {
				joined++
			}
		}
	}
	if joined == 0 {
		w.closeConns()
		return nil, errors.New("join mDNS group: no interface accepted it")
	}
	if err := v4.SetControlMessage(ipv4.FlagInterface|ipv4.FlagDst|ipv4.FlagTTL, true); err != nil {
		w.closeConns()
		return nil, fmt.Errorf("enable IP_PKTINFO and IP_RECVTTL: %w", err)
	}
	w.wg.Add(1)
	go w.read4()
	if v6 != nil {
		if err := v6.SetControlMessage(ipv6.FlagInterface|ipv6.FlagDst|ipv6.FlagHopLimit, true); err != nil {
			w.close()
			return nil, fmt.Errorf("enable IPV6_RECVPKTINFO and IPV6_RECVHOPLIMIT: %w", err)
		}
		w.wg.Add(1)
		go w.read6()
	}
	return w, nil
}

func (w *wire) read4() {
	defer w.wg.Done()
	buf := make([]byte, maxPacket)
	for {
		n, cm, src, err := w.v4.ReadFrom(buf)
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				w.log.Warn("mdns: read udp4", "err", err)
			}
			return
		}
		var to arrival
		if cm != nil {
			to = arrival{ifIndex: cm.IfIndex, group: cm.Dst.IsMulticast(), ttl: cm.TTL}
		}
		w.deliver(buf[:n], to, src)
	}
}

func (w *wire) read6() {
	defer w.wg.Done()
	buf := make([]byte, maxPacket)
	for {
		n, cm, src, err := w.v6.ReadFrom(buf)
		if err != nil {
			if !errors.Is(err, net.ErrClosed) {
				w.log.Warn("mdns: read udp6", "err", err)
			}
			return
		}
		var to arrival
		if cm != nil {
			to = arrival{ifIndex: cm.IfIndex, group: cm.Dst.IsMulticast(), ttl: cm.HopLimit}
		}
		w.deliver(buf[:n], to, src)
	}
}

// arrival is what the kernel tells of how a datagram came in.
type arrival struct {
	ifIndex int
	group   bool // sent to the mDNS group, not to one of our addresses
	ttl     int  // its IP TTL or hop limit on arrival
}

// deliver parses b and hands it to the run loop. Malformed packets are
// dropped: anything on the LAN can send to 5353.
func (w *wire) deliver(b []byte, to arrival, src net.Addr) {
	ua, ok := src.(*net.UDPAddr)
	if !ok {
		return
	}
	var p packet
	if err := p.msg.Unpack(b); err != nil {
		w.log.Debug("mdns: drop malformed packet", "from", ua, "err", err)
		return
	}
	p.ifIndex = to.ifIndex
	p.src = ua.AddrPort()
	p.direct = !to.group
	p.linkLocal = to.group || to.ttl == 255
	// The run loop drains this channel; if it is ever behind by 64 packets
	// we drop rather than stall the socket, which mDNS tolerates (queries and
	// announcements are repeated).
	select {
	case w.in <- p:
	default:
		w.log.Debug("mdns: drop packet, run loop busy", "from", ua)
	}
}

// send multicasts msg on link l, over IPv4 and/or IPv6 depending on which
// addresses l has.
func (w *wire) send(l link, msg *dnsmessage.Message) error {
	b, err := msg.Pack()
	if err != nil {
		return fmt.Errorf("pack mDNS message: %w", err)
	}
	var errs []error
	if l.hasV4() {
		errs = append(errs, w.multicast(l, false, b))
	}
	if l.hasV6() {
		errs = append(errs, w.multicast(l, true, b))
	}
	return errors.Join(errs...)
}

// sendFamily multicasts msg on link l over one address family: an answer
// goes back the way its question came.
func (w *wire) sendFamily(l link, v6 bool, msg *dnsmessage.Message) error {
	b, err := msg.Pack()
	if err != nil {
		return fmt.Errorf("pack mDNS message: %w", err)
	}
	return w.multicast(l, v6, b)
}

func (w *wire) multicast(l link, v6 bool, b []byte) error {
	var err error
	switch {
	case !v6:
		_, err = w.v4.WriteTo(b, &ipv4.ControlMessage{IfIndex: l.ifc.Index}, groupV4)
	case w.v6 != nil:
		_, err = w.v6.WriteTo(b, &ipv6.ControlMessage{IfIndex: l.ifc.Index}, groupV6)
	default:
		return nil // no IPv6 in this kernel
	}
	if err != nil {
		family := map[bool]string{false: "IPv4", true: "IPv6"}[v6]
		return fmt.Errorf("send on %s (%s): %w", l.ifc.Name, family, err)
	}
	return nil
}

// sendUnicast answers a legacy (non-5353) querier directly (RFC 6762 §6.7).
func (w *wire) sendUnicast(dst netip.AddrPort, msg *dnsmessage.Message) error {
	b, err := msg.Pack()
	if err != nil {
		return fmt.Errorf("pack mDNS message: %w", err)
	}
	ua := net.UDPAddrFromAddrPort(dst)
	if dst.Addr().Is4() || dst.Addr().Is4In6() {
		_, err = w.v4.WriteTo(b, nil, ua)
	} else if w.v6 != nil {
		_, err = w.v6.WriteTo(b, nil, ua)
	}
	if err != nil {
		return fmt.Errorf("send to %s: %w", dst, err)
	}
	return nil
}

func (w *wire) closeConns() {
	w.v4.Close()
	if w.v6 != nil {
		w.v6.Close()
	}
}

// close stops the readers and waits for them.
func (w *wire) close() {
	w.closeConns()
	w.wg.Wait()
}
