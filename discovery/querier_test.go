package discovery

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// querier is the independent resolver of the namespace tests: a raw IPv4
// socket on 5353 in the viewer namespace that sends mDNS questions and
// records every packet it sees on the group, answers and unsolicited
// announcements alike. It shares no code with the responder's send path.
type querier struct {
	t    *testing.T
	conn *ipv4.PacketConn
	ifc  *net.Interface

	mu   sync.Mutex
	seen []rxPacket
	wake chan struct{}
}

type rxPacket struct {
	msg dnsmessage.Message
	src netip.AddrPort
	at  time.Time // when the querier read it
}

func openQuerier(t *testing.T, ns, ifname string) *querier {
	t.Helper()
	q := &querier{t: t, wake: make(chan struct{}, 1)}
	err := inNetns(ns, func() error {
		ifc, err := net.InterfaceByName(ifname)
		if err != nil {
			return err
		}
		lc := net.ListenConfig{Control: reusePort}
		c, err := lc.ListenPacket(context.Background(), "udp4", "0.0.0.0:5353")
		if err != nil {
			return err
		}
		q.conn, q.ifc = ipv4.NewPacketConn(c), ifc
		if err := q.conn.JoinGroup(ifc, &net.UDPAddr{IP: net.IPv4(224, 0, 0, 251)}); err != nil {
			c.Close()
			return err
		}
		return q.conn.SetMulticastInterface(ifc)
	})
	if err != nil {
		t.Fatalf("open querier in %s: %v", ns, err)
	}
	q.listen(q.conn.PacketConn)
	return q
}

// listenIPv6 also records what arrives on the IPv6 group (ff02::fb) in
// namespace ns, in the same log.
func (q *querier) listenIPv6(ns string) {
	q.t.Helper()
	var c net.PacketConn
	err := inNetns(ns, func() error {
		lc := net.ListenConfig{Control: reusePort}
		var err error
		c, err = lc.ListenPacket(context.Background(), "udp6", "[::]:5353")
		if err != nil {
			return err
		}
		if err := ipv6.NewPacketConn(c).JoinGroup(q.ifc, &net.UDPAddr{IP: net.ParseIP("ff02::fb")}); err != nil {
			c.Close()
			return err
		}
		return nil
	})
	if err != nil {
		q.t.Fatalf("open IPv6 listener in %s: %v", ns, err)
	}
	q.listen(c)
}

// listen reads c into the log until the test ends.
func (q *querier) listen(c net.PacketConn) {
	done := make(chan struct{})
	go q.read(c, done)
	q.t.Cleanup(func() { c.Close(); <-done })
}

func (q *querier) read(c net.PacketConn, done chan struct{}) {
	defer close(done)
	buf := make([]byte, 9000)
	for {
		n, src, err := c.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		var m dnsmessage.Message
		if m.Unpack(buf[:n]) != nil {
			continue
		}
		ua := src.(*net.UDPAddr)
		q.mu.Lock()
		q.seen = append(q.seen, rxPacket{msg: m, src: ua.AddrPort(), at: time.Now()})
		q.mu.Unlock()
		select {
		case q.wake <- struct{}{}:
		default:
		}
	}
}

// mark returns a position in the packet log; waits look only after it.
func (q *querier) mark() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.seen)
}

// ask multicasts one question (QM, from port 5353, like a full mDNS querier).
func (q *querier) ask(name string, typ dnsmessage.Type) {
	q.t.Helper()
	m := dnsmessage.Message{Questions: []dnsmessage.Question{{
		Name: dnsmessage.MustNewName(name), Type: typ, Class: dnsmessage.ClassINET,
	}}}
	b, err := m.Pack()
	if err != nil {
		q.t.Fatal(err)
	}
	if _, err := q.conn.WriteTo(b, nil, &net.UDPAddr{IP: net.IPv4(224, 0, 0, 251), Port: 5353}); err != nil {
		q.t.Fatalf("send query: %v", err)
	}
}

// waitFor returns the first packet after position from that satisfies
// match. It calls poke (if not nil) at the start and then every second, to
// repeat a question the way a real resolver does. It fails the test after a
// generous deadline: this guards against hanging, it measures nothing.
func (q *querier) waitFor(from int, what string, poke func(), match func(rxPacket) bool) rxPacket {
	q.t.Helper()
	p, _ := q.waitAt(from, what, poke, match)
	return p
}

// waitAt is waitFor that also returns the packet's position in the log.
func (q *querier) waitAt(from int, what string, poke func(), match func(rxPacket) bool) (rxPacket, int) {
	q.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	next := time.Now()
	for {
		if poke != nil && !time.Now().Before(next) {
			poke()
			next = time.Now().Add(time.Second)
		}
		q.mu.Lock()
		for ; from < len(q.seen); from++ {
			if match(q.seen[from]) {
				p := q.seen[from]
				q.mu.Unlock()
				return p, from
			}
		}
		q.mu.Unlock()
		if time.Now().After(deadline) {
			q.t.Fatalf("never saw %s", what)
		}
		select {
		case <-q.wake:
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// matching returns the packets after from that satisfy match.
func (q *querier) matching(from int, match func(rxPacket) bool) []rxPacket {
	q.mu.Lock()
	defer q.mu.Unlock()
	var out []rxPacket
	for _, p := range q.seen[from:] {
		if match(p) {
			out = append(out, p)
		}
	}
	return out
}

// count returns how many packets after from satisfy match.
func (q *querier) count(from int, match func(rxPacket) bool) int {
	q.mu.Lock()
	defer q.mu.Unlock()
	n := 0
	for _, p := range q.seen[from:] {
		if match(p) {
			n++
		}
	}
	return n
}

// Record helpers for the matchers.

func rrs(m dnsmessage.Message) []dnsmessage.Resource {
	out := append([]dnsmessage.Resource{}, m.Answers...)
	return append(out, m.Additionals...)
}

func findRR(list []dnsmessage.Resource, name string, typ dnsmessage.Type) []dnsmessage.Resource {
	var out []dnsmessage.Resource
	for _, rr := range list {
		if rr.Header.Type == typ && strings.EqualFold(rr.Header.Name.String(), name) {
			out = append(out, rr)
		}
	}
	return out
}

func hasA(list []dnsmessage.Resource, name, addr string) (dnsmessage.Resource, bool) {
	want := netip.MustParseAddr(addr).As4()
	for _, rr := range findRR(list, name, dnsmessage.TypeA) {
		if rr.Body.(*dnsmessage.AResource).A == want {
			return rr, true
		}
	}
	return dnsmessage.Resource{}, false
}

// waitAnnounced waits for all of the responder's announcements after from: after them, the
// packets it sends are answers.
func (q *querier) waitAnnounced(from int, host, instance string) {
	q.t.Helper()
	seen := 0
	is := isAnnouncement(host, instance)
	q.waitFor(from, "the announcements", nil, func(p rxPacket) bool {
		if is(p) {
			seen++
		}
		return seen == announceCount
	})
}

// isAnnouncement: an unsolicited response carrying the whole record set in
// its answer section, as the responder announces (answers to a query put
// SRV/TXT/A in the additional section).
func isAnnouncement(host, instance string) func(rxPacket) bool {
	return func(p rxPacket) bool {
		m := p.msg
		return m.Header.Response && len(m.Questions) == 0 &&
			len(findRR(m.Answers, "_rtsp._tcp.local.", dnsmessage.TypePTR)) > 0 &&
			len(findRR(m.Answers, instance+"._rtsp._tcp.local.", dnsmessage.TypeSRV)) > 0 &&
			len(findRR(m.Answers, host+".local.", dnsmessage.TypeA)) > 0 &&
			m.Answers[0].Header.TTL > 0
	}
}
