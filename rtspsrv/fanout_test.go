package rtspsrv

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/camerad/camerad/encoder"
)

// fanHarness is an in-process server fed with synthetic 720p access units at a fixed rate.
type fanHarness struct {
	t       *testing.T
	pool    *encoder.Pool
	stream  *Stream
	srv     *Server
	addr    string
	tlsAddr string // with newFanHarnessTLS: the RTSPS listener
	stop    context.CancelFunc
	done    chan struct{}
}

func newFanHarness(t *testing.T, cfg Config, fps int) *fanHarness {
	t.Helper()
	return newFanHarnessWith(t, cfg, fps, false)
}

// newFanHarnessTLS is newFanHarness that also serves RTSPS (on tlsAddr).
func newFanHarnessTLS(t *testing.T, cfg Config, fps int) *fanHarness {
	t.Helper()
	return newFanHarnessWith(t, cfg, fps, true)
}

func newFanHarnessWith(t *testing.T, cfg Config, fps int, withTLS bool) *fanHarness {
	t.Helper()
	h := &fanHarness{t: t, pool: encoder.NewPool(), done: make(chan struct{})}
	h.stream = NewStream(StreamConfig{})
	srv, err := NewServer(cfg, h.stream)
	if err != nil {
		t.Fatal(err)
	}
	h.srv = srv
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h.addr = ln.Addr().String()
	go srv.Serve(ln)
	if withTLS {
		tlsCfg, _ := testTLSConfig(t)
		tlsLn, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		h.tlsAddr = tlsLn.Addr().String()
		go srv.ServeTLS(tlsLn, tlsCfg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	h.stop = cancel
	units := benchGOPUnits()
	go func() {
		defer close(h.done)
		tick := time.NewTicker(time.Second / time.Duration(fps))
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
				h.stream.Publish(benchAU(h.pool, units, i))
			}
		}
	}()
	return h
}

// close stops the source and the server, and checks that every pooled unit came back.
func (h *fanHarness) close() {
	h.stop()
	<-h.done
	h.srv.Close()
	h.stream.Close()
	if n := h.pool.Outstanding(); n != 0 {
		h.t.Errorf("%d access units still held after shutdown (leak)", n)
	}
	if n := h.pool.DoubleReleases(); n != 0 {
		h.t.Errorf("%d double releases", n)
	}
}

// fanViewer is a minimal TCP-interleaved RTSP client that counts what it receives and
// checks sequence continuity, for fan-out tests that need many cheap viewers.
type fanViewer struct {
	nc       net.Conn
	br       *bufio.Reader
	session  string
	mu       sync.Mutex
	packets  int
	gaps     int
	lastSeq  uint16
	started  bool
	firstNAL byte
	err      error
	done     chan struct{}
}

func dialFanViewer(t *testing.T, addr string, rcvbuf int) *fanViewer {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second}
	if rcvbuf > 0 {
		d.Control = func(_, _ string, c syscall.RawConn) error {
			return c.Control(func(fd uintptr) {
				_ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, rcvbuf)
			})
		}
	}
	nc, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	return playOver(t, nc, "RTP/AVP/TCP;unicast;interleaved=0-1")
}

// playOver sets up and plays a session with the given Transport over the RTSP connection nc.
func playOver(t *testing.T, nc net.Conn, transport string) *fanViewer {
	t.Helper()
	v := &fanViewer{nc: nc, br: bufio.NewReader(nc), done: make(chan struct{})}
	url := "rtsp://" + nc.RemoteAddr().String() + "/stream"
	resp := v.request(t, "SETUP "+url+"/trackID=0 RTSP/1.0\r\nCSeq: 1\r\nTransport: "+transport+"\r\n\r\n")
	for _, line := range strings.Split(resp, "\r\n") {
		if k, val, ok := strings.Cut(line, ":"); ok && strings.EqualFold(k, "Session") {
			v.session = sessionID(strings.TrimSpace(val))
		}
	}
	if v.session == "" {
		t.Fatalf("SETUP answered without a session:\n%s", resp)
	}
	v.request(t, "PLAY "+url+"/ RTSP/1.0\r\nCSeq: 2\r\nSession: "+v.session+"\r\n\r\n")
	return v
}

// request sends raw and returns the response head; the body, if any, is skipped.
func (v *fanViewer) request(t *testing.T, raw string) string {
	t.Helper()
	_ = v.nc.SetDeadline(time.Now().Add(10 * time.Second))
	defer v.nc.SetDeadline(time.Time{})
	if _, err := io.WriteString(v.nc, raw); err != nil {
		t.Fatal(err)
	}
	var head strings.Builder
	for {
		line, err := v.br.ReadString('\n')
		if err != nil {
			t.Fatalf("reading response: %v", err)
		}
		head.WriteString(line)
		if line == "\r\n" {
			break
		}
	}
	if !strings.HasPrefix(head.String(), "RTSP/1.0 200") {
		t.Fatalf("request failed:\n%s\n->\n%s", raw, head.String())
	}
	return head.String()
}

// receive reads interleaved frames until the connection ends.
func (v *fanViewer) receive() {
	defer close(v.done)
	var hdr [4]byte
	buf := make([]byte, 65536)
	for {
		if _, err := io.ReadFull(v.br, hdr[:]); err != nil {
			v.setErr(err)
			return
		}
		if hdr[0] != '$' {
			v.setErr(fmt.Errorf("expected '$', got %q", hdr[0]))
			return
		}
		n := int(binary.BigEndian.Uint16(hdr[2:]))
		if _, err := io.ReadFull(v.br, buf[:n]); err != nil {
			v.setErr(err)
			return
		}
		if hdr[1] != 0 || n < rtpHeaderLen+1 {
			continue // RTCP
		}
		seq := binary.BigEndian.Uint16(buf[2:4])
		v.mu.Lock()
		if !v.started {
			v.started, v.firstNAL = true, buf[rtpHeaderLen]&0x1f
		} else if seq != v.lastSeq+1 {
			v.gaps++
		}
		v.lastSeq = seq
		v.packets++
		v.mu.Unlock()
	}
}

func (v *fanViewer) setErr(err error) {
	v.mu.Lock()
	v.err = err
	v.mu.Unlock()
}

func (v *fanViewer) snapshot() (packets, gaps int, firstNAL byte) {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.packets, v.gaps, v.firstNAL
}

// reset closes the connection with an RST, as a viewer whose Wi-Fi drops or whose process is
// killed does.
func (v *fanViewer) reset() {
	if tc, ok := v.nc.(*net.TCPConn); ok {
		_ = tc.SetLinger(0)
	}
	v.nc.Close()
}

func fanWaitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func fanCountFDs(t *testing.T) int {
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("cannot count fds: %v", err)
	}
	return len(ents)
}

// TestStuckTCPViewerDoesNotHurtOthers: one viewer stops reading; ten others keep receiving
// every packet in order, and the stuck one is disconnected after the write timeout.
func TestStuckTCPViewerDoesNotHurtOthers(t *testing.T) {
	var logs syncBuffer
	h := newFanHarness(t, Config{WriteTimeout: 500 * time.Millisecond, Logger: slog.New(slog.NewTextHandler(&logs, nil))}, benchFPS)
	defer h.close()

	stuck := dialFanViewer(t, h.addr, 4096) // never reads
	var good []*fanViewer
	for range 10 {
		v := dialFanViewer(t, h.addr, 0)
		go v.receive()
		good = append(good, v)
	}
	fanWaitFor(t, "the stuck viewer to be dropped", func() bool { return h.srv.SessionCount() == 10 })
	// The log says why, unlike for a viewer that hung up.
	fanWaitFor(t, "the drop to be logged", func() bool {
		return strings.Contains(logs.String(), `msg="viewer left"`) && strings.Contains(logs.String(), `reason="stopped reading (write timeout)"`)
	})
	// Keep streaming a little after the drop, then check the others.
	before := make([]int, len(good))
	for i, v := range good {
		before[i], _, _ = v.snapshot()
	}
	fanWaitFor(t, "the other viewers to keep receiving", func() bool {
		for i, v := range good {
			if p, _, _ := v.snapshot(); p < before[i]+100 {
				return false
			}
		}
		return true
	})
	for i, v := range good {
		p, gaps, first := v.snapshot()
		if gaps != 0 {
			t.Errorf("viewer %d: %d sequence gaps in %d packets", i, gaps, p)
		}
		if first != 24 { // STAP-A with SPS+PPS
			t.Errorf("viewer %d: first packet NAL type %d, want 24 (STAP-A SPS+PPS)", i, first)
		}
	}
	for _, st := range h.srv.Viewers() {
		if st.Dropped != 0 {
			t.Errorf("session %s dropped %d frames", st.Session, st.Dropped)
		}
	}
	stuck.nc.Close()
	for _, v := range good {
		v.nc.Close()
		<-v.done
	}
}

// TestStuckTCPViewerQueueIsBounded: the kernel holds only a bounded amount of a stuck
// viewer's unsent data, so the server finds the socket full, and starts its write timeout,
// soon after the viewer stops reading, instead of after seconds of stream buried in a send
// buffer that grows to megabytes.
func TestStuckTCPViewerQueueIsBounded(t *testing.T) {
	h := newFanHarness(t, Config{WriteTimeout: 2 * time.Second}, benchFPS)
	defer h.close()
	stuck := dialFanViewer(t, h.addr, 4096) // never reads
	defer stuck.nc.Close()
	server := serverSideConn(t, h.srv, stuck.nc.LocalAddr().String())

	maxUnsent := 0
	fanWaitFor(t, "the stuck viewer to be dropped", func() bool {
		if n, ok := unsentBytes(server); ok {
			maxUnsent = max(maxUnsent, n)
		}
		return h.srv.SessionCount() == 0
	})
	// One write may overshoot the limit by what it was given: at most a keyframe's packets.
	if limit := tcpUnsentLimit + benchIDRBytes + 64<<10; maxUnsent > limit {
		t.Errorf("the stuck viewer's socket held %d unsent bytes, want at most %d", maxUnsent, limit)
	}
	if maxUnsent == 0 {
		t.Error("never saw unsent data: the viewer was not stuck")
	}
}

// serverSideConn finds the server's end of the connection whose client address is remote.
func serverSideConn(t *testing.T, s *Server, remote string) net.Conn {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	for c := range s.conns {
		if c.nc.RemoteAddr().String() == remote {
			return c.nc
		}
	}
	t.Fatalf("no server connection from %s", remote)
	return nil
}

// unsentBytes is what the kernel holds for nc that it has not sent yet (SIOCOUTQNSD); ok is
// false once the connection is closed.
func unsentBytes(nc net.Conn) (n int, ok bool) {
	raw, err := nc.(syscall.Conn).SyscallConn()
	if err != nil {
		return 0, false
	}
	var ioctlErr error
	if err := raw.Control(func(fd uintptr) { n, ioctlErr = unix.IoctlGetInt(int(fd), unix.SIOCOUTQNSD) }); err != nil {
		return 0, false
	}
	return n, ioctlErr == nil
}

// TestResetHalfOfViewers: 25 of 50 viewers reset their connections mid-stream; the other 25
// lose nothing, and goroutines, fds and pooled buffers all return to their baseline.
func TestResetHalfOfViewers(t *testing.T) {
	baseG, baseFD := runtime.NumGoroutine(), fanCountFDs(t)
	h := newFanHarness(t, Config{MaxViewers: 64}, benchFPS)

	var viewers []*fanViewer
	for range 50 {
		v := dialFanViewer(t, h.addr, 0)
		go v.receive()
		viewers = append(viewers, v)
	}
	fanWaitFor(t, "all viewers to receive", func() bool {
		for _, v := range viewers {
			if p, _, _ := v.snapshot(); p == 0 {
				return false
			}
		}
		return true
	})
	for _, v := range viewers[:25] {
		v.reset()
		<-v.done
	}
	fanWaitFor(t, "reset sessions to end", func() bool { return h.srv.SessionCount() == 25 })
	rest := viewers[25:]
	before := make([]int, len(rest))
	for i, v := range rest {
		before[i], _, _ = v.snapshot()
	}
	fanWaitFor(t, "the remaining viewers to keep receiving", func() bool {
		for i, v := range rest {
			if p, _, _ := v.snapshot(); p < before[i]+200 {
				return false
			}
		}
		return true
	})
	for i, v := range rest {
		if p, gaps, _ := v.snapshot(); gaps != 0 {
			t.Errorf("viewer %d: %d gaps in %d packets", i, gaps, p)
		}
	}
	for _, v := range rest {
		v.nc.Close()
		<-v.done
	}
	fanWaitFor(t, "all sessions to end", func() bool { return h.srv.SessionCount() == 0 })
	h.close()
	fanWaitFor(t, "goroutines to return to baseline", func() bool { return runtime.NumGoroutine() <= baseG })
	fanWaitFor(t, "fds to return to baseline", func() bool { return fanCountFDs(t) <= baseFD })
}

// TestPublishAllocatesNothing: with UDP and TCP viewers playing, publishing a frame
// (which packetizes it and, on the publishing goroutine, sends it to every viewer) allocates
// nothing in steady state, the viewers' receiving included.
func TestPublishAllocatesNothing(t *testing.T) {
	ln, publish := startAllocServer(t, func(srv *Server, ln net.Listener) { go srv.Serve(ln) })
	var tcp []*fanViewer
	for range 3 {
		v := dialFanViewer(t, ln.Addr().String(), 0)
		go v.receive()
		tcp = append(tcp, v)
	}
	var udp []*fanUDPViewer
	for range 3 {
		udp = append(udp, dialFanUDPViewer(t, ln.Addr().String()))
	}
	for range 2 * benchGOP { // warm up: scratch buffers, pools and sockets reach their size
		publish()
	}
	fanWaitFor(t, "every viewer to receive", func() bool {
		for _, v := range tcp {
			if p, _, _ := v.snapshot(); p == 0 {
				return false
			}
		}
		for _, v := range udp {
			if v.packets.Load() == 0 {
				return false
			}
		}
		return true
	})
	if allocs := testing.AllocsPerRun(3*benchGOP, publish); allocs != 0 {
		t.Errorf("publishing to 3 UDP and 3 TCP viewers: %.1f allocations per frame, want 0", allocs)
	}
	for _, v := range tcp {
		if _, gaps, _ := v.snapshot(); gaps != 0 {
			t.Errorf("TCP viewer: %d sequence gaps", gaps)
		}
		v.nc.Close()
		<-v.done
	}
	for _, v := range udp {
		if g := v.gaps.Load(); g != 0 {
			t.Errorf("UDP viewer: %d sequence gaps", g)
		}
	}
}

// startAllocServer starts a server for the zero-allocation tests, serving on a loopback
// listener with serve, and returns the listener and a function that publishes the next frame
// of the bench GOP. It skips under -race, where sync.Pool drops items at random.
func startAllocServer(t *testing.T, serve func(*Server, net.Listener)) (net.Listener, func()) {
	t.Helper()
	if raceEnabled {
		t.Skip("-race makes sync.Pool drop items, so allocations say nothing; make allocs runs this without it")
	}
	pool := encoder.NewPool()
	stream := NewStream(StreamConfig{})
	srv, err := NewServer(Config{}, stream)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	serve(srv, ln)
	t.Cleanup(func() { srv.Close(); stream.Close() })
	units := benchGOPUnits()
	frame := 0
	return ln, func() {
		stream.Publish(benchAU(pool, units, frame))
		frame++
		time.Sleep(3 * time.Millisecond) // a viewer that falls behind is logged; stay ahead
	}
}

// fanUDPViewer plays over UDP and counts the RTP packets it receives.
type fanUDPViewer struct {
	ctl           *fanViewer // the RTSP connection, kept open
	packets, gaps atomic.Int64
}

func dialFanUDPViewer(t *testing.T, addr string) *fanUDPViewer {
	t.Helper()
	u := listenUDPClient(t)
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	v := &fanUDPViewer{ctl: playUDPOver(t, nc, u)}
	_ = u.rtp.SetReadBuffer(4 << 20)
	go func() {
		buf := make([]byte, 2048)
		var last uint16
		for {
			n, err := u.rtp.Read(buf)
			if err != nil {
				return // closed at cleanup
			}
			if n < rtpHeaderLen {
				continue
			}
			seq := binary.BigEndian.Uint16(buf[2:4])
			if v.packets.Add(1) > 1 && seq != last+1 {
				v.gaps.Add(1)
			}
			last = seq
		}
	}()
	return v
}

// playUDPOver sets up and plays a UDP session over the RTSP connection nc, with u's ports.
func playUDPOver(t *testing.T, nc net.Conn, u *udpClient) *fanViewer {
	t.Helper()
	p := u.ports()
	return playOver(t, nc, fmt.Sprintf("RTP/AVP;unicast;client_port=%d-%d", p[0], p[1]))
}

// TestShutdownDoesNotWaitForStuckViewers: a server closing (camerad on SIGTERM) while TCP
// viewers have stopped reading ends their sessions at once instead of waiting out each one's
// write timeout (a minute here).
func TestShutdownDoesNotWaitForStuckViewers(t *testing.T) {
	const writeTimeout = time.Minute
	h := newFanHarness(t, Config{WriteTimeout: writeTimeout}, benchFPS)
	defer h.close()
	var stuck []*fanViewer
	for range 3 {
		stuck = append(stuck, dialFanViewer(t, h.addr, 4096)) // never reads
	}
	defer runtime.KeepAlive(stuck) // a collected connection would close, unsticking its writer
	// A sender stuck in its write builds no more packets: the byte counts stand still.
	var last []uint64
	fanWaitFor(t, "the viewers' writes to block", func() bool {
		time.Sleep(500 * time.Millisecond)
		var now []uint64
		for _, v := range h.srv.Viewers() {
			now = append(now, v.Bytes)
		}
		still := len(now) == 3 && slices.Equal(now, last)
		last = now
		return still
	})
	start := time.Now()
	h.srv.Close()
	if took := time.Since(start); took > writeTimeout/2 {
		t.Errorf("Close took %v with stuck viewers: it waited for their write timeout (%v)", took.Round(time.Millisecond), writeTimeout)
	}
}
