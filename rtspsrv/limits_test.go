package rtspsrv

import (
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
)

// TestRequestLimits sends requests over each bound: each gets 400 and a close, and the server
// goes on serving.
func TestRequestLimits(t *testing.T) {
	ts := startServer(t, Config{Limits: Limits{MaxLineBytes: 256, MaxHeaders: 8, MaxHeaderBytes: 512, MaxBodyBytes: 128}})
	healthy, _, _ := ts.playTCP(t)
	mon := monitorTCP(t, healthy, 0)
	headers := func(n, size int) string {
		var b strings.Builder
		for i := range n {
			fmt.Fprintf(&b, "X-H%d: %s\r\n", i, strings.Repeat("v", size))
		}
		return b.String()
	}
	// Each is answered with its status and, where it came before the fault, its CSeq, and the
	// connection closes: what follows can no longer be told apart from the request.
	cases := []struct {
		name, raw string
		status    int
		cseq      string
	}{
		{"request line", "DESCRIBE rtsp://127.0.0.1/" + strings.Repeat("a", 300) + " RTSP/1.0\r\nCSeq: 1\r\n\r\n", StatusRequestURITooLarge, ""},
		{"endless line", "DESCRIBE rtsp://127.0.0.1/" + strings.Repeat("a", 64<<10), StatusRequestURITooLarge, ""},
		{"header line", "OPTIONS * RTSP/1.0\r\nCSeq: 2\r\nX: " + strings.Repeat("a", 300) + "\r\n\r\n", StatusBadRequest, "2"},
		{"header count", "OPTIONS * RTSP/1.0\r\nCSeq: 3\r\n" + headers(8, 1) + "\r\n", StatusBadRequest, "3"},
		{"header bytes", "OPTIONS * RTSP/1.0\r\nCSeq: 4\r\n" + headers(5, 120) + "\r\n", StatusBadRequest, "4"},
		{"bad header line", "OPTIONS * RTSP/1.0\r\nCSeq: 5\r\nBogusHeader\r\n\r\n", StatusBadRequest, "5"},
		{"body", "SET_PARAMETER * RTSP/1.0\r\nCSeq: 6\r\nContent-Length: 129\r\n\r\n", StatusRequestEntityTooLarge, "6"},
		{"huge body", "SET_PARAMETER * RTSP/1.0\r\nCSeq: 7\r\nContent-Length: 2147483647\r\n\r\n", StatusRequestEntityTooLarge, "7"},
		{"two lengths", "SET_PARAMETER * RTSP/1.0\r\nCSeq: 8\r\nContent-Length: 0\r\nContent-Length: 5\r\n\r\nhello", StatusBadRequest, "8"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := ts.dial(t)
			c.send(tc.raw)
			resp, err := c.readResponse()
			if err != nil || resp.Status != tc.status {
				t.Fatalf("got %v %v, want %d", resp, err, tc.status)
			}
			if got := resp.Header.Get("CSeq"); got != tc.cseq {
				t.Errorf("CSeq %q, want %q", got, tc.cseq)
			}
			c.requireClosed()
			mon.requireFlowing(t, tc.name)
			ts.dial(t).mustDo(StatusOK, "OPTIONS", "*")
		})
	}
	// Just under every bound is fine.
	c := ts.dial(t)
	c.mustDo(StatusOK, "OPTIONS", ts.url, strings.Split(strings.TrimSuffix(headers(6, 60), "\r\n"), "\r\n")...)
	c.send("SET_PARAMETER * RTSP/1.0\r\nCSeq: 9\r\nContent-Length: 0\r\n\r\n")
	if resp, err := c.readResponse(); err != nil || resp.Status != StatusOK {
		t.Fatalf("empty SET_PARAMETER: %v %v", resp, err)
	}
}

// TestHalfSentRequest: a request that starts but never ends is cut off by RequestTimeout even
// though the idle timeout is long, and leaves nothing behind.
func TestHalfSentRequest(t *testing.T) {
	ts := startServer(t, Config{RequestTimeout: 200 * time.Millisecond, IdleTimeout: time.Hour})
	ts.dial(t).mustDo(StatusOK, "OPTIONS", "*") // warm up: the runtime's own fds and goroutines
	g, fds := runtime.NumGoroutine(), countFDs(t)
	for _, partial := range []string{
		"OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n", // no blank line
		"OPT",                               // half a request line
		"SET_PARAMETER * RTSP/1.0\r\nCSeq: 1\r\nContent-Length: 10\r\n\r\n01234", // half a body
		"$\x01\x00\x10abc", // half an interleaved frame
	} {
		c := ts.dial(t)
		c.send(partial)
		c.requireClosed()
		c.nc.Close()
	}
	settleResources(t, g, fds)
}

// TestIdleConnection: a connection that never says anything is closed after RequestTimeout,
// however long the idle timeout; one that went quiet after a request is closed after
// IdleTimeout; one that keeps asking stays.
func TestIdleConnection(t *testing.T) {
	patient := startServer(t, Config{RequestTimeout: 300 * time.Millisecond, IdleTimeout: time.Hour})
	silent := patient.dial(t)
	silent.requireClosed()

	ts := startServer(t, Config{IdleTimeout: 300 * time.Millisecond})
	once := ts.dial(t)
	once.mustDo(StatusOK, "OPTIONS", "*")
	once.requireClosed()

	busy := ts.dial(t)
	for range 20 { // about 3 idle timeouts
		busy.mustDo(StatusOK, "OPTIONS", "*")
		time.Sleep(40 * time.Millisecond)
	}
}

// TestConnectionsPerHost: one address holds at most MaxViewers+hostConnSlack connections;
// the next has its first request answered 503 (with Retry-After) and is closed; while
// maxRefusing such connections sit silent, one more is closed unanswered; closing a served
// connection makes room again.
func TestConnectionsPerHost(t *testing.T) {
	ts := startServer(t, Config{MaxViewers: 2})
	limit := 2 + hostConnSlack
	var open []*rtspClient
	for range limit {
		c := ts.dial(t)
		c.mustDo(StatusOK, "OPTIONS", "*")
		open = append(open, c)
	}
	extra := ts.dial(t)
	extra.send("OPTIONS * RTSP/1.0\r\nCSeq: 7\r\n\r\n")
	resp, err := extra.readResponse()
	if err != nil {
		t.Fatalf("connection %d from one address: %v; want 503", limit+1, err)
	}
	if resp.Status != StatusServiceUnavailable || resp.Header.Get("CSeq") != "7" || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("connection %d from one address: %d, CSeq %q, Retry-After %q; want 503, 7 and a delay",
			limit+1, resp.Status, resp.Header.Get("CSeq"), resp.Header.Get("Retry-After"))
	}
	if _, err := extra.readResponse(); err == nil {
		t.Fatal("the refused connection stayed open after its 503")
	}

	// Silent connections over the limit hold every refusing slot; the next is not waited on.
	for range maxRefusing {
		ts.dial(t)
	}
	waitUntil(t, "the refusing slots to fill", func() bool { return len(ts.srv.refusing) == maxRefusing })
	unanswered := ts.dial(t)
	unanswered.send("OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n")
	if resp, err := unanswered.readResponse(); err == nil {
		t.Fatalf("with every refusing slot busy, connection answered %d; want it closed", resp.Status)
	}

	open[0].nc.Close()
	waitUntil(t, "the closed connection to be forgotten", func() bool {
		ts.srv.mu.Lock()
		defer ts.srv.mu.Unlock()
		return ts.srv.byHost["127.0.0.1"] < limit
	})
	ts.dial(t).mustDo(StatusOK, "OPTIONS", "*")
}

// TestKeepAlive covers the three ways a session stays alive (DESIGN §4): requests carrying
// the session, RTCP receiver reports (UDP and interleaved), and, for TCP, the connection.
// Each runs over several session timeouts; without it, the session ends.
func TestKeepAlive(t *testing.T) {
	// Keep-alives go out every timeout/6: a wide margin for a loaded machine.
	const timeout = 300 * time.Millisecond
	ts := startServer(t, Config{SessionTimeout: timeout, IdleTimeout: timeout})
	const window = 3 * timeout

	t.Run("session header", func(t *testing.T) {
		c, _, id, _ := ts.playUDP(t)
		// GET_PARAMETER (FFmpeg, VLC) and OPTIONS (older LIVE555) both carry the session.
		for i, end := 0, time.Now().Add(window); time.Now().Before(end); i++ {
			m := "GET_PARAMETER"
			if i%2 == 1 {
				m = "OPTIONS"
			}
			r := c.mustDo(StatusOK, m, ts.url, "Session: "+id)
			if got := sessionID(r.Header.Get("Session")); got != id {
				t.Fatalf("%s keep-alive answered with Session %q; want it echoed (%s)", m, got, id)
			}
			time.Sleep(timeout / 6)
		}
		if ts.srv.session(id) == nil {
			t.Fatal("session ended although the client kept it alive with requests")
		}
		c.mustDo(StatusOK, "TEARDOWN", ts.url, "Session: "+id)
	})

	t.Run("RTCP over UDP", func(t *testing.T) {
		c, u, id, ssrc := ts.playUDP(t)
		// The control connection goes away: UDP sessions outlive it (RFC 2326 allows a client
		// to come back), kept alive by RTCP alone.
		c.nc.Close()
		rr, _ := (&rtcp.ReceiverReport{SSRC: 42, Reports: []rtcp.ReceptionReport{{SSRC: ssrc, TotalLost: 3}}}).Marshal()
		srvRTCP := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: ts.srv.UDPPorts()[1]}
		for end := time.Now().Add(window); time.Now().Before(end); time.Sleep(timeout / 6) {
			if _, err := u.rtcp.WriteToUDP(rr, srvRTCP); err != nil {
				t.Fatal(err)
			}
		}
		if ts.srv.session(id) == nil {
			t.Fatal("session ended although the client sent receiver reports")
		}
		// Silence: the session times out and says BYE on RTCP.
		waitUntil(t, "silent UDP session reaped", func() bool { return ts.srv.session(id) == nil })
		requireBye(t, u, ssrc)
	})

	t.Run("RTCP interleaved", func(t *testing.T) {
		c, id, _ := ts.playTCP(t)
		first := c.readRTP(0)
		rr, _ := (&rtcp.ReceiverReport{SSRC: 42, Reports: []rtcp.ReceptionReport{{SSRC: first.SSRC, Jitter: 5}}}).Marshal()
		frame := string([]byte{'$', 1, 0, byte(len(rr))}) + string(rr)
		mon := monitorTCP(t, c, 0)
		for end := time.Now().Add(window); time.Now().Before(end); time.Sleep(timeout / 6) {
			c.send(frame)
		}
		mon.requireFlowing(t, "interleaved RR")
		if ts.srv.session(id) == nil {
			t.Fatal("session ended")
		}
	})

	t.Run("TCP connection", func(t *testing.T) {
		c, id, _ := ts.playTCP(t)
		mon := monitorTCP(t, c, 0)
		// No request, no RTCP: the open connection that media flows over is enough, and the
		// idle timeout does not apply while it plays.
		time.Sleep(window)
		mon.requireFlowing(t, "TCP keep-alive")
		if ts.srv.session(id) == nil {
			t.Fatal("TCP session ended while its connection was open")
		}
	})

	t.Run("nothing", func(t *testing.T) {
		c := ts.dial(t)
		u := listenUDPClient(t)
		p := u.ports()
		setup := c.mustDo(StatusOK, "SETUP", ts.url+"/trackID=0", fmt.Sprintf("Transport: RTP/AVP;unicast;client_port=%d-%d", p[0], p[1]))
		id := sessionID(setup.Header.Get("Session"))
		waitUntil(t, "unused session reaped", func() bool { return ts.srv.session(id) == nil })
		// The client learns on its next request.
		c2 := ts.dial(t)
		c2.mustDo(StatusSessionNotFound, "PLAY", ts.url, "Session: "+id)
	})
}

// TestRTCPSilence: a playing UDP viewer that sent receiver reports and then stopped (a player
// killed without TEARDOWN, or cut off by an outage) is sent nothing more after RTCPTimeout,
// long before the session timeout. Its session lives on: when it is heard from again (a
// receiver report, or a request), its stream resumes from a keyframe, in sequence; if it is
// not, the session timeout ends it with a BYE. Viewers that never send RTCP, and paused ones,
// are not held.
func TestRTCPSilence(t *testing.T) {
	const rtcpTimeout = 300 * time.Millisecond
	ts := startServer(t, Config{RTCPTimeout: rtcpTimeout})
	srvRTCP := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: ts.srv.UDPPorts()[1]}
	// reportTo sends receiver reports to srv for d and returns when the last one was sent.
	reportTo := func(t *testing.T, srv *net.UDPAddr, u *udpClient, ssrc uint32, d time.Duration) (last time.Time) {
		rr, _ := (&rtcp.ReceiverReport{SSRC: 42, Reports: []rtcp.ReceptionReport{{SSRC: ssrc}}}).Marshal()
		for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(rtcpTimeout / 6) {
			last = time.Now()
			if _, err := u.rtcp.WriteToUDP(rr, srv); err != nil {
				t.Fatal(err)
			}
		}
		return last
	}
	report := func(t *testing.T, u *udpClient, ssrc uint32, d time.Duration) time.Time {
		return reportTo(t, srvRTCP, u, ssrc, d)
	}

	t.Run("reports stop", func(t *testing.T) {
		c, u, id, ssrc := ts.playUDP(t)
		rec := recordUDP(t, u)
		for round, wake := range []struct {
			how  string
			poke func()
		}{
			{"a receiver report", func() { report(t, u, ssrc, time.Millisecond) }},
			{"a request", func() { c.mustDo(StatusOK, "GET_PARAMETER", ts.url, "Session: "+id) }},
		} {
			stopped := report(t, u, ssrc, 3*rtcpTimeout)
			ss := ts.srv.session(id)
			if ss == nil {
				t.Fatal("session ended while its viewer sent receiver reports")
			}
			waitUntil(t, "the silent viewer's stream held", func() bool { return ss.heldAt.Load() != 0 })
			if waited := time.Duration(ss.heldAt.Load() - ss.clock(stopped)); waited < rtcpTimeout {
				t.Fatalf("held %v after the last report, before RTCPTimeout (%v)", waited, rtcpTimeout)
			}
			time.Sleep(50 * time.Millisecond) // a packet already on its way
			before := rec.count()
			time.Sleep(3 * rtcpTimeout)
			if got := rec.count(); got != before {
				t.Fatalf("round %d: %d packets sent to a held viewer", round, got-before)
			}
			if ts.srv.session(id) == nil {
				t.Fatal("the held session ended before the session timeout")
			}
			if n := len(ts.srv.Viewers()); n != 0 {
				t.Errorf("a held viewer is listed among %d watching", n)
			}

			wake.poke()
			waitUntil(t, "the stream to resume after "+wake.how, func() bool { return rec.count() > before })
			last, next := rec.at(before-1), rec.at(before)
			if next.SequenceNumber != last.SequenceNumber+1 {
				t.Errorf("after %s: sequence %d follows %d; want no gap", wake.how, next.SequenceNumber, last.SequenceNumber)
			}
			if !startsKeyframe(&next) {
				t.Errorf("after %s: the stream resumes with NAL type %d, want a keyframe", wake.how, next.Payload[0]&0x1f)
			}
			if next.Timestamp-last.Timestamp > 1<<31 {
				t.Errorf("after %s: RTP time went back from %d to %d", wake.how, last.Timestamp, next.Timestamp)
			}
		}
		// Resumed by a request and still silent: held again, not sent to for good.
		ss := ts.srv.session(id)
		waitUntil(t, "a viewer resumed by a request and still silent held again", func() bool { return ss.heldAt.Load() != 0 })
	})

	t.Run("held until the session timeout", func(t *testing.T) {
		const sessionTimeout = 1500 * time.Millisecond
		ts := startServer(t, Config{RTCPTimeout: rtcpTimeout, SessionTimeout: sessionTimeout})
		_, u, id, ssrc := ts.playUDP(t)
		stopped := reportTo(t, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: ts.srv.UDPPorts()[1]}, u, ssrc, 2*rtcpTimeout)
		waitUntil(t, "the silent viewer's session ended", func() bool { return ts.srv.session(id) == nil })
		if waited := time.Since(stopped); waited < sessionTimeout {
			t.Fatalf("ended %v after the last report, before the session timeout (%v)", waited, sessionTimeout)
		}
		requireBye(t, u, ssrc)
	})

	t.Run("never reports", func(t *testing.T) {
		_, u, id, _ := ts.playUDP(t)
		mon := monitorUDP(t, u)
		time.Sleep(4 * rtcpTimeout)
		mon.requireFlowing(t, "viewer without RTCP")
		if ts.srv.session(id) == nil {
			t.Fatal("a viewer that never sent RTCP was ended before the session timeout")
		}
	})

	t.Run("paused", func(t *testing.T) {
		c, u, id, ssrc := ts.playUDP(t)
		report(t, u, ssrc, rtcpTimeout)
		c.mustDo(StatusOK, "PAUSE", ts.url, "Session: "+id)
		time.Sleep(3 * rtcpTimeout)
		if ts.srv.session(id) == nil {
			t.Fatal("a paused session was ended for RTCP silence")
		}
		// Resuming does not count the silence during the pause against it.
		c.mustDo(StatusOK, "PLAY", ts.url, "Session: "+id)
		time.Sleep(2 * rtcpTimeout)
		if ts.srv.session(id) == nil {
			t.Fatal("a resumed session was ended for RTCP silence before reporting again")
		}
	})
}

// TestHeldViewerGivesUpItsPlace: at the viewer limit, a SETUP takes the place of a UDP viewer
// held for silence, the one held longest first, which gets a BYE; with none held, it gets 503
// as before.
func TestHeldViewerGivesUpItsPlace(t *testing.T) {
	const rtcpTimeout = 300 * time.Millisecond
	ts := startServer(t, Config{MaxViewers: 2, RTCPTimeout: rtcpTimeout})
	srvRTCP := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: ts.srv.UDPPorts()[1]}
	report := func(u *udpClient, ssrc uint32) {
		rr, _ := (&rtcp.ReceiverReport{SSRC: 42, Reports: []rtcp.ReceptionReport{{SSRC: ssrc}}}).Marshal()
		if _, err := u.rtcp.WriteToUDP(rr, srvRTCP); err != nil {
			t.Fatal(err)
		}
	}
	setup := func(want int) {
		t.Helper()
		ts.dial(t).mustDo(want, "SETUP", ts.url+"/trackID=0", "Transport: RTP/AVP/TCP;unicast")
	}

	_, first, firstID, firstSSRC := ts.playUDP(t)
	_, second, secondID, secondSSRC := ts.playUDP(t)
	report(first, firstSSRC)
	// The second keeps reporting until the first is held, then falls silent too.
	for ts.srv.session(firstID).heldSince().IsZero() {
		report(second, secondSSRC)
		time.Sleep(rtcpTimeout / 6)
	}
	waitUntil(t, "the second viewer held", func() bool { return !ts.srv.session(secondID).heldSince().IsZero() })

	setup(StatusOK)
	if ts.srv.session(firstID) != nil {
		t.Fatal("the viewer held longest kept its place")
	}
	requireBye(t, first, firstSSRC)
	if ts.srv.session(secondID) == nil {
		t.Fatal("the viewer held more recently lost its place first")
	}
	setup(StatusOK)
	if ts.srv.session(secondID) != nil {
		t.Fatal("the second held viewer kept its place")
	}
	requireBye(t, second, secondSSRC)
	// Two sessions that are not held: no place to give.
	setup(StatusServiceUnavailable)
	if n := ts.srv.SessionCount(); n != 2 {
		t.Fatalf("%d sessions, want 2", n)
	}
}

// TestUnheardUDPViewerEndsWithItsConnection: a UDP session lives on after its connection
// closes only if its viewer has been heard from over UDP (players send receiver reports);
// sessions played to ports that never answer, their connections closed, would otherwise hold
// every viewer slot for the session timeout.
func TestUnheardUDPViewerEndsWithItsConnection(t *testing.T) {
	ts := startServer(t, Config{MaxViewers: 2})
	srvRTCP := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: ts.srv.UDPPorts()[1]}

	reporting, u, reportingID, ssrc := ts.playUDP(t)
	rr, _ := (&rtcp.ReceiverReport{SSRC: 42, Reports: []rtcp.ReceptionReport{{SSRC: ssrc}}}).Marshal()
	if _, err := u.rtcp.WriteToUDP(rr, srvRTCP); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the receiver report heard", func() bool { return ts.srv.session(reportingID).heardOverUDP.Load() })
	silent, _, silentID, _ := ts.playUDP(t)

	reporting.nc.Close()
	silent.nc.Close()
	waitUntil(t, "the silent viewer's session ended with its connection", func() bool { return ts.srv.session(silentID) == nil })
	if ts.srv.session(reportingID) == nil {
		t.Fatal("a viewer that reported lost its session with its connection")
	}
	// Its slot is free again.
	ts.dial(t).mustDo(StatusOK, "SETUP", ts.url+"/trackID=0", "Transport: RTP/AVP/TCP;unicast")
}

// udpRecorder keeps every RTP packet a UDP viewer receives.
type udpRecorder struct {
	mu      sync.Mutex
	packets []rtp.Packet
}

func recordUDP(t *testing.T, u *udpClient) *udpRecorder {
	r := &udpRecorder{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			buf := make([]byte, 2048)
			n, err := u.rtp.Read(buf)
			if err != nil {
				return
			}
			var p rtp.Packet
			if p.Unmarshal(buf[:n]) == nil {
				r.mu.Lock()
				r.packets = append(r.packets, p)
				r.mu.Unlock()
			}
		}
	}()
	t.Cleanup(func() { u.rtp.Close(); <-done })
	return r
}

func (r *udpRecorder) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.packets)
}

func (r *udpRecorder) at(i int) rtp.Packet {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.packets[i]
}

// TestUnreachableRuns: ICMP errors end a UDP viewer only when one run of them lasts
// unreachableGrace. Short blips do not, however many there were before (a viewer that
// survived one blip must survive the next), and a dead viewer whose host rate-limits its
// errors to one every several seconds is still ended at its second.
func TestUnreachableRuns(t *testing.T) {
	cfg := &Config{SessionTimeout: time.Hour, RTCPTimeout: time.Hour}
	t0 := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
	newSession := func() *session {
		ss := &session{lower: LowerUDP, state: statePlaying, epoch: t0}
		ss.lastSeen.Store(ss.clock(t0.Add(time.Hour))) // keep-alives are not the point here
		return ss
	}
	errorsFor := func(ss *session, from, length time.Duration) {
		for d := time.Duration(0); d <= length; d += 50 * time.Millisecond {
			ss.unreachable(t0.Add(from + d))
		}
	}
	at := func(d time.Duration) time.Time { return t0.Add(d) }

	ss := newSession()
	for _, blip := range []time.Duration{0, 20 * time.Second, 40 * time.Second} {
		errorsFor(ss, blip, 300*time.Millisecond)
		for _, after := range []time.Duration{400 * time.Millisecond, time.Second, 3 * time.Second} {
			if _, why := ss.expiry(at(blip+after), cfg); why != "" {
				t.Fatalf("a 0.3 s blip at %v ended the viewer %v later: %q", blip, after, why)
			}
		}
	}
	errorsFor(ss, time.Minute, 2500*time.Millisecond) // the port closes for good
	if _, why := ss.expiry(at(time.Minute+2600*time.Millisecond), cfg); why != "viewer unreachable" {
		t.Errorf("errors for 2.5 s: expiry %q, want the viewer ended", why)
	}

	slow := newSession() // one error every 7 s: its host shares its ICMP budget with others
	slow.unreachable(at(0))
	if _, why := slow.expiry(at(time.Second), cfg); why != "" {
		t.Fatalf("one error ended the viewer: %q", why)
	}
	slow.unreachable(at(7 * time.Second))
	if _, why := slow.expiry(at(7500*time.Millisecond), cfg); why != "viewer unreachable" {
		t.Errorf("errors 7 s apart: expiry %q, want the viewer ended", why)
	}
}

// TestUnreachableViewerEnds: a UDP viewer whose ports close (a player killed without
// TEARDOWN; its host then answers our packets with "port unreachable") is ended within
// seconds, though its RTSP side is kept alive and the session and RTCP timeouts are long;
// the other viewers lose nothing. A viewer whose RTP port is refused but that still sends
// receiver reports is alive and is not ended.
func TestUnreachableViewerEnds(t *testing.T) {
	ts := startServer(t, Config{})
	srvRTCP := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: ts.srv.UDPPorts()[1]}
	_, healthy, _, _ := ts.playUDP(t)
	mon := monitorUDP(t, healthy)

	t.Run("ports closed", func(t *testing.T) {
		c, gone, id, _ := ts.playUDP(t)
		gone.rtp.Close()
		gone.rtcp.Close()
		c.mustDo(StatusOK, "GET_PARAMETER", ts.url, "Session: "+id) // the RTSP side stays alive
		waitUntil(t, "the unreachable viewer to be ended", func() bool { return ts.srv.session(id) == nil })
		mon.requireFlowing(t, "after a viewer vanished")
	})

	t.Run("still reporting", func(t *testing.T) {
		_, u, id, ssrc := ts.playUDP(t)
		u.rtp.Close() // RTP is refused, but the player is there: its reports keep coming
		rr, _ := (&rtcp.ReceiverReport{SSRC: 42, Reports: []rtcp.ReceptionReport{{SSRC: ssrc}}}).Marshal()
		for end := time.Now().Add(2 * unreachableGrace); time.Now().Before(end); time.Sleep(200 * time.Millisecond) {
			if _, err := u.rtcp.WriteToUDP(rr, srvRTCP); err != nil {
				t.Fatal(err)
			}
		}
		if ts.srv.session(id) == nil {
			t.Fatal("a viewer that sends receiver reports was ended as unreachable")
		}
	})
}

// requireBye reads u's RTCP socket until an RTCP BYE for ssrc arrives, and returns the
// compound packet that carried it. The deadline covers the whole wait: sender reports keep
// coming meanwhile.
func requireBye(t *testing.T, u *udpClient, ssrc uint32) []rtcp.Packet {
	t.Helper()
	return readRTCPUntil(t, u, "BYE", func(p rtcp.Packet) bool {
		bye, ok := p.(*rtcp.Goodbye)
		return ok && len(bye.Sources) == 1 && bye.Sources[0] == ssrc
	})
}

// TestConnectionReset: a TCP viewer whose connection is reset mid-stream ends only its own
// session; UDP and TCP viewers keep receiving without a lost packet; no goroutine, fd or
// access unit is left behind.
func TestConnectionReset(t *testing.T) {
	ts := startServer(t, Config{})
	tcpViewer, _, _ := ts.playTCP(t)
	tcpMon := monitorTCP(t, tcpViewer, 0)
	uc := ts.dial(t)
	u := listenUDPClient(t)
	p := u.ports()
	setup := uc.mustDo(StatusOK, "SETUP", ts.url+"/trackID=0", fmt.Sprintf("Transport: RTP/AVP;unicast;client_port=%d-%d", p[0], p[1]))
	udpID := sessionID(setup.Header.Get("Session"))
	uc.mustDo(StatusOK, "PLAY", ts.url, "Session: "+udpID)
	udpMon := monitorUDP(t, u)
	tcpMon.requireFlowing(t, "before")
	udpMon.requireFlowing(t, "before")

	// Warm up once so that the runtime's lazily created goroutines and fds are in the baseline.
	warm, _, _ := ts.playTCP(t)
	warm.readRTP(0)
	resetConn(t, warm)
	waitUntil(t, "warm-up session gone", func() bool { return ts.srv.SessionCount() == 2 })
	g, fds := runtime.NumGoroutine(), countFDs(t)

	for round := range 3 {
		victim, id, _ := ts.playTCP(t)
		victim.readRTP(0)
		if round == 1 {
			// Reset while the server is in the middle of a request, too.
			victim.send("GET_PARAMETER " + ts.url + " RTSP/1.0\r\nCSeq: 9\r\n")
		}
		resetConn(t, victim)
		waitUntil(t, "reset session gone", func() bool { return ts.srv.session(id) == nil })
		tcpMon.requireFlowing(t, fmt.Sprintf("round %d", round))
		udpMon.requireFlowing(t, fmt.Sprintf("round %d", round))
	}
	if n := ts.srv.SessionCount(); n != 2 {
		t.Errorf("%d sessions, want the 2 healthy ones", n)
	}
	settleResources(t, g, fds)
	if ts.srv.session(udpID) == nil {
		t.Error("the UDP viewer's session ended")
	}
}

// resetConn closes c with SO_LINGER 0, so the server sees a TCP RST, as when a viewer's Wi-Fi
// drops or a player is killed.
func resetConn(t *testing.T, c *rtspClient) {
	t.Helper()
	tc := c.nc.(*net.TCPConn)
	if err := tc.SetLinger(0); err != nil {
		t.Fatal(err)
	}
	tc.Close()
}

// TestSessionIDs: ids are 64 random bits in hex, distinct, announced with the timeout.
func TestSessionIDs(t *testing.T) {
	ts := startServer(t, Config{MaxViewers: 64})
	seen := map[string]bool{}
	for i := range 40 {
		c := ts.dial(t)
		resp := c.mustDo(StatusOK, "SETUP", ts.url+"/trackID=0", "Transport: RTP/AVP/TCP;unicast")
		h := resp.Header.Get("Session")
		id, rest, _ := strings.Cut(h, ";")
		if rest != "timeout=60" {
			t.Errorf("Session %q: want ;timeout=60 (the default)", h)
		}
		if len(id) != 16 || strings.Trim(id, "0123456789ABCDEF") != "" {
			t.Errorf("session id %q: want 16 hex digits", id)
		}
		if seen[id] {
			t.Fatalf("session id %q handed out twice", id)
		}
		seen[id] = true
		if i%2 == 0 {
			c.mustDo(StatusOK, "TEARDOWN", ts.url, "Session: "+id)
		}
	}
}

// TestUnplayedSessionsEndWithConnection: a UDP session that was set up, or paused, but is not
// playing when its connection closes ends with it; only a playing one lives on (see
// TestKeepAlive). Otherwise a client could fill every viewer slot for a session timeout with
// SETUPs on connections it closes at once, and every new viewer would get 503 meanwhile.
func TestUnplayedSessionsEndWithConnection(t *testing.T) {
	const maxViewers = 3
	ts := startServer(t, Config{MaxViewers: maxViewers})
	for i := range 2 * maxViewers {
		c := ts.dial(t)
		p := listenUDPClient(t).ports()
		setup := c.mustDo(StatusOK, "SETUP", ts.url+"/trackID=0", fmt.Sprintf("Transport: RTP/AVP;unicast;client_port=%d-%d", p[0], p[1]))
		id := sessionID(setup.Header.Get("Session"))
		if i%2 == 1 { // played, then paused
			c.mustDo(StatusOK, "PLAY", ts.url, "Session: "+id)
			c.mustDo(StatusOK, "PAUSE", ts.url, "Session: "+id)
		}
		c.nc.Close()
		waitUntil(t, "the unplayed session to end with its connection", func() bool { return ts.srv.session(id) == nil })
	}
	// The slots are free: a viewer plays.
	_, _, id, _ := ts.playUDP(t)
	if ts.srv.session(id) == nil {
		t.Fatal("new viewer has no session")
	}
}

// TestSessionsPerConnection: one connection cannot set up more than a few sessions, so a
// single client cannot take every viewer slot over it.
func TestSessionsPerConnection(t *testing.T) {
	ts := startServer(t, Config{MaxViewers: 50})
	c := ts.dial(t)
	for range maxSessionsPerConn {
		p := listenUDPClient(t).ports()
		c.mustDo(StatusOK, "SETUP", ts.url+"/trackID=0", fmt.Sprintf("Transport: RTP/AVP;unicast;client_port=%d-%d", p[0], p[1]))
	}
	p := listenUDPClient(t).ports()
	c.mustDo(StatusServiceUnavailable, "SETUP", ts.url+"/trackID=0", fmt.Sprintf("Transport: RTP/AVP;unicast;client_port=%d-%d", p[0], p[1]))
	c.mustDo(StatusOK, "OPTIONS", ts.url) // the connection itself is fine
	ts.playUDP(t)                         // and another connection is served
}

// TestBadRequestEndsViewerWithReason: a playing viewer whose connection sends garbage is
// answered 400 and ended, and its "viewer left" line says why at the default log level.
func TestBadRequestEndsViewerWithReason(t *testing.T) {
	var logs syncBuffer
	ts := startServer(t, Config{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	c, id, _ := ts.playTCP(t)
	c.send("hello garbage\r\n\r\n")
	waitUntil(t, "the session to end", func() bool { return ts.srv.session(id) == nil })
	waitUntil(t, "the reason to be logged", func() bool {
		return strings.Contains(logs.String(), `msg="viewer left" session=`+id) && strings.Contains(logs.String(), `reason="bad request: malformed request: request line`)
	})
}

// TestSetupWithoutPlayIsQuiet: a client looping on SETUP and TEARDOWN without playing leaves
// nothing in the log at the default level (the camera's log on the card is small), while a
// viewer that plays gets its "viewer playing" and "viewer left" lines.
func TestSetupWithoutPlayIsQuiet(t *testing.T) {
	var logs syncBuffer
	ts := startServer(t, Config{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	c := ts.dial(t)
	for range 20 {
		id := setupTCPSession(t, ts, c)
		c.mustDo(StatusOK, "TEARDOWN", ts.url, "Session: "+id)
	}
	if out := logs.String(); strings.Contains(out, "viewer") {
		t.Errorf("SETUP and TEARDOWN without PLAY logged at the default level:\n%s", out)
	}
	p, id, _ := ts.playTCP(t)
	p.mustDo(StatusOK, "TEARDOWN", ts.url, "Session: "+id)
	waitUntil(t, "the played viewer's lines", func() bool {
		out := logs.String()
		return strings.Contains(out, `msg="viewer playing" session=`+id) && strings.Contains(out, `msg="viewer left" session=`+id)
	})
}

// TestSetupOnClosedConnection: a SETUP handled as its connection closes (the close ended the
// connection's sessions a moment before) leaves no session behind to hold a viewer slot.
func TestSetupOnClosedConnection(t *testing.T) {
	ts := startServer(t, Config{})
	cl := ts.dial(t)
	cl.mustDo(StatusOK, "OPTIONS", "*") // the server has the connection now
	var c *conn
	ts.srv.mu.Lock()
	for sc := range ts.srv.conns {
		c = sc
	}
	ts.srv.mu.Unlock()
	c.closeBecause("test")
	req := &Request{Method: "SETUP", URI: ts.url + "/trackID=0", Proto: "RTSP/1.0"}
	req.Header.Set("CSeq", "2")
	req.Header.Set("Transport", "RTP/AVP/TCP;unicast;interleaved=0-1")
	if resp := ts.srv.handle(c, req); resp.Status == StatusOK {
		t.Errorf("SETUP on a closed connection answered 200")
	}
	if n := ts.srv.SessionCount(); n != 0 {
		t.Errorf("%d sessions left by a SETUP on a closed connection", n)
	}
}

// TestViewerLeftReportedLoss: the "viewer left" line gives the loss the viewer's receiver
// reports stated, and a total of -1 (live555 and GStreamer send it having lost nothing;
// RFC 3550 allows negatives for duplicates) as 0, not as a confusing -1.
func TestViewerLeftReportedLoss(t *testing.T) {
	for _, c := range []struct {
		total int32
		want  string
	}{{5, "rr_lost=5"}, {-1, "rr_lost=0"}} {
		var logs syncBuffer
		ts := startServer(t, Config{Logger: slog.New(slog.NewTextHandler(&logs, nil))})
		p, id, _ := ts.playTCP(t)
		first := p.readRTP(0)
		rr, _ := (&rtcp.ReceiverReport{SSRC: 42, Reports: []rtcp.ReceptionReport{{SSRC: first.SSRC, TotalLost: uint32(c.total) & 0xffffff}}}).Marshal()
		p.send(string([]byte{'$', 1, 0, byte(len(rr))}) + string(rr))
		waitUntil(t, "the receiver report", func() bool {
			for _, v := range ts.srv.Viewers() {
				if v.Session == id && !v.LastReport.IsZero() {
					return true
				}
			}
			return false
		})
		p.mustDo(StatusOK, "TEARDOWN", ts.url, "Session: "+id)
		waitUntil(t, "the viewer left line", func() bool { return strings.Contains(logs.String(), `msg="viewer left" session=`+id) })
		if out := logs.String(); !strings.Contains(out, c.want) {
			t.Errorf("reported total %d: want %s in\n%s", c.total, c.want, out)
		}
	}
}
