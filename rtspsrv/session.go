package rtspsrv

import (
	"context"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"
)

type sessionState int

const (
	stateReady sessionState = iota + 1
	statePlaying
)

// session is one viewer's RTSP session: set up over a connection, played over UDP, over that
// connection (TCP interleaved) or from the multicast group, ended by TEARDOWN, timeout, its
// connection closing (TCP) or the server shutting down. A multicast session's viewer is the
// group's, shared with every other multicast session.
type session struct {
	id     string
	srv    *Server
	c      *conn // the connection that set it up; TCP media flows over it
	remote string
	lower  Lower

	channels [2]int  // TCP: interleaved RTP and RTCP channels
	dest     udpDest // UDP: where RTP and RTCP go

	v *viewer

	// The keep-alive times below are clock readings (see clock): the session's age, in ns.
	epoch    time.Time    // when the session was made, with its monotonic reading
	lastSeen atomic.Int64 // the last keep-alive
	lastRTCP atomic.Int64 // UDP: the last RTCP from the viewer since PLAY; 0 if none
	// UDP: UnixNano of the first ICMP "unreachable" for the viewer's RTP port in the current
	// run of them (since PLAY, its last RTCP, or a quiet spell of unreachableGap), and of the
	// latest; 0 if none.
	unreachableSince, unreachableLast atomic.Int64
	// UDP: set at the first datagram from the viewer's ports (RTCP, mostly): its player is
	// there, whatever becomes of the connection that set it up (see endsWithConn).
	heardOverUDP atomic.Bool
	// UDP: when its media was held for want of RTCP (see hold); 0 if it is not held.
	// Changed under mu, read without it.
	heldAt atomic.Int64

	mu    sync.Mutex
	state sessionState
	// watching mirrors state == statePlaying for readers that must not wait for mu (which
	// a stopping sender holds for up to the write timeout): the viewer counts.
	watching atomic.Bool
	// played is set at the first PLAY: only a session that played is worth an INFO line.
	played atomic.Bool
	via    string // how its connection reaches us (conn.via), for the log; set at SETUP

	stopTCP context.CancelFunc
	tcpDone chan struct{}
	closed  bool

	tcp tcpMedia
}

func (ss *session) touch() { ss.lastSeen.Store(ss.clock(time.Now())) }

// clock reads t as the session's keep-alive clock: its age at t, from the monotonic clock,
// plus one so that no reading is 0 ("never"). The wall clock may be stepped (NTP correcting
// a camera that booted with an old time, by hours or days): a step forward would otherwise
// end every UDP session at once, and one back would keep dead ones for as long.
func (ss *session) clock(t time.Time) int64 { return int64(t.Sub(ss.epoch)) + 1 }

// unreachableGrace is how long ICMP errors for a UDP viewer's RTP port must keep coming before
// the viewer counts as gone: long enough that a blip on the network does not end anyone.
const unreachableGrace = 2 * time.Second

// unreachableGap is the quiet spell after which an ICMP error starts a new run rather than
// continue the last one: the viewer was back in between. It is well above a second because
// the viewer's host rate-limits its errors (Linux: about one a second to one destination,
// shared by all of its dead players), so errors of one real run can come seconds apart.
const unreachableGap = 10 * time.Second

// unreachable records an ICMP error for the viewer's RTP port.
func (ss *session) unreachable(now time.Time) {
	ns := ss.clock(now)
	if last := ss.unreachableLast.Load(); last == 0 || ns-last > int64(unreachableGap) {
		ss.unreachableSince.Store(ns)
	} else {
		ss.unreachableSince.CompareAndSwap(0, ns)
	}
	ss.unreachableLast.Store(ns)
}

// endsWithConn reports whether the session ends when the connection that set it up closes.
// A TCP one does: its media flows over that connection. A UDP one that plays to a viewer
// heard from over UDP lives on, as RFC 2326 lets a client reconnect to control it, until
// TEARDOWN or timeout. Any other has nothing to live on for: kept, it would hold a viewer
// slot for a whole session timeout, and a host that set up a hundred sessions and closed
// their connections at once (played or not, to ports that never answer) would lock every
// viewer out of the camera for a minute. Real players all send receiver reports. A multicast
// one is never heard from this way (its viewers report to the group), so it ends too.
func (ss *session) endsWithConn() bool {
	return ss.lower == LowerTCP || !ss.playing() || !ss.heardOverUDP.Load()
}

func (ss *session) playing() bool {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	return ss.state == statePlaying
}

// keepAlive is what the keep-alive check makes of a session at one moment.
type keepAlive int

const (
	keepAliveOK        keepAlive = iota
	keepAliveExpired             // end the session
	keepAliveSilent              // hold its media: the viewer's RTCP stopped
	keepAliveHeardFrom           // resume its held media: the viewer spoke again
)

// expiry says what to do with the session at now for want of keep-alives, and why.
func (ss *session) expiry(now time.Time, cfg *Config) (keepAlive, string) {
	if ss.lower == LowerTCP {
		// Bound to its connection: it ends when the connection does.
		ss.c.mu.Lock()
		closed := ss.c.closed
		ss.c.mu.Unlock()
		if !closed {
			return keepAliveOK, ""
		}
	}
	at := ss.clock(now)
	if at-ss.lastSeen.Load() > int64(cfg.SessionTimeout) {
		return keepAliveExpired, "timeout"
	}
	if held := ss.heldAt.Load(); held != 0 {
		if ss.lastSeen.Load() > held { // a receiver report or a request since the hold
			return keepAliveHeardFrom, ""
		}
		return keepAliveOK, ""
	}
	// A UDP viewer that was sending receiver reports and stopped has gone without a TEARDOWN
	// (player killed, laptop shut, phone off the Wi-Fi) or is cut off for a while (an access
	// point rebooting). Its media is held rather than sent into the void on the camera's
	// uplink (RFC 8083 §4.2: a sender hearing nothing from its receiver stops); the session
	// lives on to the session timeout, and sending resumes if the viewer is heard from first.
	// Viewers that never send RTCP are left to the session timeout.
	if last := ss.lastRTCP.Load(); last != 0 && at-last > int64(cfg.RTCPTimeout) && ss.playing() {
		if ss.lower != LowerUDP {
			return keepAliveExpired, "viewer's RTCP stopped"
		}
		return keepAliveSilent, "viewer's RTCP stopped"
	}
	// A player that exits without TEARDOWN closes its ports, and its host answers our packets
	// with "port unreachable"; a phone that left the Wi-Fi draws "host unreachable" from our
	// own kernel. A run of errors spanning unreachableGrace, still coming and with no RTCP
	// from the viewer meanwhile, ends it within seconds instead of after the session timeout;
	// a shorter run (a blip) does not, however many came before it.
	if since, last := ss.unreachableSince.Load(), ss.unreachableLast.Load(); since != 0 && ss.playing() &&
		last-since >= int64(unreachableGrace) && at-last < int64(unreachableGrace) {
		return keepAliveExpired, "viewer unreachable"
	}
	return keepAliveOK, ""
}

// play starts (or resumes) media and returns the RTP-Info values of the first packet.
func (ss *session) play() (seq uint16, rtptime uint32, ok bool) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.closed {
		return 0, 0, false
	}
	if ss.state == statePlaying && ss.heldAt.Load() == 0 {
		return 0, 0, true
	}
	ss.state = statePlaying
	now := time.Now()
	if ss.lower == LowerMulticast {
		seq, rtptime = ss.srv.multicast.join(now)
	} else {
		seq, rtptime = ss.v.nextRTPInfo(now)
	}
	ss.startMediaLocked(now)
	return seq, rtptime, true
}

// hold stops sending to a playing UDP viewer that has fallen silent for rtcpTimeout,
// keeping its session playing (see expiry). It reports whether it did: not if the viewer
// reported since expiry looked.
func (ss *session) hold(now time.Time, rtcpTimeout time.Duration) bool {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.closed || ss.state != statePlaying || ss.lower != LowerUDP || ss.heldAt.Load() != 0 ||
		ss.clock(now)-ss.lastRTCP.Load() <= int64(rtcpTimeout) {
		return false
	}
	ss.heldAt.Store(ss.clock(now))
	ss.haltMediaLocked()
	return true
}

// heldSince is when the session's media was held for want of RTCP, or zero if it is not
// held or its viewer has been heard from since (it is about to resume).
func (ss *session) heldSince() time.Time {
	held := ss.heldAt.Load()
	if held == 0 || ss.lastSeen.Load() > held {
		return time.Time{}
	}
	return ss.epoch.Add(time.Duration(held - 1))
}

// resume sends to a held viewer again, as a PLAY after a PAUSE would: from a keyframe, with
// a sender report first, on the same RTP clock and sequence. No RTP-Info announces it, so
// the clock runs on untouched (nextRTPInfo is for a PLAY). It reports whether it did.
func (ss *session) resume() bool {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.closed || ss.state != statePlaying || ss.heldAt.Load() == 0 {
		return false
	}
	now := time.Now()
	ss.startMediaLocked(now)
	// It had reported before it fell silent: a viewer that stays silent (a request resumed
	// it) is held again after another RTCPTimeout, not sent to for good.
	ss.lastRTCP.Store(ss.clock(now))
	return true
}

// startMediaLocked starts sending to the viewer (a multicast one has joined its group
// already).
func (ss *session) startMediaLocked(now time.Time) {
	ss.heldAt.Store(0)
	ss.watching.Store(true)
	defer ss.srv.stream.startPlaying() // after join below: the keyframe must find the viewer waiting
	if ss.lower == LowerMulticast {
		return
	}
	// Reports sent while paused do not count against it; the next one re-arms the check.
	ss.lastRTCP.Store(0)
	ss.unreachableSince.Store(0)
	ss.srv.stream.join(&ss.v.cur) // (re)join: wait for a keyframe published from now on
	// The first frame goes with a sender report: players wait for one to sync.
	ss.v.nextSR = now
	switch ss.lower {
	case LowerTCP:
		ss.startTCP()
	case LowerUDP:
		ss.srv.udp.add(ss)
	}
}

// pause stops media; the session stays set up.
func (ss *session) pause() bool {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	if ss.state != statePlaying {
		return false
	}
	ss.stopMediaLocked()
	return true
}

// stopMediaLocked stops the sender and waits until it no longer touches the viewer; the
// session is no longer playing.
func (ss *session) stopMediaLocked() {
	if ss.state != statePlaying {
		return
	}
	ss.state = stateReady
	if ss.heldAt.Swap(0) != 0 {
		return // stopped already
	}
	ss.haltMediaLocked()
}

// haltMediaLocked stops the sender and waits until it no longer touches the viewer.
func (ss *session) haltMediaLocked() {
	ss.watching.Store(false)
	ss.srv.stream.stopPlaying()
	switch ss.lower {
	case LowerTCP:
		ss.stopTCP()
		<-ss.tcpDone
	case LowerUDP:
		ss.srv.udp.remove(ss)
	case LowerMulticast:
		ss.srv.multicast.leave()
	}
}

// close ends the session: media stops, an RTCP BYE tells the viewer, resources go back.
func (ss *session) close(reason string) { ss.end(reason, true) }

// end is close, with the BYE optional: a superseded session's client ports are another
// player's now, and ffmpeg ends its playback at any BYE, whatever the SSRC.
func (ss *session) end(reason string, bye bool) {
	ss.mu.Lock()
	if ss.closed {
		ss.mu.Unlock()
		return
	}
	ss.endLocked(reason, bye)
}

// giveUpSlot ends a held session so that a new viewer can have its place (see
// Server.addSession). It reports whether it did: not if the session is no longer held.
func (ss *session) giveUpSlot() bool {
	ss.mu.Lock()
	if ss.closed || ss.heldSince().IsZero() {
		ss.mu.Unlock()
		return false
	}
	ss.endLocked("its place went to a new viewer", true)
	return true
}

// endLocked is end, called with ss.mu held on an open session; it releases ss.mu.
func (ss *session) endLocked(reason string, bye bool) {
	ss.closed = true
	wasPlaying := ss.state == statePlaying
	ss.stopMediaLocked()
	ss.mu.Unlock()

	// A multicast viewer's SSRC is the group's: the group says BYE when its last viewer leaves.
	if bye && wasPlaying && ss.lower != LowerMulticast {
		bye := appendBye(make([]byte, 0, 64), ss.v, ss.srv.cfg.CNAME)
		switch ss.lower {
		case LowerTCP:
			ss.writeInterleaved(ss.channels[1], bye)
		case LowerUDP:
			ss.srv.udp.sendRTCP(ss.dest, bye)
		}
	}
	ss.srv.udp.forget(ss)
	ss.srv.removeSession(ss)
	ss.c.dropSession(ss)
	level := slog.LevelInfo
	if !ss.played.Load() {
		level = slog.LevelDebug // set up, never played: see the "viewer set up" line
	}
	if ss.lower == LowerMulticast { // the counters are the group's, not this viewer's
		ss.srv.log.Log(context.Background(), level, "viewer left", "session", ss.id, "remote", ss.remote,
			"reason", reason, "multicast", ss.srv.multicast.addr.String())
		return
	}
	st := ss.v.stats()
	// What the viewer's own receiver reports said, if it sent any: "none" tells a player
	// without RTCP (or whose reports never arrive) from one that lost nothing.
	var rr any = "none"
	if !st.LastReport.IsZero() {
		// A negative total (RFC 3550 allows one, for duplicates) reads as nonsense here: live555
		// and GStreamer send -1 over a lossless link, to other servers too. Stats keep the raw
		// value.
		rr = max(st.TotalLost, 0)
	}
	ss.srv.log.Log(context.Background(), level, "viewer left", "session", ss.id, "remote", ss.remote,
		"reason", reason, "frames", st.Frames, "dropped", st.Dropped, "packets", st.Packets, "rr_lost", rr)
}

// writeInterleaved sends one RTCP packet over the session's connection.
func (ss *session) writeInterleaved(channel int, pkt []byte) {
	hdr := []byte{'$', byte(channel), byte(len(pkt) >> 8), byte(len(pkt))}
	bufs := net.Buffers{hdr, pkt}
	_ = ss.c.writeMedia(&ss.tcp, &bufs)
}

// interleavedFromClient handles a '$' frame the client sent on this session's channels.
func (ss *session) interleavedFromClient(channel int, payload []byte) {
	if ss.lower != LowerTCP || channel != ss.channels[1] {
		return
	}
	ss.touch()
	handleReceiverReports(ss.v, payload)
}

// stats snapshots the viewer's counters; ok is false before the session has a viewer.
func (ss *session) stats() (ViewerStats, bool) {
	if ss.v == nil || !ss.watching.Load() {
		return ViewerStats{}, false
	}
	st := ss.v.stats()
	st.Session, st.Transport, st.Remote = ss.id, ss.lower, ss.remote
	return st, true
}
