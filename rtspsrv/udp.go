package rtspsrv

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// udpSender serves every UDP viewer from one RTP/RTCP socket pair. For each frame it writes
// all viewers' packets with sendmmsg: one system call carries many packets, and each packet is
// iovecs (RTP header with any FU-A prefix, a STAP-A's prefix, payload; see buildPackets) that
// point into the viewer's header scratch and the frame, so no payload is copied in user space.
//
// Sending normally happens on the publishing goroutine, right after the frame enters the ring
// (onPublish): no goroutine has to be woken for it. That call never waits: when the socket
// buffer is full it leaves the rest of the batch to the sender goroutine (run), which waits
// for room. Either way the batch is finished before the next one starts, so each viewer's
// packets leave in order.
type udpSender struct {
	srv   *Server
	rtp   *rawUDPConn // IPv4 RTP, outside the network poller: see rawUDPConn; nil if bound to an IPv6 address
	rtp6  *rawUDPConn // IPv6 RTP on the same port; nil without IPv6 or if bound to an IPv4 address
	rtcp  *net.UDPConn
	ports [2]int
	kick  chan struct{} // wakes run to finish what onPublish left

	mu      sync.Mutex // held while sending, so remove() returns only when a viewer is idle
	viewers []*session
	out     mmsgWriter
	batch   []datagram // one frame for each viewer that had one due
	sent    int        // how many of batch the kernel has taken
	frames  []*frame   // the frames batch points into, released once it is all sent
	single  []datagram // scratch for splitting runs when segmentation offload is refused
	sr      []byte
	sendErr int
	// handoffs counts batches the publishing goroutine left to run because the socket was
	// full: a sign of a link slower than the stream.
	handoffs atomic.Uint64

	// gso is set while UDP segmentation offload works; cleared after the kernel refused it
	// once (old kernel, or a route whose device cannot checksum).
	gso     bool
	segment int // bytes per full-size packet

	addrMu sync.Mutex
	byAddr map[netip.AddrPort]*session // client RTP and RTCP addresses of set-up sessions
}

func newUDPSender(s *Server, host string, port int) (*udpSender, error) {
	socks, err := listenUDPPorts(host, port)
	if err != nil {
		return nil, err
	}
	for _, c := range socks.rtpConns() {
		// A keyframe for many viewers is a burst of thousands of packets: give the kernel room.
		_ = c.setWriteBuffer(4 << 20)
	}
	rtcpPort := socks.rtcp.LocalAddr().(*net.UDPAddr).Port
	return &udpSender{
		srv:     s,
		rtp:     socks.rtp,
		rtp6:    socks.rtp6,
		rtcp:    socks.rtcp,
		ports:   [2]int{rtcpPort - 1, rtcpPort},
		kick:    make(chan struct{}, 1),
		out:     mmsgWriter{gso: gsoControl(s.stream.cfg.MaxPacketSize)},
		byAddr:  make(map[netip.AddrPort]*session),
		sr:      make([]byte, 0, 128),
		gso:     true,
		segment: s.stream.cfg.MaxPacketSize,
	}, nil
}

// udpSockets are the server's UDP ports: RTP for IPv4 and for IPv6 on one even port, RTCP
// (both families) on the next. Bound to one address, only that address's family is there.
type udpSockets struct {
	rtp, rtp6 *rawUDPConn
	rtcp      *net.UDPConn
}

// rtpConns returns the RTP sockets that exist.
func (s udpSockets) rtpConns() []*rawUDPConn {
	var out []*rawUDPConn
	for _, c := range []*rawUDPConn{s.rtp, s.rtp6} {
		if c != nil {
			out = append(out, c)
		}
	}
	return out
}

func (s udpSockets) close() {
	for _, c := range s.rtpConns() {
		c.Close()
	}
	if s.rtcp != nil {
		s.rtcp.Close()
	}
}

// listenUDPPorts binds RTP on an even port and RTCP on the next one (RFC 3550 §11), on host
// (see Config.UDPHost). port 0 picks a free pair. IPv6 is served when the kernel has it.
func listenUDPPorts(host string, port int) (udpSockets, error) {
	if port%2 != 0 {
		return udpSockets{}, fmt.Errorf("UDP port %d: the RTP port must be even", port)
	}
	ip, _ := netip.ParseAddr(host) // not an address: every address
	tries := 1
	if port == 0 {
		tries = 64
	}
	var lastErr error
	for range tries {
		p := port
		if p == 0 {
			p = 2 * (10000 + rand.IntN(25000))
		}
		socks, err := listenUDPPortsAt(ip, p)
		if err == nil {
			return socks, nil
		}
		lastErr = err
	}
	return udpSockets{}, fmt.Errorf("listen UDP ports %d-%d: %w", port, port+1, lastErr)
}

// listenUDPPortsAt binds the sockets on port p of ip; an invalid or unspecified ip means
// every address, of both families where the kernel has IPv6.
func listenUDPPortsAt(ip netip.Addr, p int) (udpSockets, error) {
	var socks udpSockets
	var err error
	everywhere := !ip.IsValid() || ip.IsUnspecified()
	if everywhere {
		ip = netip.Addr{}
	}
	v4 := ip.Unmap().Is4()
	if everywhere || v4 {
		if socks.rtp, err = listenRawUDP(unix.AF_INET, ip.Unmap(), p); err != nil {
			return socks, err
		}
	}
	if everywhere || !v4 {
		if socks.rtp6, err = listenRawUDP(unix.AF_INET6, ip, p); err != nil {
			socks.rtp6 = nil
			if !everywhere || !errors.Is(err, unix.EAFNOSUPPORT) {
				socks.close()
				return udpSockets{}, err
			}
		}
	}
	// Without an address, "udp" is dual-stack where the kernel has IPv6, IPv4 otherwise.
	rtcpAddr := &net.UDPAddr{Port: p + 1}
	if !everywhere {
		rtcpAddr.IP = ip.AsSlice()
	}
	if socks.rtcp, err = net.ListenUDP("udp", rtcpAddr); err != nil {
		socks.close()
		return udpSockets{}, err
	}
	return socks, nil
}

// register records a set-up session's client addresses, so that its RTCP and the ICMP errors
// its packets draw find it. Addresses another session has are left to that one: a SETUP alone
// takes nothing from a viewer (see claim).
func (u *udpSender) register(ss *session) {
	u.addrMu.Lock()
	defer u.addrMu.Unlock()
	u.registerLocked(ss, false)
}

// claim makes a session that starts playing the owner of its client addresses and returns the
// sessions that had them, which the caller ends (see supersede).
func (u *udpSender) claim(ss *session) []*session {
	u.addrMu.Lock()
	defer u.addrMu.Unlock()
	return u.registerLocked(ss, true)
}

func (u *udpSender) registerLocked(ss *session, claim bool) []*session {
	var old []*session
	for _, a := range [2]*net.UDPAddr{ss.dest.rtp, ss.dest.rtcp} {
		prev := u.byAddr[a.AddrPort()]
		switch {
		case prev == nil || prev == ss:
			u.byAddr[a.AddrPort()] = ss
		case claim:
			if !slices.Contains(old, prev) {
				old = append(old, prev)
			}
			u.byAddr[a.AddrPort()] = ss
		}
	}
	return old
}

// supersede ends sessions whose client ports a new session has taken by playing on them. Those
// ports are the new player's now, so the old player is gone (killed, or its connection dropped
// without a TEARDOWN) and its stream would only corrupt the new one's; nor could the old
// session's ICMP errors and RTCP be told apart from the new one's any more. It waits for PLAY:
// a SETUP costs nothing to send, and anyone on the viewer's host could otherwise end its
// stream with one that never plays.
func (u *udpSender) supersede(by *session, old []*session) {
	for _, ss := range old {
		u.srv.log.Info("viewer superseded: a new session took its client ports", "session", ss.id, "by", by.id, "remote", ss.remote)
		ss.end("superseded by a new session on its client ports", false)
	}
}

func (u *udpSender) forget(ss *session) {
	if ss.lower != LowerUDP {
		return
	}
	u.addrMu.Lock()
	defer u.addrMu.Unlock()
	u.forgetLocked(ss)
}

func (u *udpSender) forgetLocked(ss *session) {
	for _, a := range [2]*net.UDPAddr{ss.dest.rtp, ss.dest.rtcp} {
		if u.byAddr[a.AddrPort()] == ss {
			delete(u.byAddr, a.AddrPort())
		}
	}
}

// move sends a set-up session that is not playing to other client ports.
func (u *udpSender) move(ss *session, dest udpDest) {
	u.addrMu.Lock()
	defer u.addrMu.Unlock()
	u.forgetLocked(ss)
	ss.dest = dest
	u.registerLocked(ss, false)
}

func (u *udpSender) add(ss *session) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.viewers = append(u.viewers, ss)
}

// remove stops sending to ss; when it returns, the sender no longer touches ss's viewer. Its
// packets still waiting in the batch are dropped: the viewer's header scratch is its own
// again (a PLAY after a PAUSE reuses it).
func (u *udpSender) remove(ss *session) {
	u.mu.Lock()
	defer u.mu.Unlock()
	for i, v := range u.viewers {
		if v == ss {
			u.viewers = append(u.viewers[:i], u.viewers[i+1:]...)
			u.viewers[len(u.viewers):cap(u.viewers)][0] = nil
			break
		}
	}
	keep := u.batch[:u.sent]
	for _, d := range u.batch[u.sent:] {
		if d.to != ss.dest.rtpRaw {
			keep = append(keep, d)
		}
	}
	clear(u.batch[len(keep):])
	u.batch = keep
	if u.sent == len(u.batch) {
		u.endBatch()
	}
}

// joinRunning is a new player joining v, a stream already being sent (the multicast group):
// it returns v's projectedRTPInfo, read under the lock that guards v while it is sent to, and
// has a sender report go with the next frame, so that the joiner need not wait for the next
// periodic one to sync.
func (u *udpSender) joinRunning(v *viewer, now time.Time) (seq uint16, ts uint32) {
	u.mu.Lock()
	defer u.mu.Unlock()
	v.nextSR = now
	return v.projectedRTPInfo(now)
}

// onPublish is the stream's hook, called on the publishing goroutine after each frame. It
// sends what the socket takes now and leaves the rest to run; it never waits, not even for
// the lock (whoever holds it sends the new frame too).
func (u *udpSender) onPublish() {
	if !u.mu.TryLock() {
		u.wake()
		return
	}
	done := u.flush(false)
	u.mu.Unlock()
	if !done {
		u.handoffs.Add(1)
		u.wake()
	}
}

func (u *udpSender) wake() {
	select {
	case u.kick <- struct{}{}:
	default:
	}
}

// run finishes, waiting for socket room where needed, whatever onPublish could not send.
func (u *udpSender) run(ctx context.Context) {
	unsubscribe := u.srv.stream.subscribe(u.onPublish)
	defer unsubscribe()
	defer func() {
		u.mu.Lock()
		u.endBatch()
		u.mu.Unlock()
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case <-u.kick:
			u.mu.Lock()
			u.flush(true)
			u.mu.Unlock()
		}
	}
}

// flush sends every frame the viewers have not had yet, batch after batch. With wait false it
// returns false as soon as the socket is full, the unsent rest kept in u.batch.
func (u *udpSender) flush(wait bool) bool {
	retried, refused := false, 0
	for {
		for u.sent == len(u.batch) { // a loop: a frame may come to no datagrams (an AUD alone)
			u.endBatch()
			if !u.nextBatch() {
				return true
			}
		}
		ds := sameSocket(u.batch[u.sent:])
		conn := ds[0].from
		switch {
		case conn != nil:
		case ds[0].to.ipv6:
			conn = u.rtp6
		default:
			conn = u.rtp
		}
		n, err := conn.sendmmsg(&u.out, ds, wait)
		u.sent += n
		if n > 0 {
			retried, refused = false, 0
		}
		if err == nil {
			continue
		}
		d := u.batch[u.sent]
		switch {
		case errors.Is(err, unix.EAGAIN):
			if !wait {
				return false
			}
		case errors.Is(err, net.ErrClosed):
			u.sent = len(u.batch)
			u.endBatch()
			return true
		case errors.Is(err, unix.ECONNREFUSED) && refused < maxRefusedRetries:
			// A port-unreachable for an earlier datagram, reported once to this send (an
			// unconnected socket with IP_RECVERR): nothing is wrong with this one. The reader
			// handles the error queue. Bounded, so that a flood of ICMP cannot spin us.
			refused++
		case d.segmented && (errors.Is(err, unix.EIO) || errors.Is(err, unix.EINVAL)):
			// Segmentation offload refused: send the rest packet by packet from now on.
			// Nothing is lost.
			u.srv.log.Info("UDP segmentation offload unavailable; sending packets one by one", "err", err)
			u.gso = false
			u.splitBatch(nil)
		case d.segmented && errors.Is(err, unix.EMSGSIZE):
			u.unsegment(d.to)
		case !retried:
			// sendmmsg reports an error met after some messages on the next call, as that
			// call's first: retry once before blaming this datagram.
			retried = true
		default:
			// This destination fails (an unreachable network, say): only its packet is lost.
			u.sendErr++
			if u.sendErr == 1 || u.sendErr%1000 == 0 {
				u.srv.log.Debug("UDP send failed", "err", err, "count", u.sendErr)
			}
			u.sent++
			retried, refused = false, 0
		}
	}
}

// nextBatch lays out the next frame of every viewer that has one due, and sends sender
// reports that have come due. It reports whether there is anything to send.
func (u *udpSender) nextBatch() bool {
	stream := u.srv.stream
	now := time.Now()
	for _, ss := range u.viewers {
		v := ss.v
		f := stream.nextFrame(&v.cur)
		v.dropped.Store(v.cur.dropped)
		if f == nil {
			continue
		}
		u.frames = append(u.frames, f)
		iov := v.buildPackets(f, -1)
		to, from := ss.dest.rtpRaw, ss.dest.rtpFrom
		if u.gso && !ss.dest.unsegmented {
			gsoRuns(f, u.segment, func(i, j int) {
				u.batch = append(u.batch, datagram{iov: iov[3*i : 3*j], to: to, from: from, segmented: j-i > 1})
			})
		} else {
			for i := range f.packets {
				u.batch = append(u.batch, datagram{iov: iov[3*i : 3*i+3], to: to, from: from})
			}
		}
		if now.After(v.nextSR) {
			v.nextSR = now.Add(senderReportInterval)
			u.sr = appendSenderReport(u.sr[:0], v, u.srv.cfg.CNAME)
			u.sendRTCPLocked(ss.dest, u.sr)
		}
	}
	return len(u.frames) > 0
}

// endBatch releases the frames of a finished (or abandoned) batch.
func (u *udpSender) endBatch() {
	for i, f := range u.frames {
		f.release()
		u.frames[i] = nil
	}
	clear(u.batch) // drop references to frame memory until the next batch
	u.batch, u.frames, u.sent = u.batch[:0], u.frames[:0], 0
}

// maxRefusedRetries bounds the sends in a row that may fail with a queued ECONNREFUSED before
// the datagram they were trying is given up, as for any other error.
const maxRefusedRetries = 8

// sameSocket returns the leading datagrams of ds that go out through the same socket (IPv4,
// IPv6 or a multicast group's) as the first, as many as one sendmmsg call takes.
func sameSocket(ds []datagram) []datagram {
	ds = ds[:min(len(ds), mmsgBatchMax)]
	for i := range ds {
		if ds[i].to.ipv6 != ds[0].to.ipv6 || ds[i].from != ds[0].from {
			return ds[:i]
		}
	}
	return ds
}

// unsegment sends single packets from now on to the destination to, whose path MTU is
// smaller than a full packet (a multicast group on an interface with a small MTU, a viewer
// behind a tunnel): the kernel refuses a segmented run whose segments it would have to
// fragment (EMSGSIZE), but fragments a single packet. Its runs still in the batch are split,
// so nothing is lost; everyone else keeps segmentation offload.
func (u *udpSender) unsegment(to *rawAddr) {
	for _, ss := range u.viewers {
		if ss.dest.rtpRaw == to && !ss.dest.unsegmented {
			ss.dest.unsegmented = true
			u.srv.log.Warn("RTP packets are larger than the path MTU to this viewer allows; sending them one by one, for the kernel to fragment",
				"session", ss.id, "dest", ss.dest.rtp, "packet_bytes", u.segment)
		}
	}
	u.splitBatch(to)
}

// splitBatch splits the segmented runs still to send into single packets: those to to, or
// every one if to is nil.
func (u *udpSender) splitBatch(to *rawAddr) {
	u.single = splitRuns(u.single[:0], u.batch[u.sent:], to)
	u.batch = append(u.batch[:u.sent], u.single...)
	clear(u.single)
}

// splitRuns appends ds to dst with every segmented run to to (every one, if to is nil) split
// into single packets (buildPackets' three entries each).
func splitRuns(dst, ds []datagram, to *rawAddr) []datagram {
	for _, d := range ds {
		if !d.segmented || (to != nil && d.to != to) {
			dst = append(dst, d)
			continue
		}
		for k := 0; k+3 <= len(d.iov); k += 3 {
			dst = append(dst, datagram{iov: d.iov[k : k+3], to: d.to, from: d.from})
		}
	}
	return dst
}

// sendRTCP sends pkt to dest's RTCP address, from the server's RTCP port or dest's own.
func (u *udpSender) sendRTCP(dest udpDest, pkt []byte) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.sendRTCPLocked(dest, pkt)
}

func (u *udpSender) sendRTCPLocked(dest udpDest, pkt []byte) {
	from := u.rtcp
	if dest.rtcpFrom != nil {
		from = dest.rtcpFrom
	}
	_, _ = from.WriteToUDP(pkt, dest.rtcp)
}

// readRTCP receives what viewers send to the server ports: receiver reports (loss, jitter,
// keep-alive) on RTCP, and the NAT-opening packets some players send to the RTP port.
func (u *udpSender) readRTCP() {
	var wg sync.WaitGroup
	for _, c := range []*rawUDPConn{u.rtp, u.rtp6} {
		if c == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			u.readLoop(c.readFromAddrPort, false, func() { c.drainErrors(u.unreachable) })
		}()
	}
	u.readLoop(u.rtcp.ReadFromUDPAddrPort, true, nil)
	wg.Wait()
}

// unreachable notes an ICMP error for a datagram sent to dest: if it is a viewer's RTP
// address, that viewer may have gone (see session.expiry).
func (u *udpSender) unreachable(dest netip.AddrPort) {
	u.addrMu.Lock()
	ss := u.byAddr[dest]
	isRTP := ss != nil && ss.dest.rtp.AddrPort() == dest
	u.addrMu.Unlock()
	if isRTP {
		ss.unreachable(time.Now())
	}
}

// readLoop reads until the socket closes. onErr, if set, runs when a read fails otherwise:
// the RTP sockets' errors are ICMP reports for datagrams sent earlier.
func (u *udpSender) readLoop(read func([]byte) (int, netip.AddrPort, error), isRTCP bool, onErr func()) {
	buf := make([]byte, 2048)
	for {
		n, from, err := read(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			if onErr != nil {
				onErr()
			}
			continue // an ICMP error from an earlier send, or an empty read during Close
		}
		from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
		u.addrMu.Lock()
		ss := u.byAddr[from]
		u.addrMu.Unlock()
		if ss == nil {
			continue
		}
		ss.touch()
		ss.heardOverUDP.Store(true)
		if isRTCP {
			ss.lastRTCP.Store(ss.clock(time.Now()))
			ss.unreachableSince.Store(0) // it reports, so it is there
			handleReceiverReports(ss.v, buf[:n])
		}
	}
}

func (u *udpSender) close() {
	udpSockets{u.rtp, u.rtp6, u.rtcp}.close()
}
