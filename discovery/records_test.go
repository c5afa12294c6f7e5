package discovery

import (
	"net/netip"
	"testing"
	"time"

	"golang.org/x/net/dns/dnsmessage"
)

func testZone() zone {
	return zone{
		names: names{host: "camera-abcd", instance: "camerad ABCD"},
		port:  8554,
		txt:   []string{"path=/stream"},
		addrs: []netip.Addr{netip.MustParseAddr("10.0.0.5"), netip.MustParseAddr("fe80::1")},
	}
}

// roundTrip packs and parses msg, so tests see what goes on the wire.
func roundTrip(t *testing.T, msg *dnsmessage.Message) dnsmessage.Message {
	t.Helper()
	b, err := msg.Pack()
	if err != nil {
		t.Fatalf("pack: %v", err)
	}
	var out dnsmessage.Message
	if err := out.Unpack(b); err != nil {
		t.Fatalf("unpack: %v", err)
	}
	return out
}

func TestAnnouncementRecords(t *testing.T) {
	msg, err := announcement(testZone(), false)
	if err != nil {
		t.Fatal(err)
	}
	m := roundTrip(t, msg)
	if !m.Header.Response || !m.Header.Authoritative || m.Header.ID != 0 || len(m.Questions) != 0 {
		t.Errorf("header %+v, %d questions: want an unsolicited authoritative response", m.Header, len(m.Questions))
	}
	type want struct {
		typ   dnsmessage.Type
		name  string
		flush bool
		ttl   uint32
	}
	wants := []want{
		{dnsmessage.TypePTR, "_rtsp._tcp.local.", false, otherTTL},
		{dnsmessage.TypePTR, "_services._dns-sd._udp.local.", false, otherTTL},
		{dnsmessage.TypeSRV, "camerad ABCD._rtsp._tcp.local.", true, hostTTL},
		{dnsmessage.TypeTXT, "camerad ABCD._rtsp._tcp.local.", true, otherTTL},
		{dnsmessage.TypeA, "camera-abcd.local.", true, hostTTL},
		{dnsmessage.TypeAAAA, "camera-abcd.local.", true, hostTTL},
	}
	if len(m.Answers) != len(wants) {
		t.Fatalf("%d answers, want %d: %+v", len(m.Answers), len(wants), m.Answers)
	}
	for i, w := range wants {
		h := m.Answers[i].Header
		if h.Type != w.typ || h.Name.String() != w.name || (h.Class&classCacheFlush != 0) != w.flush || h.TTL != w.ttl || h.Class&classMask != dnsmessage.ClassINET {
			t.Errorf("answer %d = %v %s class %#x ttl %d; want %v %s flush=%v ttl %d", i, h.Type, h.Name, h.Class, h.TTL, w.typ, w.name, w.flush, w.ttl)
		}
	}
	srv := m.Answers[2].Body.(*dnsmessage.SRVResource)
	if srv.Port != 8554 || srv.Target.String() != "camera-abcd.local." {
		t.Errorf("SRV %+v", srv)
	}

	bye, err := announcement(testZone(), true)
	if err != nil {
		t.Fatal(err)
	}
	for _, rr := range roundTrip(t, bye).Answers {
		if rr.Header.TTL != 0 {
			t.Errorf("goodbye %v %s ttl %d", rr.Header.Type, rr.Header.Name, rr.Header.TTL)
		}
	}
}

func TestProbeMessage(t *testing.T) {
	msg, err := probeMessage(testZone())
	if err != nil {
		t.Fatal(err)
	}
	m := roundTrip(t, msg)
	if m.Header.Response || len(m.Questions) != 2 {
		t.Fatalf("probe header %+v questions %d", m.Header, len(m.Questions))
	}
	for _, q := range m.Questions {
		if q.Type != dnsmessage.TypeALL || q.Class != dnsmessage.ClassINET {
			t.Errorf("question %v", q)
		}
	}
	if len(m.Authorities) != 4 { // A, AAAA, SRV, TXT
		t.Fatalf("%d authority records, want 4", len(m.Authorities))
	}
	for _, rr := range m.Authorities {
		if rr.Header.Class&classCacheFlush != 0 {
			t.Errorf("probe authority %v has the cache-flush bit", rr.Header.Type)
		}
	}
}

func response(rrs ...dnsmessage.Resource) *dnsmessage.Message {
	return &dnsmessage.Message{Header: dnsmessage.Header{Response: true}, Answers: rrs}
}

func aRecord(name, addr string, ttl uint32) dnsmessage.Resource {
	return dnsmessage.Resource{
		Header: dnsmessage.ResourceHeader{Name: dnsmessage.MustNewName(name), Type: dnsmessage.TypeA, Class: dnsmessage.ClassINET | classCacheFlush, TTL: ttl},
		Body:   &dnsmessage.AResource{A: netip.MustParseAddr(addr).As4()},
	}
}

func TestConflicts(t *testing.T) {
	z := testZone()
	ours := []netip.Addr{netip.MustParseAddr("10.0.0.5"), netip.MustParseAddr("192.168.1.9"), netip.MustParseAddr("fe80::1")}
	inst, _ := z.instanceRecords(hostTTL, otherTTL)
	otherSRV := inst[0]
	otherSRV.Body = &dnsmessage.SRVResource{Port: 554, Target: dnsmessage.MustNewName("other.local.")}
	hinfo := dnsmessage.Resource{
		Header: dnsmessage.ResourceHeader{Name: dnsmessage.MustNewName("CAMERA-ABCD.local."), Type: dnsmessage.TypeHINFO, Class: dnsmessage.ClassINET, TTL: 120},
		Body:   &dnsmessage.UnknownResource{Type: dnsmessage.TypeHINFO, Data: []byte{1, 'x', 1, 'y'}},
	}
	tests := []struct {
		name       string
		msg        *dnsmessage.Message
		probing    bool
		host, inst bool
	}{
		{"our own address", response(aRecord("camera-abcd.local.", "10.0.0.5", 120)), false, false, false},
		{"our address on another link", response(aRecord("camera-abcd.local.", "192.168.1.9", 120)), true, false, false},
		{"another host's address", response(aRecord("camera-abcd.local.", "10.0.0.6", 120)), false, true, false},
		{"case-insensitive name", response(aRecord("Camera-ABCD.LOCAL.", "10.0.0.6", 120)), false, true, false},
		{"goodbye is no claim", response(aRecord("camera-abcd.local.", "10.0.0.6", 0)), false, false, false},
		{"unrelated name", response(aRecord("camera-ffff.local.", "10.0.0.6", 120)), true, false, false},
		{"our own SRV and TXT", response(inst...), true, false, false},
		{"different SRV", response(otherSRV), false, false, true},
		{"other type while probing", response(hinfo), true, true, false},
		{"other type once claimed", response(hinfo), false, false, false},
		{"in additionals", &dnsmessage.Message{Header: dnsmessage.Header{Response: true}, Additionals: []dnsmessage.Resource{aRecord("camera-abcd.local.", "10.9.9.9", 120)}}, false, true, false},
	}
	for _, tt := range tests {
		host, inst := conflicts(tt.msg, z, ours, tt.probing)
		if host != tt.host || inst != tt.inst {
			t.Errorf("%s: conflicts = host %v inst %v, want %v %v", tt.name, host, inst, tt.host, tt.inst)
		}
	}
}

func TestLostTiebreak(t *testing.T) {
	z := testZone()
	z.addrs = []netip.Addr{netip.MustParseAddr("10.0.0.5")}
	probe := func(addr string) *dnsmessage.Message {
		other := z
		other.addrs = []netip.Addr{netip.MustParseAddr(addr)}
		m, err := probeMessage(other)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	if lostTiebreak(probe("10.0.0.5"), z) {
		t.Error("our own probe looped back counts as a loss")
	}
	if !lostTiebreak(probe("10.0.0.9"), z) {
		t.Error("a probe with a later address must win over 10.0.0.5")
	}
	if lostTiebreak(probe("10.0.0.1"), z) {
		t.Error("a probe with an earlier address must lose to 10.0.0.5")
	}
	// More records than ours with a common prefix: the longer set wins.
	longer := probe("10.0.0.5")
	longer.Authorities = append(longer.Authorities, aRecord("camera-abcd.local.", "10.0.0.6", 120))
	if !lostTiebreak(longer, z) {
		t.Error("a superset must win")
	}
	if lostTiebreak(&dnsmessage.Message{Questions: probe("10.0.0.9").Questions}, z) {
		t.Error("a plain query (no authority section) is not a probe")
	}

	// sameClaims: only a probe carrying exactly our records for z is ours.
	if !sameClaims(probe("10.0.0.5"), z) {
		t.Error("our own probe is not recognised as ours")
	}
	for name, m := range map[string]*dnsmessage.Message{
		"another address":      probe("10.0.0.9"),
		"a superset":           longer,
		"no authority section": {Questions: probe("10.0.0.5").Questions},
	} {
		if sameClaims(m, z) {
			t.Errorf("a probe with %s is taken for ours", name)
		}
	}
}

// FuzzHandleMessage feeds arbitrary packets through everything that looks at
// received messages; they come from the LAN and must never panic.
func FuzzHandleMessage(f *testing.F) {
	z := testZone()
	for _, goodbye := range []bool{false, true} {
		m, _ := announcement(z, goodbye)
		b, _ := m.Pack()
		f.Add(b)
	}
	p, _ := probeMessage(z)
	b, _ := p.Pack()
	f.Add(b)
	f.Fuzz(func(t *testing.T, b []byte) {
		var m dnsmessage.Message
		if m.Unpack(b) != nil {
			return
		}
		conflicts(&m, z, z.addrs, true)
		conflicts(&m, z, z.addrs, false)
		lostTiebreak(&m, z)
		for _, legacy := range []bool{false, true} {
			rep, err := replyTo(z, &m, legacy, func(dnsmessage.Resource, time.Duration) bool { return legacy })
			if err != nil {
				t.Fatalf("replyTo: %v", err)
			}
			if rep.unicast != nil {
				if _, err := rep.unicast.Pack(); err != nil {
					t.Errorf("unicast answer does not pack: %v", err)
				}
			}
			extra, err := z.additionals(rep.multicast)
			if err != nil {
				t.Fatal(err)
			}
			msg := dnsmessage.Message{Header: dnsmessage.Header{Response: true}, Answers: rep.multicast, Additionals: extra}
			if _, err := msg.Pack(); err != nil {
				t.Errorf("multicast answer does not pack: %v", err)
			}
		}
	})
}
