package rtspsrv

import (
	"context"
	"encoding/binary"
	"errors"
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// tcpMedia is the media side of a session played over its RTSP connection (interleaved,
// RFC 2326 §10.12). Like the UDP sender, it writes on the publishing goroutine when it can:
// one non-blocking writev per frame, with no goroutine woken. When the connection's buffer is
// full it leaves the rest of the frame to the session's own goroutine (runTCP), which waits
// for room up to WriteTimeout and drops the viewer if it never comes. The publisher never
// waits on a viewer, and a stuck viewer costs nobody else anything.
type tcpMedia struct {
	mu      sync.Mutex // held while writing media
	on      bool       // from PLAY until PAUSE or close; a late hook call then sends nothing
	held    bool       // from PLAY until its answer is written (see releaseTCP)
	kick    chan struct{}
	pending net.Buffers // the unwritten rest of the current frame
	frame   *frame      // the frame pending points into
	sr      []byte      // interleaved sender report scratch
	withSR  net.Buffers // scratch: the report followed by the frame's packets
}

// tcpUnsentLimit bounds what a viewer's connection may hold that the kernel has not sent yet
// (TCP_NOTSENT_LOWAT). Left alone, Linux grows the send buffer to 4 MB: a viewer that stops
// reading, or whose link is slower than the stream, piles up about 16 s of delay at 2 Mbit/s
// before a write finds the socket full, and only then do the skip to the next keyframe and
// the write timeout start. Data in flight does not count, so throughput is not limited, and a
// 720p keyframe (about 100 KB) still goes in one write.
const tcpUnsentLimit = 128 << 10

// limitUnsent applies tcpUnsentLimit to a connection (no-op for anything but TCP on Linux).
func limitUnsent(nc net.Conn) {
	sc, ok := nc.(syscall.Conn)
	if !ok {
		return
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return
	}
	_ = raw.Control(func(fd uintptr) {
		_ = unix.SetsockoptInt(int(fd), unix.IPPROTO_TCP, unix.TCP_NOTSENT_LOWAT, tcpUnsentLimit)
	})
}

// startTCP starts media over the connection, held until releaseTCP; the caller holds ss.mu.
func (ss *session) startTCP() {
	ctx, cancel := context.WithCancel(ss.srv.ctx)
	ss.stopTCP, ss.tcpDone = cancel, make(chan struct{})
	ss.tcp.mu.Lock()
	ss.tcp.on, ss.tcp.held = true, true
	if ss.tcp.kick == nil {
		ss.tcp.kick = make(chan struct{}, 1)
	}
	ss.tcp.mu.Unlock()
	unsubscribe := ss.srv.stream.subscribe(ss.onPublishTCP)
	go ss.runTCP(ctx, ss.tcpDone, unsubscribe)
}

// releaseTCP lets media flow once the PLAY answer is out, starting with what the ring
// gathered meanwhile. Players drop '$' frames that arrive before the answer, and the first
// frame a viewer gets is its keyframe.
func (ss *session) releaseTCP() {
	ss.tcp.mu.Lock()
	ss.tcp.held = false
	ss.tcp.mu.Unlock()
	ss.wakeTCP()
}

// onPublishTCP is the stream's hook for this session; it never waits.
func (ss *session) onPublishTCP() {
	if !ss.tcp.mu.TryLock() {
		ss.wakeTCP() // the goroutine is writing; it will see this frame too
		return
	}
	done := ss.flushTCP(false)
	ss.tcp.mu.Unlock()
	if !done {
		ss.wakeTCP()
	}
}

func (ss *session) wakeTCP() {
	select {
	case ss.tcp.kick <- struct{}{}:
	default:
	}
}

// runTCP finishes what onPublishTCP could not write, until PAUSE, close or shutdown.
func (ss *session) runTCP(ctx context.Context, done chan struct{}, unsubscribe func()) {
	defer close(done)
	defer func() {
		unsubscribe()
		ss.tcp.mu.Lock()
		ss.tcp.on = false
		ss.finishPendingTCP()
		ss.dropPendingTCP()
		ss.tcp.mu.Unlock()
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case <-ss.tcp.kick:
		}
		ss.tcp.mu.Lock()
		ss.flushTCP(true)
		ss.tcp.mu.Unlock()
	}
}

// flushTCP writes the viewer's due frames, one writev each (plus a sender report when one is
// due). With wait false it returns false as soon as the connection takes no more, the rest of
// the frame kept in pending. A failed write ends the connection.
func (ss *session) flushTCP(wait bool) bool {
	t, v, stream := &ss.tcp, ss.v, ss.srv.stream
	for t.on && !t.held {
		if len(t.pending) == 0 {
			t.releaseFrame()
			f := stream.nextFrame(&v.cur)
			v.dropped.Store(v.cur.dropped)
			if f == nil {
				return true
			}
			t.frame, t.pending = f, v.buildPackets(f, ss.channels[0])
			if now := time.Now(); now.After(v.nextSR) {
				// The report goes before the frame it describes: a player that syncs on
				// RTCP (live555, GStreamer) then has its first frame synced too.
				v.nextSR = now.Add(senderReportInterval)
				t.sr = appendInterleavedSR(t.sr[:0], ss.channels[1], v, ss.srv.cfg.CNAME)
				t.withSR = append(append(t.withSR[:0], t.sr), t.pending...)
				t.pending = t.withSR
			}
		}
		var err error
		if wait {
			err = ss.c.writeMedia(t, &t.pending)
		} else {
			err = ss.c.tryWriteMedia(t, &t.pending)
			if err == nil && len(t.pending) > 0 {
				return false
			}
		}
		if err != nil {
			ss.srv.log.Debug("TCP viewer write failed; dropping it", "session", ss.id, "remote", ss.remote, "err", err)
			t.on = false
			ss.dropPendingTCP()
			reason := "connection closed"
			if errors.Is(err, os.ErrDeadlineExceeded) {
				reason = "stopped reading (write timeout)"
			}
			// close() waits for runTCP, which may be the caller: it must run elsewhere.
			go ss.c.closeBecause(reason)
			return true
		}
	}
	return true
}

func (t *tcpMedia) releaseFrame() {
	if t.frame != nil {
		t.frame.release()
		t.frame = nil
	}
}

// finishPendingTCP writes the rest of a frame that is on the wire in part, so that what the
// connection carries next (the PAUSE answer, a BYE) is not read as part of it; the caller
// holds ss.tcp.mu. A frame not yet begun is left to dropPendingTCP. If the rest cannot be
// written within WriteTimeout, the connection has lost its framing and is closed.
func (ss *session) finishPendingTCP() {
	if len(ss.tcp.pending) == 0 || !ss.c.onWireInPart(&ss.tcp) {
		return
	}
	if err := ss.c.writeMedia(&ss.tcp, &ss.tcp.pending); err != nil {
		reason := "connection closed"
		if errors.Is(err, os.ErrDeadlineExceeded) {
			reason = "stopped reading (write timeout)"
		}
		go ss.c.closeBecause(reason) // close waits for runTCP, which may be the caller
	}
}

// dropPendingTCP abandons the rest of the current frame; the caller holds ss.tcp.mu.
func (ss *session) dropPendingTCP() {
	clear(ss.tcp.pending)
	ss.tcp.pending = nil
	ss.tcp.releaseFrame()
}

// appendInterleavedSR appends a sender report framed for channel ('$', channel, length).
func appendInterleavedSR(dst []byte, channel int, v *viewer, cname string) []byte {
	dst = append(dst, '$', byte(channel), 0, 0)
	dst = appendSenderReport(dst, v, cname)
	binary.BigEndian.PutUint16(dst[2:4], uint16(len(dst)-4))
	return dst
}
