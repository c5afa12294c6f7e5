package rtspsrv

import (
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/pion/rtp"
)

// testGroup is the multicast group the tests serve.
var testGroup = netip.MustParseAddrPort("239.255.12.34:5004")

// newMulticastNetns makes a network namespace whose loopback carries multicast (a host's lo
// does not by default), or skips the test saying why.
func newMulticastNetns(t *testing.T) string {
	t.Helper()
	ns := newLoopbackNetns(t)
	for _, args := range [][]string{
		{"-n", ns, "link", "set", "lo", "multicast", "on"},
		{"-n", ns, "route", "add", "224.0.0.0/4", "dev", "lo"},
	} {
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil {
			t.Fatalf("ip %s: %v: %s", strings.Join(args, " "), err, out)
		}
	}
	return ns
}

// joinGroup opens a socket pair in the group, as a multicast viewer does.
func joinGroup(t *testing.T, ns string, group netip.AddrPort) *udpClient {
	t.Helper()
	m := &udpClient{}
	err := inNetns(ns, func() error {
		lo, err := net.InterfaceByName("lo")
		if err != nil {
			return err
		}
		ip := group.Addr().AsSlice()
		if m.rtp, err = net.ListenMulticastUDP("udp4", lo, &net.UDPAddr{IP: ip, Port: int(group.Port())}); err != nil {
			return err
		}
		m.rtcp, err = net.ListenMulticastUDP("udp4", lo, &net.UDPAddr{IP: ip, Port: int(group.Port()) + 1})
		return err
	})
	if err != nil {
		t.Fatalf("join %s: %v", group, err)
	}
	_ = m.rtp.SetReadBuffer(4 << 20)
	t.Cleanup(func() { m.rtp.Close(); m.rtcp.Close() })
	return m
}

// readRTPWithin returns the next RTP packet m receives, or an error (a timeout after wait).
func readRTPWithin(m *udpClient, wait time.Duration) (*rtp.Packet, error) {
	buf := make([]byte, 2048)
	_ = m.rtp.SetReadDeadline(time.Now().Add(wait))
	n, err := m.rtp.Read(buf)
	if err != nil {
		return nil, err
	}
	var p rtp.Packet
	if err := p.Unmarshal(buf[:n]); err != nil {
		return nil, err
	}
	return &p, nil
}

// startsKeyframe reports whether p is the first packet of an IDR access unit as camerad sends
// it: SPS first, alone or in a STAP-A.
func startsKeyframe(p *rtp.Packet) bool {
	if len(p.Payload) < 4 {
		return false
	}
	switch p.Payload[0] & 0x1f {
	case 7:
		return true
	case 24: // STAP-A: the first unit's type follows its 2-byte size
		return p.Payload[3]&0x1f == 7
	}
	return false
}

// drainRTCP discards the RTCP m has received so far.
func drainRTCP(m *udpClient) {
	buf := make([]byte, 1500)
	for {
		_ = m.rtcp.SetReadDeadline(time.Now().Add(time.Millisecond))
		if _, err := m.rtcp.Read(buf); err != nil {
			return
		}
	}
}

// setupMulticast sets up a multicast session and returns its id and the Transport reply.
func setupMulticast(c *rtspClient, url string) (string, string) {
	c.t.Helper()
	resp := c.mustDo(StatusOK, "SETUP", url+"/trackID=0", "Transport: RTP/AVP;multicast")
	return sessionID(resp.Header.Get("Session")), resp.Header.Get("Transport")
}

// TestMulticast: multicast viewers share one stream sent to the group, which starts at a
// keyframe, runs while any of them plays, and ends with an RTCP BYE when the last one leaves;
// a unicast viewer beside them is unaffected.
func TestMulticast(t *testing.T) {
	ns := newMulticastNetns(t)
	ts := startServerIn(t, Config{Multicast: testGroup}, "127.0.0.1:0", ns)
	member := joinGroup(t, ns, testGroup)

	a := ts.dial(t)
	idA, tr := setupMulticast(a, ts.url)
	want := fmt.Sprintf("RTP/AVP;multicast;destination=%s;port=%d-%d;ttl=1;", testGroup.Addr(), testGroup.Port(), testGroup.Port()+1)
	if !strings.HasPrefix(tr, want) || !ssrcParam.MatchString(tr) {
		t.Fatalf("Transport %q, want it to start with %q and carry an ssrc", tr, want)
	}
	if _, err := readRTPWithin(member, 300*time.Millisecond); err == nil {
		t.Fatal("the group receives RTP before anyone plays")
	}
	play := a.mustDo(StatusOK, "PLAY", ts.url+"/", "Session: "+idA)
	_, seq, rtptime := parseRTPInfo(t, play.Header.Get("RTP-Info"))
	first, err := readRTPWithin(member, ioDeadline)
	if err != nil {
		t.Fatalf("no RTP on the group after PLAY: %v", err)
	}
	if first.SequenceNumber != seq || first.Timestamp != rtptime || !startsKeyframe(first) {
		t.Fatalf("first packet seq %d ts %d keyframe %v; want RTP-Info's %d %d and a keyframe",
			first.SequenceNumber, first.Timestamp, startsKeyframe(first), seq, rtptime)
	}

	// A unicast viewer alongside gets its own numbering and all its packets.
	_, u, _, ssrc := ts.playUDP(t)
	if ssrc == first.SSRC {
		t.Fatal("the unicast viewer has the group's SSRC")
	}
	unicast := monitorUDP(t, u)

	// A second multicast viewer joins the running stream: it shares the group's SSRC, and the
	// sequence number PLAY announces is the next packet's.
	b := ts.dial(t)
	idB, trB := setupMulticast(b, ts.url)
	if trB != tr {
		t.Errorf("second viewer's Transport %q, want the group's %q", trB, tr)
	}
	// One copy of each frame reaches the group, in sequence, however many viewers there are:
	// a frame sent once per viewer would repeat its timestamp.
	last, lastTS, frames, keyframes := int(first.SequenceNumber), first.Timestamp, 0, 0
	next := func(wait time.Duration) (*rtp.Packet, error) {
		p, err := readRTPWithin(member, wait)
		if err != nil {
			return nil, err
		}
		if p.SequenceNumber != uint16(last+1) {
			t.Fatalf("group sequence jumps from %d to %d", last, p.SequenceNumber)
		}
		last = int(p.SequenceNumber)
		if p.SSRC != first.SSRC {
			t.Fatalf("group SSRC changed from %08X to %08X", first.SSRC, p.SSRC)
		}
		if p.Timestamp != lastTS {
			if int32(p.Timestamp-lastTS) <= 0 {
				t.Fatalf("frame timestamp %d after %d: a frame sent twice?", p.Timestamp, lastTS)
			}
			lastTS = p.Timestamp
			frames++
		}
		return p, nil
	}
	for { // what the group has had so far: the second PLAY must announce what comes after
		if _, err := next(time.Millisecond); err != nil {
			break
		}
	}
	drainRTCP(member) // the reports the group has had so far
	playB := b.mustDo(StatusOK, "PLAY", ts.url+"/", "Session: "+idB)
	_, seqB, rtptimeB := parseRTPInfo(t, playB.Header.Get("RTP-Info"))
	if d := seqB - uint16(last); d == 0 || d > 1000 {
		t.Errorf("second PLAY announces seq %d; the group had already sent %d", seqB, last)
	}
	frames = 0
	sawSeqB := false
	for frames < 45 {
		p, err := next(ioDeadline)
		if err != nil {
			t.Fatalf("group RTP stopped: %v", err)
		}
		sawSeqB = sawSeqB || p.SequenceNumber == seqB
		if startsKeyframe(p) {
			keyframes++
		}
	}
	if !sawSeqB {
		t.Errorf("no packet carried the sequence number %d announced to the second viewer", seqB)
	}
	if keyframes == 0 {
		t.Error("no keyframe for the second viewer within 45 frames of its PLAY")
	}
	// The joiner need not wait for the next periodic sender report (5 s) to sync.
	if sr := readSenderReport(t, member); int32(sr.RTPTime-rtptimeB) < 0 || sr.RTPTime-rtptimeB > clockRate {
		t.Errorf("first sender report after the second PLAY is for RTP time %d; want it with the next frames after its rtptime %d",
			sr.RTPTime, rtptimeB)
	}
	if n := len(ts.srv.Viewers()); n != 3 {
		t.Errorf("%d viewers listed, want 3", n)
	}

	// The first viewer leaves; the group carries on for the second, without a gap.
	a.mustDo(StatusOK, "TEARDOWN", ts.url+"/", "Session: "+idA)
	for range 30 {
		if _, err := next(ioDeadline); err != nil {
			t.Fatalf("group RTP stopped when one of two viewers left: %v", err)
		}
	}

	// The last one leaves: BYE to the group, then silence.
	b.mustDo(StatusOK, "TEARDOWN", ts.url+"/", "Session: "+idB)
	requireBye(t, member, first.SSRC)
	for {
		if _, err := readRTPWithin(member, time.Millisecond); err != nil { // what was queued before the BYE
			break
		}
	}
	if p, err := readRTPWithin(member, 300*time.Millisecond); err == nil {
		t.Fatalf("group RTP (seq %d) after the last multicast viewer left", p.SequenceNumber)
	}
	unicast.requireFlowing(t, "after the multicast group stopped")
}

// TestMulticastSentFromGroupPorts: the group's RTP comes from the group's port and its RTCP
// from the next one, not from the server's UDP ports: gortsplib's client (mediamtx pulling
// the camera over multicast) drops multicast packets from any other port than the
// Transport's.
func TestMulticastSentFromGroupPorts(t *testing.T) {
	ns := newMulticastNetns(t)
	ts := startServerIn(t, Config{Multicast: testGroup}, "127.0.0.1:0", ns)
	member := joinGroup(t, ns, testGroup)
	c := ts.dial(t)
	id, _ := setupMulticast(c, ts.url)
	c.mustDo(StatusOK, "PLAY", ts.url+"/", "Session: "+id)

	buf := make([]byte, 2048)
	for _, r := range []struct {
		what string
		conn *net.UDPConn
		port int
	}{
		{"RTP", member.rtp, int(testGroup.Port())},
		{"RTCP", member.rtcp, int(testGroup.Port()) + 1}, // the sender report with the first frame
	} {
		_ = r.conn.SetReadDeadline(time.Now().Add(ioDeadline))
		_, from, err := r.conn.ReadFromUDP(buf)
		if err != nil {
			t.Fatalf("no %s on the group after PLAY: %v", r.what, err)
		}
		if from.Port != r.port {
			t.Errorf("group %s came from port %d (the server's UDP ports are %v); want the group's %d",
				r.what, from.Port, ts.srv.UDPPorts(), r.port)
		}
	}
}

// TestMulticastRestarts: after the group stopped, a new multicast viewer starts it again at a
// keyframe.
func TestMulticastRestarts(t *testing.T) {
	ns := newMulticastNetns(t)
	ts := startServerIn(t, Config{Multicast: testGroup}, "127.0.0.1:0", ns)
	member := joinGroup(t, ns, testGroup)
	for round := range 2 {
		c := ts.dial(t)
		id, _ := setupMulticast(c, ts.url)
		c.mustDo(StatusOK, "PLAY", ts.url+"/", "Session: "+id)
		p, err := readRTPWithin(member, ioDeadline)
		if err != nil {
			t.Fatalf("round %d: no group RTP: %v", round, err)
		}
		if !startsKeyframe(p) {
			t.Fatalf("round %d: the group starts with a non-keyframe packet", round)
		}
		c.mustDo(StatusOK, "TEARDOWN", ts.url+"/", "Session: "+id)
		requireBye(t, member, p.SSRC)
		for {
			if _, err := readRTPWithin(member, time.Millisecond); err != nil {
				break
			}
		}
	}
}

// TestMulticastSessionEndsWithoutTeardown: a multicast viewer that vanishes without TEARDOWN
// (connection gone, no more keep-alives) is ended by the session timeout, and the group stops
// with it.
func TestMulticastSessionEndsWithoutTeardown(t *testing.T) {
	ns := newMulticastNetns(t)
	ts := startServerIn(t, Config{Multicast: testGroup, SessionTimeout: time.Second}, "127.0.0.1:0", ns)
	member := joinGroup(t, ns, testGroup)
	c := ts.dial(t)
	id, _ := setupMulticast(c, ts.url)
	c.mustDo(StatusOK, "PLAY", ts.url+"/", "Session: "+id)
	p, err := readRTPWithin(member, ioDeadline)
	if err != nil {
		t.Fatalf("no group RTP: %v", err)
	}
	c.nc.Close()
	requireBye(t, member, p.SSRC)
	waitUntil(t, "the session to end", func() bool { return ts.srv.SessionCount() == 0 })
}

// TestMulticastRefused: without a group configured, or over TCP, multicast is not offered.
func TestMulticastRefused(t *testing.T) {
	ts := startServer(t, Config{})
	c := ts.dial(t)
	c.mustDo(StatusUnsupportedTransport, "SETUP", ts.url+"/trackID=0", "Transport: RTP/AVP;multicast")
	resp := c.mustDo(StatusOK, "SETUP", ts.url+"/trackID=0", "Transport: RTP/AVP;multicast,RTP/AVP/TCP;unicast;interleaved=0-1")
	if tr := resp.Header.Get("Transport"); !strings.HasPrefix(tr, "RTP/AVP/TCP;") {
		t.Errorf("Transport %q, want the TCP alternative", tr)
	}
}

// TestMulticastGroupChecked: a group the server cannot serve is a NewServer error that says
// why, not a stream sent somewhere odd.
func TestMulticastGroupChecked(t *testing.T) {
	for _, tc := range []struct {
		group string
		want  string
	}{
		{"192.168.1.10:5004", "not an IPv4 multicast address"},
		{"[ff02::1]:5004", "not an IPv4 multicast address"},
		{"224.0.0.5:5004", "reserved for routing"},
		{"239.255.1.1:5005", "must be even"},
	} {
		_, err := NewServer(Config{Multicast: netip.MustParseAddrPort(tc.group)}, NewStream(StreamConfig{}))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("group %s: err %v, want one saying %q", tc.group, err, tc.want)
		}
	}
	// The group may not share the server's own RTP port: Linux would deliver the group's
	// packets to the server's socket.
	socks, err := listenUDPPorts("", 0)
	if err != nil {
		t.Fatal(err)
	}
	port := socks.rtp.local.Port
	socks.close()
	_, err = NewServer(Config{UDPPort: port, Multicast: netip.AddrPortFrom(testGroup.Addr(), uint16(port))}, NewStream(StreamConfig{}))
	if err == nil || !strings.Contains(err.Error(), "needs other ones") {
		t.Errorf("group on the server's port: err %v", err)
	}
}

// TestMulticastWithoutRoute: where the kernel has no route for the group, multicast SETUP gets
// 461 (or the next alternative) instead of a group that would never receive a packet.
func TestMulticastWithoutRoute(t *testing.T) {
	ns := newLoopbackNetns(t) // lo only: no default route, no multicast route
	ts := startServerIn(t, Config{Multicast: testGroup}, "127.0.0.1:0", ns)
	c := ts.dial(t)
	c.mustDo(StatusUnsupportedTransport, "SETUP", ts.url+"/trackID=0", "Transport: RTP/AVP;multicast")
	resp := c.mustDo(StatusOK, "SETUP", ts.url+"/trackID=0", "Transport: RTP/AVP;multicast,RTP/AVP/TCP;unicast;interleaved=0-1")
	if tr := resp.Header.Get("Transport"); !strings.HasPrefix(tr, "RTP/AVP/TCP;") {
		t.Errorf("Transport %q, want the TCP alternative", tr)
	}
}
