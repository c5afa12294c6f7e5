package rtspsrv

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"time"

	"golang.org/x/net/ipv4"
)

// udpSender serves every UDP viewer from one RTP/RTCP socket pair. For each frame it writes
// all viewers' packets with sendmmsg (ipv4.PacketConn.WriteBatch): one system call carries
// many packets, and each packet is three iovecs (RTP header, payload prefix, payload) that
// point into the viewer's header scratch and the frame, so nothing is copied.
type udpSender struct {
	srv   *Server
	rtp   *net.UDPConn
	rtcp  *net.UDPConn
	batch *ipv4.PacketConn
	ports [2]int

	mu      sync.Mutex // held while sending, so remove() returns only when a viewer is idle
	viewers []*session

	addrMu  sync.Mutex
	byAddr  map[netip.AddrPort]*session // client RTP and RTCP addresses of set-up sessions
	msgs    []ipv4.Message
	single  []ipv4.Message // fallback: one run split into single packets
	pending []*frame
	sr      []byte
	sendErr int

	// gso is the UDP_SEGMENT control message while segmentation offload works; nil after the
	// kernel refused it once (old kernel, or a route whose device cannot checksum).
	gso     []byte
	segment int // bytes per full-size packet
}

func newUDPSender(s *Server, port int) (*udpSender, error) {
	rtpConn, rtcpConn, err := listenUDPPair(port)
	if err != nil {
		return nil, err
	}
	// A keyframe for many viewers is a burst of thousands of packets: give the kernel room.
	_ = rtpConn.SetWriteBuffer(4 << 20)
	return &udpSender{
		srv:     s,
		rtp:     rtpConn,
		rtcp:    rtcpConn,
		batch:   ipv4.NewPacketConn(rtpConn),
		ports:   [2]int{rtpConn.LocalAddr().(*net.UDPAddr).Port, rtcpConn.LocalAddr().(*net.UDPAddr).Port},
		byAddr:  make(map[netip.AddrPort]*session),
		sr:      make([]byte, 0, 128),
		gso:     gsoControl(s.stream.cfg.MaxPacketSize),
		segment: s.stream.cfg.MaxPacketSize,
	}, nil
}

// listenUDPPair binds RTP on an even port and RTCP on the next one (RFC 3550 §11). port 0
// picks a free pair.
func listenUDPPair(port int) (*net.UDPConn, *net.UDPConn, error) {
	if port%2 != 0 {
		return nil, nil, fmt.Errorf("UDP port %d: the RTP port must be even", port)
	}
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
		rtpConn, err := net.ListenUDP("udp4", &net.UDPAddr{Port: p})
		if err != nil {
			lastErr = err
			continue
		}
		rtcpConn, err := net.ListenUDP("udp4", &net.UDPAddr{Port: p + 1})
		if err != nil {
			rtpConn.Close()
			lastErr = err
			continue
		}
		return rtpConn, rtcpConn, nil
	}
	return nil, nil, fmt.Errorf("listen UDP ports %d-%d: %w", port, port+1, lastErr)
}

// register makes a set-up session known by its client addresses (for its RTCP).
func (u *udpSender) register(ss *session) {
	u.addrMu.Lock()
	defer u.addrMu.Unlock()
	u.byAddr[ss.dest.rtp.AddrPort()] = ss
	u.byAddr[ss.dest.rtcp.AddrPort()] = ss
}

func (u *udpSender) forget(ss *session) {
	if ss.lower != LowerUDP {
		return
	}
	u.addrMu.Lock()
	defer u.addrMu.Unlock()
	for _, a := range [2]*net.UDPAddr{ss.dest.rtp, ss.dest.rtcp} {
		if u.byAddr[a.AddrPort()] == ss {
			delete(u.byAddr, a.AddrPort())
		}
	}
}

func (u *udpSender) add(ss *session) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.viewers = append(u.viewers, ss)
}

// remove stops sending to ss; when it returns, the sender no longer touches ss's viewer.
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
}

func (u *udpSender) run(ctx context.Context) {
	stream := u.srv.stream
	wake := stream.subscribe()
	defer stream.unsubscribe(wake)
	for {
		select {
		case <-ctx.Done():
			return
		case <-wake:
			u.sendPending()
		}
	}
}

// sendPending sends every frame the viewers have not had yet, one frame per viewer per batch
// (a viewer's header scratch holds one frame).
func (u *udpSender) sendPending() {
	u.mu.Lock()
	defer u.mu.Unlock()
	stream := u.srv.stream
	for {
		u.msgs, u.pending = u.msgs[:0], u.pending[:0]
		now := time.Now()
		for _, ss := range u.viewers {
			v := ss.v
			f := stream.nextFrame(&v.cur)
			v.dropped.Store(v.cur.dropped)
			if f == nil {
				continue
			}
			u.pending = append(u.pending, f)
			iov := v.buildPackets(f, -1)
			if u.gso != nil {
				gsoRuns(f, u.segment, func(i, j int) {
					m := ipv4.Message{Buffers: iov[3*i : 3*j], Addr: ss.dest.rtp}
					if j-i > 1 {
						m.OOB = u.gso
					}
					u.msgs = append(u.msgs, m)
				})
			} else {
				for i := range f.packets {
					u.msgs = append(u.msgs, ipv4.Message{Buffers: iov[3*i : 3*i+3], Addr: ss.dest.rtp})
				}
			}
			if now.After(v.nextSR) {
				v.nextSR = now.Add(senderReportInterval)
				u.sr = appendSenderReport(u.sr[:0], v, u.srv.cfg.ServerName)
				u.sendRTCPLocked(ss.dest.rtcp, u.sr)
			}
		}
		if len(u.pending) == 0 {
			return
		}
		u.writeAll(u.msgs)
		for i, f := range u.pending {
			f.release()
			u.pending[i] = nil
		}
		clear(u.msgs) // drop references to frame memory until the next batch
	}
}

// writeAll sends msgs with as few sendmmsg calls as the kernel allows. A destination that
// fails (an unreachable network, say) costs only its own packet.
func (u *udpSender) writeAll(msgs []ipv4.Message) {
	for len(msgs) > 0 {
		n, err := u.batch.WriteBatch(msgs, 0)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			if msgs[0].OOB != nil {
				// Segmentation offload refused: stop using it and send this run packet by
				// packet. Nothing is lost; later frames go unsegmented.
				u.srv.log.Info("UDP segmentation offload unavailable; sending packets one by one", "err", err)
				u.gso = nil
				u.writeSingles(msgs[0])
				msgs = msgs[1:]
				continue
			}
			u.sendErr++
			if u.sendErr == 1 || u.sendErr%1000 == 0 {
				u.srv.log.Debug("UDP send failed", "to", msgs[0].Addr, "err", err, "count", u.sendErr)
			}
			n = 1
		}
		msgs = msgs[n:]
	}
}

// writeSingles sends a segmented run as one message per packet (three iovecs each).
func (u *udpSender) writeSingles(run ipv4.Message) {
	u.single = u.single[:0]
	for k := 0; k+3 <= len(run.Buffers); k += 3 {
		u.single = append(u.single, ipv4.Message{Buffers: run.Buffers[k : k+3], Addr: run.Addr})
	}
	u.writeAll(u.single)
	clear(u.single)
}

func (u *udpSender) sendRTCP(to *net.UDPAddr, pkt []byte) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.sendRTCPLocked(to, pkt)
}

func (u *udpSender) sendRTCPLocked(to *net.UDPAddr, pkt []byte) {
	_, _ = u.rtcp.WriteToUDP(pkt, to)
}

// readRTCP receives what viewers send to the server ports: receiver reports (loss, jitter,
// keep-alive) on RTCP, and the NAT-opening packets some players send to the RTP port.
func (u *udpSender) readRTCP() {
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		u.readLoop(u.rtp, false)
	}()
	u.readLoop(u.rtcp, true)
	wg.Wait()
}

func (u *udpSender) readLoop(c *net.UDPConn, isRTCP bool) {
	buf := make([]byte, 2048)
	for {
		n, from, err := c.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		from = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
		u.addrMu.Lock()
		ss := u.byAddr[from]
		u.addrMu.Unlock()
		if ss == nil {
			continue
		}
		ss.touch()
		if isRTCP {
			handleReceiverReports(ss.v, buf[:n])
		}
	}
}

func (u *udpSender) close() {
	u.rtp.Close()
	u.rtcp.Close()
}
