package discovery

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

var testTXT = map[string]string{"path": "/stream", "model": "test-board", "version": "0.0.0-test"}

// TestNetnsResolveBrowseGoodbye runs the responder in its own namespace and
// checks from the other end of a veth, with a raw-socket querier, the whole
// life of a camera on the LAN: probes, two announcements with the cache-flush
// bit, answers to A/PTR/SRV/TXT/ANY questions, re-announcing an address that
// appears later and withdrawing it when it goes, and goodbyes on shutdown.
func TestNetnsResolveBrowseGoodbye(t *testing.T) {
	n := newTestNet(t)
	q := openQuerier(t, n.nsB, n.ifB)
	const host, inst = "camera-abcd", "camerad ABCD"
	hostFQDN, instFQDN := host+".local.", inst+"._rtsp._tcp.local."

	start := q.mark()
	proc := startResponder(t, n.nsA, Config{Hostname: host, Instance: inst, Port: 8554, TXT: testTXT})

	// Probing: ANY questions for both names with our records as authority.
	q.waitFor(start, "a probe", nil, func(p rxPacket) bool {
		m := p.msg
		return !m.Header.Response && len(m.Questions) == 2 &&
			m.Questions[0].Type == dnsmessage.TypeALL && strings.EqualFold(m.Questions[0].Name.String(), hostFQDN) &&
			strings.EqualFold(m.Questions[1].Name.String(), instFQDN) &&
			len(findRR(m.Authorities, hostFQDN, dnsmessage.TypeA)) == 1
	})

	// Two announcements; unique records carry the cache-flush bit, shared
	// PTRs do not.
	first := q.waitFor(start, "the first announcement", nil, isAnnouncement(host, inst))
	a, ok := hasA(first.msg.Answers, hostFQDN, n.addrA)
	if !ok {
		t.Fatalf("announcement has no A %s: %+v", n.addrA, first.msg.Answers)
	}
	if a.Header.Class&classCacheFlush == 0 || a.Header.TTL != hostTTL {
		t.Errorf("A record: class %#x ttl %d, want cache-flush and ttl %d", a.Header.Class, a.Header.TTL, hostTTL)
	}
	if srv := findRR(first.msg.Answers, instFQDN, dnsmessage.TypeSRV)[0]; srv.Header.Class&classCacheFlush == 0 {
		t.Errorf("SRV record lacks the cache-flush bit: class %#x", srv.Header.Class)
	}
	if ptr := findRR(first.msg.Answers, "_rtsp._tcp.local.", dnsmessage.TypePTR)[0]; ptr.Header.Class&classCacheFlush != 0 {
		t.Errorf("shared PTR record has the cache-flush bit: class %#x", ptr.Header.Class)
	}
	if p := first.src; p.Port() != 5353 || p.Addr().String() != n.addrA {
		t.Errorf("announcement came from %s, want %s:5353", p, n.addrA)
	}
	probesBefore := q.count(start, func(p rxPacket) bool {
		return !p.msg.Header.Response && len(p.msg.Authorities) > 0
	})
	if probesBefore < probeCount {
		t.Errorf("saw %d probes before announcing, want %d", probesBefore, probeCount)
	}
	q.waitFor(start, "the second announcement", nil, func() func(rxPacket) bool {
		seen := 0
		is := isAnnouncement(host, inst)
		return func(p rxPacket) bool {
			if is(p) {
				seen++
			}
			return seen == 2
		}
	}())

	// Resolve the host name: an answer (not an announcement) with our address.
	from := q.mark()
	q.waitFor(from, "an A answer for "+hostFQDN, func() { q.ask(hostFQDN, dnsmessage.TypeA) }, func(p rxPacket) bool {
		_, ok := hasA(p.msg.Answers, hostFQDN, n.addrA)
		return p.msg.Header.Response && ok && len(p.msg.Answers) == 1
	})

	// Browse: PTR → instance, with SRV (port, target with the final dot)
	// and TXT (path=/stream).
	from = q.mark()
	browse := q.waitFor(from, "a PTR answer for _rtsp._tcp", func() { q.ask("_rtsp._tcp.local.", dnsmessage.TypePTR) }, func(p rxPacket) bool {
		return p.msg.Header.Response && len(p.msg.Questions) == 0 && len(p.msg.Answers) == 1 &&
			p.msg.Answers[0].Header.Type == dnsmessage.TypePTR
	})
	if got := browse.msg.Answers[0].Body.(*dnsmessage.PTRResource).PTR.String(); !strings.EqualFold(got, instFQDN) {
		t.Errorf("PTR points at %q, want %q", got, instFQDN)
	}
	checkService(t, rrs(browse.msg), instFQDN, hostFQDN)

	from = q.mark()
	srv := q.waitFor(from, "an SRV answer", func() { q.ask(instFQDN, dnsmessage.TypeSRV) }, func(p rxPacket) bool {
		return p.msg.Header.Response && len(findRR(p.msg.Answers, instFQDN, dnsmessage.TypeSRV)) == 1 && len(p.msg.Answers) == 1
	})
	checkService(t, append(rrs(srv.msg), findRR(rrs(browse.msg), instFQDN, dnsmessage.TypeTXT)...), instFQDN, hostFQDN)

	// ANY, which probing hosts ask, is answered too.
	from = q.mark()
	q.waitFor(from, "an ANY answer", func() { q.ask(hostFQDN, dnsmessage.TypeALL) }, func(p rxPacket) bool {
		_, ok := hasA(p.msg.Answers, hostFQDN, n.addrA)
		return p.msg.Header.Response && ok && len(findRR(p.msg.Answers, "_rtsp._tcp.local.", dnsmessage.TypePTR)) == 0
	})

	// An address that appears later (as after DHCP) is announced...
	const extra = "10.77.0.3"
	from = q.mark()
	mustIP(t, "-n", n.nsA, "addr", "add", extra+"/24", "dev", n.ifA)
	q.waitFor(from, "an announcement of the new address", nil, func(p rxPacket) bool {
		rr, ok := hasA(p.msg.Answers, hostFQDN, extra)
		return p.msg.Header.Response && ok && rr.Header.TTL > 0
	})
	// ...and withdrawn when it goes.
	from = q.mark()
	mustIP(t, "-n", n.nsA, "addr", "del", extra+"/24", "dev", n.ifA)
	q.waitFor(from, "a goodbye for the removed address", nil, func(p rxPacket) bool {
		rr, ok := hasA(p.msg.Answers, hostFQDN, extra)
		return p.msg.Header.Response && ok && rr.Header.TTL == 0
	})

	// Shutdown: goodbye (TTL 0) for the browse PTR and the address.
	from = q.mark()
	proc.stop()
	bye, byeAt := q.waitAt(from, "the goodbye", nil, func(p rxPacket) bool {
		ptr := findRR(p.msg.Answers, "_rtsp._tcp.local.", dnsmessage.TypePTR)
		return p.msg.Header.Response && len(ptr) == 1 && ptr[0].Header.TTL == 0
	})
	for _, rr := range bye.msg.Answers {
		if rr.Header.TTL != 0 {
			t.Errorf("goodbye record %v %s has TTL %d", rr.Header.Type, rr.Header.Name, rr.Header.TTL)
		}
	}
	if _, ok := hasA(bye.msg.Answers, hostFQDN, n.addrA); !ok {
		t.Errorf("goodbye lacks the A record: %+v", bye.msg.Answers)
	}
	// Nothing answers after the goodbye: the responder has exited.
	if n := q.count(byeAt+1, func(p rxPacket) bool {
		a, ok := hasA(p.msg.Answers, hostFQDN, n.addrA)
		return p.msg.Header.Response && ok && a.Header.TTL > 0
	}); n != 0 {
		t.Errorf("saw %d live A records after shutdown", n)
	}
	// Our own answers and announcements loop back to the responder;
	// it must recognise them as its own records, not as a rival's.
	if log := proc.out.String(); strings.Contains(log, "probing again") || strings.Contains(log, "renaming") {
		t.Errorf("responder saw a conflict with itself:\n%s", log)
	}
}

func checkService(t *testing.T, list []dnsmessage.Resource, instFQDN, hostFQDN string) {
	t.Helper()
	srvs := findRR(list, instFQDN, dnsmessage.TypeSRV)
	if len(srvs) != 1 {
		t.Fatalf("want one SRV for %s, got %d", instFQDN, len(srvs))
	}
	srv := srvs[0].Body.(*dnsmessage.SRVResource)
	if srv.Port != 8554 || !strings.EqualFold(srv.Target.String(), hostFQDN) {
		t.Errorf("SRV = port %d target %q, want 8554 %q", srv.Port, srv.Target, hostFQDN)
	}
	txts := findRR(list, instFQDN, dnsmessage.TypeTXT)
	if len(txts) != 1 {
		t.Fatalf("want one TXT for %s, got %d", instFQDN, len(txts))
	}
	txt := txts[0].Body.(*dnsmessage.TXTResource).TXT
	for _, want := range []string{"path=/stream", "model=test-board", "version=0.0.0-test"} {
		if !slices.Contains(txt, want) {
			t.Errorf("TXT %q lacks %q", txt, want)
		}
	}
}

// TestNetnsConflictRename starts a second camera with the same names on the
// other side of the link: it must notice while probing and rename itself to
// camera-abcd-2 / "camerad ABCD (2)", while the first keeps its names.
func TestNetnsConflictRename(t *testing.T) {
	n := newTestNet(t)
	q := openQuerier(t, n.nsB, n.ifB)
	const host, inst = "camera-abcd", "camerad ABCD"
	cfg := Config{Hostname: host, Instance: inst, Port: 8554, TXT: testTXT}

	start := q.mark()
	startResponder(t, n.nsA, cfg)
	q.waitFor(start, "the first camera's announcement", nil, isAnnouncement(host, inst))

	from := q.mark()
	startResponder(t, n.nsB, cfg)
	second := q.waitFor(from, "the second camera's announcement under new names", nil, isAnnouncement(host+"-2", inst+" (2)"))
	if _, ok := hasA(second.msg.Answers, host+"-2.local.", n.addrB); !ok {
		t.Errorf("renamed camera announces %+v, want A %s", second.msg.Answers, n.addrB)
	}
	if c := q.count(from, func(p rxPacket) bool {
		_, ok := hasA(p.msg.Answers, host+".local.", n.addrB)
		return p.msg.Header.Response && ok
	}); c != 0 {
		t.Errorf("second camera published %s.local with its address %d times", host, c)
	}

	// Both names resolve, each to its own camera.
	for _, c := range []struct{ name, addr string }{{host + ".local.", n.addrA}, {host + "-2.local.", n.addrB}} {
		from := q.mark()
		q.waitFor(from, "A answer for "+c.name, func() { q.ask(c.name, dnsmessage.TypeA) }, func(p rxPacket) bool {
			_, ok := hasA(p.msg.Answers, c.name, c.addr)
			return p.msg.Header.Response && ok
		})
	}
}

// TestNetnsTwoLinksOneLAN gives the camera two interfaces on the same LAN, as a Pi with both
// Ethernet and Wi-Fi up at home: each of its probes then comes back on the other interface,
// carrying that interface's address. It must know them for its own and announce, answering
// with both addresses, instead of losing a tie-break to itself every second.
func TestNetnsTwoLinksOneLAN(t *testing.T) {
	n := newTestNet(t)
	// The viewer side becomes a switch: a bridge joining the first veth and a second one.
	const ifA2, ifB2, addrA2, bridge = "vcam2", "vview2", "10.77.0.3", "vlan0"
	mustIP(t, "link", "add", ifA2, "netns", n.nsA, "type", "veth", "peer", "name", ifB2, "netns", n.nsB)
	mustIP(t, "-n", n.nsB, "link", "add", bridge, "type", "bridge")
	mustIP(t, "-n", n.nsB, "addr", "del", n.addrB+"/24", "dev", n.ifB)
	for _, ifc := range []string{n.ifB, ifB2} {
		mustIP(t, "-n", n.nsB, "link", "set", ifc, "master", bridge)
		mustIP(t, "-n", n.nsB, "link", "set", ifc, "up")
	}
	mustIP(t, "-n", n.nsB, "addr", "add", n.addrB+"/24", "dev", bridge)
	mustIP(t, "-n", n.nsB, "link", "set", bridge, "up")
	mustIP(t, "netns", "exec", n.nsA, "sysctl", "-qw", "net.ipv6.conf."+ifA2+".accept_dad=0")
	mustIP(t, "-n", n.nsA, "addr", "add", addrA2+"/24", "dev", ifA2)
	mustIP(t, "-n", n.nsA, "link", "set", ifA2, "up")
	// Both links' IPv6 link-local addresses before the camera starts: it then probes with
	// them, and IPv6, unlike IPv4, delivers a packet from one of our own addresses that
	// comes in on another interface.
	for _, ifc := range []string{n.ifA, ifA2} {
		waitLinkLocal(t, n.nsA, ifc)
	}

	q := openQuerier(t, n.nsB, bridge)
	const host, inst = "camera-abcd", "camerad ABCD"
	start := q.mark()
	proc := startResponder(t, n.nsA, Config{Hostname: host, Instance: inst, Port: 8554, TXT: testTXT})
	q.waitFor(start, "an announcement under the configured names", nil, isAnnouncement(host, inst))
	for _, addr := range []string{n.addrA, addrA2} {
		q.waitFor(start, "an announcement of "+addr, nil, func(p rxPacket) bool {
			_, ok := hasA(p.msg.Answers, host+".local.", addr)
			return isAnnouncement(host, inst)(p) && ok
		})
	}
	if log := proc.out.String(); strings.Contains(log, "tie-break") || strings.Contains(log, "renaming") {
		t.Errorf("responder took its own probes for a rival's:\n%s", log)
	}
}

// waitLinkLocal waits for ifc in ns to have its IPv6 link-local address.
func waitLinkLocal(t *testing.T, ns, ifc string) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); ; {
		out, err := exec.Command("ip", "-n", ns, "-6", "addr", "show", "dev", ifc, "scope", "link").CombinedOutput()
		if err == nil && strings.Contains(string(out), "fe80::") && !strings.Contains(string(out), "tentative") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s in %s has no IPv6 link-local address: %s", ifc, ns, out)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestNetnsTentativeIPv6 starts the camera the moment its link comes up, as at boot, while
// duplicate address detection still holds the IPv6 link-local address back: nothing may be
// sent from it yet. The camera must not try (and warn about the failure), and must announce
// the address once it is usable.
func TestNetnsTentativeIPv6(t *testing.T) {
	n := newTestNet(t)
	const ifA2, ifB2 = "vdad0", "vdad1"
	mustIP(t, "link", "add", ifA2, "netns", n.nsA, "type", "veth", "peer", "name", ifB2, "netns", n.nsB)
	mustIP(t, "netns", "exec", n.nsB, "sysctl", "-qw", "net.ipv6.conf."+ifB2+".accept_dad=0")
	mustIP(t, "-n", n.nsB, "addr", "add", "10.78.0.2/24", "dev", ifB2)
	mustIP(t, "-n", n.nsB, "link", "set", ifB2, "up")
	mustIP(t, "-n", n.nsA, "addr", "add", "10.78.0.1/24", "dev", ifA2)
	q := openQuerier(t, n.nsB, ifB2) // IPv4: it hears the announcements of the IPv6 address too
	const host, inst = "camera-abcd", "camerad ABCD"
	start := q.mark()
	mustIP(t, "-n", n.nsA, "link", "set", ifA2, "up") // DAD on: about a second of "tentative"
	proc := startResponder(t, n.nsA, Config{Hostname: host, Instance: inst, Port: 8554, TXT: testTXT})
	q.waitFor(start, "an announcement with the link-local address of "+ifA2, nil, func(p rxPacket) bool {
		return isAnnouncement(host, inst)(p) && len(findRR(p.msg.Answers, host+".local.", dnsmessage.TypeAAAA)) > 0
	})
	if log := proc.out.String(); strings.Contains(log, "WARN") {
		t.Errorf("responder warned while the address was tentative:\n%s", log)
	}
}

// TestNetnsWithdrawLastIPv4: when DHCP takes the camera's only IPv4 address
// away, the goodbye for it must still reach the LAN. It goes out over IPv6,
// which the link still has; over IPv4 the kernel would send it from 0.0.0.0,
// and caches would keep handing out the stale address for two minutes.
func TestNetnsWithdrawLastIPv4(t *testing.T) {
	n := newTestNet(t)
	waitLinkLocal(t, n.nsA, n.ifA)
	waitLinkLocal(t, n.nsB, n.ifB)
	q := openQuerier(t, n.nsB, n.ifB)
	q.listenIPv6(n.nsB)
	const host, inst = "camera-abcd", "camerad ABCD"
	hostFQDN := host + ".local."
	start := q.mark()
	startResponder(t, n.nsA, Config{Hostname: host, Instance: inst, Port: 8554, TXT: testTXT})
	q.waitFor(start, "the announcement", nil, isAnnouncement(host, inst))

	from := q.mark()
	mustIP(t, "-n", n.nsA, "addr", "del", n.addrA+"/24", "dev", n.ifA)
	bye := q.waitFor(from, "a goodbye for the removed address over IPv6", nil, func(p rxPacket) bool {
		rr, ok := hasA(p.msg.Answers, hostFQDN, n.addrA)
		return p.msg.Header.Response && ok && rr.Header.TTL == 0 && p.src.Addr().Is6()
	})
	if src := bye.src.Addr(); !src.IsLinkLocalUnicast() || bye.src.Port() != mdnsPort {
		t.Errorf("goodbye came from %s, want the camera's IPv6 link-local address, port 5353", bye.src)
	}
}
