package discovery

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"
	"golang.org/x/net/ipv4"
)

// TestNetnsQueryFlood: a host on the LAN asking for the camera's address and
// service a thousand times a second gets answers, but never the same record
// twice within a second on the link (RFC 6762 §6); without that limit, any
// host could make the camera flood the segment. A legacy querier (not on
// port 5353), which is answered by unicast, is held to the unicast budget.
func TestNetnsQueryFlood(t *testing.T) {
	n := newTestNet(t)
	q := openQuerier(t, n.nsB, n.ifB)
	const host, inst = "camera-abcd", "camerad ABCD"
	hostFQDN := host + ".local."

	start := q.mark()
	proc := startResponder(t, n.nsA, Config{Hostname: host, Instance: inst, Port: 8554, TXT: testTXT})
	// Wait out the announcements: they multicast every record, and the flood
	// should see only answers.
	q.waitAnnounced(start, host, inst)
	time.Sleep(multicastLimit)

	const flood = 3 * time.Second
	from := q.mark()
	cpuBefore := processCPU(t, proc.cmd.Process.Pid)
	floodStart := time.Now()
	for i := 0; time.Since(floodStart) < flood; i++ {
		if i%2 == 0 {
			q.ask(hostFQDN, dnsmessage.TypeA)
		} else {
			q.ask(rtspService+".local.", dnsmessage.TypePTR)
		}
		time.Sleep(time.Millisecond)
	}
	asked := q.count(from, func(p rxPacket) bool { return !p.msg.Header.Response })
	cpu := processCPU(t, proc.cmd.Process.Pid) - cpuBefore
	// Let the last answers due arrive.
	time.Sleep(multicastLimit + 200*time.Millisecond)
	t.Logf("%d questions in %v drew %d answer packets; the responder used %v of CPU (%.1f%% of a core)", asked, flood,
		q.count(from, func(p rxPacket) bool { return p.msg.Header.Response }), cpu, 100*cpu.Seconds()/flood.Seconds())

	for _, c := range []struct {
		what string
		has  func(rxPacket) bool
	}{
		{"the A record", func(p rxPacket) bool { _, ok := hasA(rrs(p.msg), hostFQDN, n.addrA); return ok }},
		{"the PTR record", func(p rxPacket) bool { return len(findRR(rrs(p.msg), rtspService+".local.", dnsmessage.TypePTR)) > 0 }},
	} {
		got := q.matching(from, func(p rxPacket) bool { return p.msg.Header.Response && c.has(p) })
		// The sender keeps a full second between them; allow the receiving
		// side a little scheduling slack.
		for i := 1; i < len(got); i++ {
			if gap := got[i].at.Sub(got[i-1].at); gap < multicastLimit-100*time.Millisecond {
				t.Errorf("%s multicast twice within %v", c.what, gap)
			}
		}
		if len(got) < 3 {
			t.Errorf("%s was answered %d times in a %v flood, want every second", c.what, len(got), flood)
		}
		t.Logf("%d questions in %v: %s answered %d times", asked, flood, c.what, len(got))
	}

	// A legacy querier's answers come back by unicast, within the budget.
	conn := openSender(t, n.nsB, n.addrB+":0", q.ifc)
	replies := make(chan int, 1)
	go func() {
		buf := make([]byte, maxPacket)
		got := 0
		for {
			conn.SetReadDeadline(time.Now().Add(time.Second))
			nb, _, _, err := conn.ReadFrom(buf)
			if err != nil {
				replies <- got
				return
			}
			var m dnsmessage.Message
			if m.Unpack(buf[:nb]) == nil && m.Header.Response && len(m.Answers) > 0 {
				got++
			}
		}
	}()
	legacy := dnsmessage.Message{Header: dnsmessage.Header{ID: 9}, Questions: []dnsmessage.Question{{
		Name: dnsmessage.MustNewName(hostFQDN), Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET,
	}}}
	b, err := legacy.Pack()
	if err != nil {
		t.Fatal(err)
	}
	legacyStart := time.Now()
	const legacyAsks = 500
	for range legacyAsks {
		if _, err := conn.WriteTo(b, nil, &net.UDPAddr{IP: net.IPv4(224, 0, 0, 251), Port: mdnsPort}); err != nil {
			t.Fatalf("send legacy query: %v", err)
		}
		time.Sleep(time.Millisecond)
	}
	elapsed := time.Since(legacyStart)
	got := <-replies
	budget := unicastHostBurst + int(elapsed.Seconds()*unicastHostRate) + 2
	if got == 0 || got > budget {
		t.Errorf("legacy querier got %d unicast answers to %d questions in %v, want 1..%d", got, legacyAsks, elapsed.Round(time.Millisecond), budget)
	}
	t.Logf("legacy: %d answers to %d questions in %v", got, legacyAsks, elapsed.Round(time.Millisecond))
}

// TestNetnsOffLinkQuery: a query sent straight to the camera's port 5353 from
// a routable address off its subnet gets no answer (RFC 6762 §5.5); the same
// query from the LAN does. Otherwise any host that can reach the camera, a
// port forward away, could use it to amplify traffic at a forged source. A
// query multicast to the group from that same address is on the link (the
// group is never routed) and is answered: hosts of two subnets may share one
// LAN. A response from a port other than 5353 is ignored (RFC 6762 §6), so it
// cannot make the camera doubt its name.
func TestNetnsOffLinkQuery(t *testing.T) {
	n := newTestNet(t)
	const offLink = "10.99.0.2"
	mustIP(t, "-n", n.nsB, "addr", "add", offLink+"/24", "dev", n.ifB)
	mustIP(t, "-n", n.nsA, "route", "add", "10.99.0.0/24", "via", n.addrB, "dev", n.ifA)
	q := openQuerier(t, n.nsB, n.ifB)
	const host, inst = "camera-abcd", "camerad ABCD"
	start := q.mark()
	proc := startResponder(t, n.nsA, Config{Hostname: host, Instance: inst, Port: 8554, TXT: testTXT})
	q.waitAnnounced(start, host, inst)

	// Multicast from the other subnet, from port 5353 like a full querier.
	mc := openSender(t, n.nsB, offLink+":5353", q.ifc)
	send := func(conn *ipv4.PacketConn, m *dnsmessage.Message) {
		t.Helper()
		b, err := m.Pack()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.WriteTo(b, nil, &net.UDPAddr{IP: net.IPv4(224, 0, 0, 251), Port: mdnsPort}); err != nil {
			t.Fatalf("send to the group: %v", err)
		}
	}
	from := q.mark()
	q.waitFor(from, "an answer to a query multicast from "+offLink, func() {
		send(mc, &dnsmessage.Message{Questions: []dnsmessage.Question{{
			Name: dnsmessage.MustNewName(host + ".local."), Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET,
		}}})
	}, func(p rxPacket) bool {
		_, ok := hasA(p.msg.Answers, host+".local.", n.addrA)
		return p.msg.Header.Response && ok
	})

	// A rival's answer, but from port 40000: ignored.
	rival := openSender(t, n.nsB, n.addrB+":40000", q.ifc)
	for range 3 {
		send(rival, response(aRecord(host+".local.", "10.77.0.99", hostTTL)))
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(time.Second)
	if out := proc.out.String(); strings.Contains(out, "probing again") || strings.Contains(out, "renaming") {
		t.Errorf("a response from port 40000 made the camera doubt its name:\n%s", out)
	}

	answered := map[string]bool{}
	for _, src := range []string{n.addrB, offLink} {
		var conn net.PacketConn
		if err := inNetns(n.nsB, func() error {
			var err error
			conn, err = net.ListenPacket("udp4", src+":0")
			return err
		}); err != nil {
			t.Fatal(err)
		}
		defer conn.Close()
		query := dnsmessage.Message{Header: dnsmessage.Header{ID: 7}, Questions: []dnsmessage.Question{{
			Name: dnsmessage.MustNewName(host + ".local."), Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET,
		}}}
		b, err := query.Pack()
		if err != nil {
			t.Fatal(err)
		}
		// A few tries a little apart, as a resolver would; two seconds
		// without an answer is no answer.
		buf := make([]byte, maxPacket)
		for try := 0; try < 4 && !answered[src]; try++ {
			if _, err := conn.WriteTo(b, &net.UDPAddr{IP: net.ParseIP(n.addrA), Port: mdnsPort}); err != nil {
				t.Fatalf("send from %s: %v", src, err)
			}
			conn.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
			nb, _, err := conn.ReadFrom(buf)
			var m dnsmessage.Message
			if err == nil && m.Unpack(buf[:nb]) == nil && m.Header.ID == 7 && m.Header.Response {
				answered[src] = true
			}
		}
	}
	if !answered[n.addrB] {
		t.Errorf("a direct query from the LAN (%s) got no answer", n.addrB)
	}
	if answered[offLink] {
		t.Errorf("a direct query from off the link (%s) was answered", offLink)
	}
}

// processCPU is the user+system CPU time process pid has used, from
// /proc/<pid>/stat (in clock ticks of 10 ms). It is logged, not asserted.
func processCPU(t *testing.T, pid int) time.Duration {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	// The command name, in parentheses, may hold spaces: count fields after it.
	fields := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
	var ticks int64
	for _, f := range fields[11:13] { // utime, stime: fields 14 and 15 of the whole line
		v, err := strconv.ParseInt(f, 10, 64)
		if err != nil {
			t.Fatalf("parse /proc/%d/stat: %v", pid, err)
		}
		ticks += v
	}
	return time.Duration(ticks) * 10 * time.Millisecond
}

// openSender opens a UDP socket in namespace ns, bound to addr (port 5353 may be shared),
// that multicasts out of ifc. It is closed when the test ends.
func openSender(t *testing.T, ns, addr string, ifc *net.Interface) *ipv4.PacketConn {
	t.Helper()
	var conn *ipv4.PacketConn
	if err := inNetns(ns, func() error {
		lc := net.ListenConfig{Control: reusePort}
		c, err := lc.ListenPacket(context.Background(), "udp4", addr)
		if err != nil {
			return err
		}
		conn = ipv4.NewPacketConn(c)
		return conn.SetMulticastInterface(ifc)
	}); err != nil {
		t.Fatalf("open a socket on %s in %s: %v", addr, ns, err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}
