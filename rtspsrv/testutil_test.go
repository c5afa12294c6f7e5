package rtspsrv

// Shared helpers for the protocol tests: an in-process server fed by the embedded clip on
// 127.0.0.1:0, and a raw RTSP client that speaks bytes on a real TCP socket, so that every
// test sees exactly what a player would.

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/rtp"
	"go.uber.org/goleak"

	"github.com/camerad/camerad/encoder"
	"github.com/camerad/camerad/encoder/clipsrc"
)

// ioDeadline bounds every blocking read or write a test makes, so that a server that never
// answers fails the test instead of hanging it. It is a safety net, never an assertion on
// how long something took.
const ioDeadline = 10 * time.Second

// settleDeadline bounds polling for an outcome (a session gone, goroutines back to baseline).
const settleDeadline = 10 * time.Second

// testServer is a Server on a loopback listener, streaming the embedded clip.
type testServer struct {
	srv    *Server
	stream *Stream
	pool   *encoder.Pool
	addr   string // host:port of the RTSP listener
	url    string // rtsp://addr/stream
	ns     string // the network namespace the server is in; "" for the test's own
	// With startTLSServer: the RTSPS listener beside the plain one, and the certificate
	// pool a client verifies it with.
	tlsAddr string
	tlsURL  string // rtsps://tlsAddr/stream
	roots   *x509.CertPool
}

// startServer starts a server with cfg (Path defaults to /stream) and registers its shutdown,
// followed by a check that every access unit went back to its pool.
func startServer(t testing.TB, cfg Config) *testServer {
	t.Helper()
	return startServerOn(t, cfg, "127.0.0.1:0")
}

// startServerOn is startServer with the RTSP listener on addr ("[::1]:0" for IPv6).
func startServerOn(t testing.TB, cfg Config, addr string) *testServer {
	t.Helper()
	return startTestServer(t, cfg, addr, "", false)
}

// startServerIn is startServerOn with the server's sockets in network namespace ns ("" for
// the test's own); ts.dial then connects from inside it too.
func startServerIn(t testing.TB, cfg Config, addr, ns string) *testServer {
	t.Helper()
	return startTestServer(t, cfg, addr, ns, false)
}

// startServerWith is startServerOn that also serves RTSPS on another loopback port when
// withTLS is set, with a fresh self-signed certificate for 127.0.0.1.
func startServerWith(t testing.TB, cfg Config, addr string, withTLS bool) *testServer {
	t.Helper()
	return startTestServer(t, cfg, addr, "", withTLS)
}

// startTestServer is what the functions above share.
func startTestServer(t testing.TB, cfg Config, addr, ns string, withTLS bool) *testServer {
	t.Helper()
	// Goroutines that exist now are not the server's; any other left after Close is a leak.
	before := goleak.IgnoreCurrent()
	pool := encoder.NewPool()
	src, err := clipsrc.NewDefault(pool)
	if err != nil {
		t.Fatalf("clip source: %v", err)
	}
	logger := newTestLogger(t)
	stream := NewStream(StreamConfig{Keyframes: src, Logger: logger})
	if cfg.Logger == nil {
		cfg.Logger = logger
	}
	var srv *Server
	var ln net.Listener
	open := func() error {
		var err error
		if srv, err = NewServer(cfg, stream); err != nil {
			return fmt.Errorf("NewServer: %w", err)
		}
		if ln, err = net.Listen("tcp", addr); err != nil {
			srv.Close()
			return fmt.Errorf("listen: %w", err)
		}
		return nil
	}
	if ns == "" {
		err = open()
	} else {
		err = inNetns(ns, open)
	}
	if err != nil {
		t.Fatal(err)
	}
	var tlsLn net.Listener
	var tlsCfg *tls.Config
	var roots *x509.CertPool
	if withTLS {
		tlsCfg, roots = testTLSConfig(t)
		if tlsLn, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			ln.Close()
			srv.Close()
			t.Fatalf("listen: %v", err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	serveErr := make(chan error, 2)
	go func() { defer wg.Done(); serveErr <- srv.Serve(ln) }()
	go func() { defer wg.Done(); _ = src.Run(ctx, stream.Publish) }()
	if withTLS {
		wg.Add(1)
		go func() { defer wg.Done(); serveErr <- srv.ServeTLS(tlsLn, tlsCfg) }()
	}
	t.Cleanup(func() {
		srv.Close()
		cancel()
		wg.Wait()
		close(serveErr)
		for err := range serveErr {
			if err != nil {
				t.Errorf("Serve returned %v after Close, want nil", err)
			}
		}
		stream.Close()
		if n := pool.Outstanding(); n != 0 {
			t.Errorf("%d access units not returned to the pool after shutdown", n)
		}
		if n := pool.DoubleReleases(); n != 0 {
			t.Errorf("%d double releases of access units", n)
		}
		if err := goleak.Find(before); err != nil {
			t.Errorf("goroutines left after Close: %v", err)
		}
	})
	addr = ln.Addr().String()
	path := cfg.Path
	if path == "" {
		path = "/stream"
	}
	ts := &testServer{srv: srv, stream: stream, pool: pool, addr: addr, url: "rtsp://" + addr + path, ns: ns, roots: roots}
	if withTLS {
		ts.tlsAddr = tlsLn.Addr().String()
		ts.tlsURL = "rtsps://" + ts.tlsAddr + path
	}
	return ts
}

// testLogWriter forwards server logs to the test's output until the test ends; a late log
// line (from a goroutine that outlives the test) is dropped instead of panicking.
type testLogWriter struct {
	mu   sync.Mutex
	w    io.Writer
	done bool
}

func (w *testLogWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done {
		return len(p), nil
	}
	return w.w.Write(p)
}

func newTestLogger(t testing.TB) *slog.Logger {
	w := &testLogWriter{w: t.Output()}
	t.Cleanup(func() {
		w.mu.Lock()
		w.done = true
		w.mu.Unlock()
	})
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

// rtspResponse is a parsed response as a client sees it.
type rtspResponse struct {
	Status int
	Reason string
	Header Header
	Body   []byte
}

func (r *rtspResponse) String() string {
	return fmt.Sprintf("%d %s %v", r.Status, r.Reason, r.Header)
}

// rtpFrame is an interleaved ($) frame received from the server.
type rtpFrame struct {
	channel int
	payload []byte
}

// rtspClient is a raw RTSP client on one TCP connection.
type rtspClient struct {
	t    *testing.T
	nc   net.Conn
	br   *bufio.Reader
	cseq int
	// frames holds interleaved frames that arrived while a response was awaited.
	frames []rtpFrame
}

func (ts *testServer) dial(t *testing.T) *rtspClient {
	t.Helper()
	var nc net.Conn
	dial := func() (err error) {
		nc, err = net.Dial("tcp", ts.addr)
		return err
	}
	var err error
	if ts.ns == "" {
		err = dial()
	} else {
		err = inNetns(ts.ns, dial)
	}
	if err != nil {
		t.Fatalf("dial %s: %v", ts.addr, err)
	}
	t.Cleanup(func() { nc.Close() })
	return &rtspClient{t: t, nc: nc, br: bufio.NewReader(nc)}
}

// send writes raw bytes.
func (c *rtspClient) send(raw string) {
	c.t.Helper()
	_ = c.nc.SetWriteDeadline(time.Now().Add(ioDeadline))
	if _, err := io.WriteString(c.nc, raw); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// buildRequest formats a request with the next CSeq; headers are "Name: value" lines.
func (c *rtspClient) buildRequest(method, uri string, headers ...string) string {
	c.cseq++
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s RTSP/1.0\r\nCSeq: %d\r\n", method, uri, c.cseq)
	for _, h := range headers {
		b.WriteString(h + "\r\n")
	}
	b.WriteString("\r\n")
	return b.String()
}

// do sends a request and returns its response, checking that the CSeq is echoed.
func (c *rtspClient) do(method, uri string, headers ...string) *rtspResponse {
	c.t.Helper()
	c.send(c.buildRequest(method, uri, headers...))
	resp, err := c.readResponse()
	if err != nil {
		c.t.Fatalf("%s %s: reading response: %v", method, uri, err)
	}
	if got := resp.Header.Get("CSeq"); got != strconv.Itoa(c.cseq) {
		c.t.Fatalf("%s %s: response CSeq %q, want %d (%v)", method, uri, got, c.cseq, resp)
	}
	return resp
}

// mustDo is do that also requires the status.
func (c *rtspClient) mustDo(want int, method, uri string, headers ...string) *rtspResponse {
	c.t.Helper()
	resp := c.do(method, uri, headers...)
	if resp.Status != want {
		c.t.Fatalf("%s %s: status %d %s, want %d (%v)", method, uri, resp.Status, resp.Reason, want, resp)
	}
	return resp
}

// readResponse reads the next response, keeping any interleaved frames that precede it.
func (c *rtspClient) readResponse() (*rtspResponse, error) {
	_ = c.nc.SetReadDeadline(time.Now().Add(ioDeadline))
	for {
		b, err := c.br.Peek(1)
		if err != nil {
			return nil, err
		}
		if b[0] != '$' {
			break
		}
		f, err := c.readFrameRaw()
		if err != nil {
			return nil, err
		}
		// Keep a bounded backlog: a test reading only responses must not grow without end.
		if len(c.frames) < 4096 {
			c.frames = append(c.frames, f)
		}
	}
	line, err := c.br.ReadString('\n')
	if err != nil {
		return nil, fmt.Errorf("status line: %w", err)
	}
	proto, rest, _ := strings.Cut(strings.TrimRight(line, "\r\n"), " ")
	code, reason, _ := strings.Cut(rest, " ")
	if proto != "RTSP/1.0" {
		return nil, fmt.Errorf("status line %q", line)
	}
	resp := &rtspResponse{Reason: reason}
	if resp.Status, err = strconv.Atoi(code); err != nil {
		return nil, fmt.Errorf("status line %q: %w", line, err)
	}
	for {
		line, err := c.br.ReadString('\n')
		if err != nil {
			return nil, fmt.Errorf("header: %w", err)
		}
		line = strings.TrimRight(line, "\r\n")
		if line == "" {
			break
		}
		name, value, ok := strings.Cut(line, ":")
		if !ok {
			return nil, fmt.Errorf("header line %q", line)
		}
		resp.Header = append(resp.Header, HeaderField{Name: name, Value: strings.TrimSpace(value)})
	}
	if cl := resp.Header.Get("Content-Length"); cl != "" {
		n, err := strconv.Atoi(cl)
		if err != nil {
			return nil, fmt.Errorf("Content-Length %q: %w", cl, err)
		}
		resp.Body = make([]byte, n)
		if _, err := io.ReadFull(c.br, resp.Body); err != nil {
			return nil, fmt.Errorf("body: %w", err)
		}
	}
	return resp, nil
}

func (c *rtspClient) readFrameRaw() (rtpFrame, error) {
	var hdr [4]byte
	if _, err := io.ReadFull(c.br, hdr[:]); err != nil {
		return rtpFrame{}, err
	}
	if hdr[0] != '$' {
		return rtpFrame{}, fmt.Errorf("expected '$', got %q", hdr[0])
	}
	p := make([]byte, binary.BigEndian.Uint16(hdr[2:]))
	if _, err := io.ReadFull(c.br, p); err != nil {
		return rtpFrame{}, err
	}
	return rtpFrame{channel: int(hdr[1]), payload: p}, nil
}

// readFrame returns the next interleaved frame (buffered ones first).
func (c *rtspClient) readFrame() (rtpFrame, error) {
	if len(c.frames) > 0 {
		f := c.frames[0]
		c.frames = c.frames[1:]
		return f, nil
	}
	_ = c.nc.SetReadDeadline(time.Now().Add(ioDeadline))
	return c.readFrameRaw()
}

// readRTP returns the next RTP packet on channel, skipping other channels (RTCP).
func (c *rtspClient) readRTP(channel int) *rtp.Packet {
	c.t.Helper()
	for {
		f, err := c.readFrame()
		if err != nil {
			c.t.Fatalf("reading interleaved frame: %v", err)
		}
		if f.channel != channel {
			continue
		}
		var p rtp.Packet
		if err := p.Unmarshal(f.payload); err != nil {
			c.t.Fatalf("RTP on channel %d: %v", channel, err)
		}
		return &p
	}
}

// waitClosed reads until the server closes the connection and returns what ended the read:
// io.EOF or a reset means closed; a deadline error means it stayed open.
func (c *rtspClient) waitClosed() error {
	_ = c.nc.SetReadDeadline(time.Now().Add(ioDeadline))
	_, err := io.Copy(io.Discard, c.br)
	if err == nil {
		return io.EOF
	}
	return err
}

// requireClosed asserts that the server closed the connection (EOF or reset).
func (c *rtspClient) requireClosed() {
	c.t.Helper()
	err := c.waitClosed()
	if errors.Is(err, os.ErrDeadlineExceeded) {
		c.t.Fatalf("server left the connection open")
	}
}

// playUDP sets up and plays a UDP session over a new connection, with the viewer's sockets in
// the server's network namespace. It returns the connection, the viewer's sockets, the
// session ID and the SSRC of the first RTP packet received.
func (ts *testServer) playUDP(t *testing.T) (*rtspClient, *udpClient, string, uint32) {
	t.Helper()
	c := ts.dial(t)
	var u *udpClient
	if ts.ns == "" {
		u = listenUDPClient(t)
	} else if err := inNetns(ts.ns, func() error { u = listenUDPClient(t); return nil }); err != nil {
		t.Fatal(err)
	}
	p := u.ports()
	setup := c.mustDo(StatusOK, "SETUP", ts.url+"/trackID=0", fmt.Sprintf("Transport: RTP/AVP;unicast;client_port=%d-%d", p[0], p[1]))
	id := sessionID(setup.Header.Get("Session"))
	c.mustDo(StatusOK, "PLAY", ts.url, "Session: "+id)
	first, _ := u.readRTP(t)
	return c, u, id, first.SSRC
}

// playTCP sets up and plays one TCP-interleaved viewer and returns the client, its session
// id and the PLAY response.
func (ts *testServer) playTCP(t *testing.T) (*rtspClient, string, *rtspResponse) {
	t.Helper()
	c := ts.dial(t)
	setup := c.mustDo(StatusOK, "SETUP", ts.url+"/trackID=0", "Transport: RTP/AVP/TCP;unicast;interleaved=0-1")
	id := sessionID(setup.Header.Get("Session"))
	play := c.mustDo(StatusOK, "PLAY", ts.url+"/", "Session: "+id, "Range: npt=0.000-")
	return c, id, play
}

// udpClient is a viewer's RTP/RTCP socket pair on loopback (RTP even, RTCP odd).
type udpClient struct {
	rtp, rtcp *net.UDPConn
}

func (u *udpClient) ports() [2]int {
	return [2]int{u.rtp.LocalAddr().(*net.UDPAddr).Port, u.rtcp.LocalAddr().(*net.UDPAddr).Port}
}

func listenUDPClient(t *testing.T) *udpClient {
	t.Helper()
	return listenUDPClientOn(t, net.IPv4(127, 0, 0, 1))
}

// listenUDPClientOn is listenUDPClient on ip (net.IPv6loopback for IPv6).
func listenUDPClientOn(t *testing.T, ip net.IP) *udpClient {
	t.Helper()
	for range 100 {
		a, err := net.ListenUDP("udp", &net.UDPAddr{IP: ip})
		if err != nil {
			t.Fatalf("listen UDP: %v", err)
		}
		p := a.LocalAddr().(*net.UDPAddr).Port
		if p%2 != 0 {
			a.Close()
			continue
		}
		b, err := net.ListenUDP("udp", &net.UDPAddr{IP: ip, Port: p + 1})
		if err != nil {
			a.Close()
			continue
		}
		t.Cleanup(func() { a.Close(); b.Close() })
		return &udpClient{rtp: a, rtcp: b}
	}
	t.Fatal("no free even/odd UDP port pair on loopback")
	return nil
}

// readRTP returns the next RTP packet and its source address.
func (u *udpClient) readRTP(t *testing.T) (*rtp.Packet, *net.UDPAddr) {
	t.Helper()
	buf := make([]byte, 2048)
	_ = u.rtp.SetReadDeadline(time.Now().Add(ioDeadline))
	n, from, err := u.rtp.ReadFromUDP(buf)
	if err != nil {
		t.Fatalf("reading RTP over UDP: %v", err)
	}
	var p rtp.Packet
	if err := p.Unmarshal(buf[:n]); err != nil {
		t.Fatalf("RTP over UDP: %v", err)
	}
	return &p, from
}

// parseRTPInfo returns seq and rtptime from an RTP-Info header.
func parseRTPInfo(t *testing.T, h string) (url string, seq uint16, rtptime uint32) {
	t.Helper()
	for _, p := range strings.Split(h, ";") {
		k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
		switch k {
		case "url":
			url = v
		case "seq":
			n, err := strconv.ParseUint(v, 10, 16)
			if err != nil {
				t.Fatalf("RTP-Info seq %q: %v", v, err)
			}
			seq = uint16(n)
		case "rtptime":
			n, err := strconv.ParseUint(v, 10, 32)
			if err != nil {
				t.Fatalf("RTP-Info rtptime %q: %v", v, err)
			}
			rtptime = uint32(n)
		}
	}
	if url == "" {
		t.Fatalf("RTP-Info %q has no url", h)
	}
	return url, seq, rtptime
}

// eventually polls cond until it holds or settleDeadline passes.
func waitUntil(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(settleDeadline)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting: %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// countFDs is the number of open file descriptors of this process.
func countFDs(t *testing.T) int {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Skipf("cannot count file descriptors: %v", err)
	}
	return len(ents)
}

// settleResources waits until goroutines and fds are back to (at most) the given baseline.
func settleResources(t *testing.T, goroutines, fds int) {
	t.Helper()
	deadline := time.Now().Add(settleDeadline)
	for {
		g, f := runtime.NumGoroutine(), countFDs(t)
		if g <= goroutines && f <= fds {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			buf = buf[:runtime.Stack(buf, true)]
			t.Fatalf("resources not released: %d goroutines (baseline %d), %d fds (baseline %d)\n%s",
				g, goroutines, f, fds, buf)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// loadFixture reads a byte-exact client request from testdata/client-requests.
func loadFixture(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile("testdata/client-requests/" + name)
	if err != nil {
		t.Fatalf("fixture: %v", err)
	}
	return string(b)
}

// rewriteFixture adapts a captured request to the test server: its URL host, its Session
// header, and its UDP client ports, leaving every other byte as captured.
func rewriteFixture(raw, host, session string, clientPorts [2]int) string {
	raw = strings.ReplaceAll(raw, "192.0.2.10:8554", host)
	raw = strings.ReplaceAll(raw, "192.0.2.10:554", host)
	lines := strings.Split(raw, "\r\n")
	for i, l := range lines {
		name, _, ok := strings.Cut(l, ":")
		if !ok {
			continue
		}
		switch strings.ToLower(name) {
		case "session":
			if session != "" {
				lines[i] = name + ": " + session
			}
		case "transport":
			if clientPorts[0] != 0 {
				lines[i] = rewriteClientPort(l, clientPorts)
			}
		}
	}
	return strings.Join(lines, "\r\n")
}

func rewriteClientPort(line string, ports [2]int) string {
	i := strings.Index(line, "client_port=")
	if i < 0 {
		return line
	}
	j := i + len("client_port=")
	k := j
	for k < len(line) && (line[k] >= '0' && line[k] <= '9' || line[k] == '-') {
		k++
	}
	return line[:j] + fmt.Sprintf("%d-%d", ports[0], ports[1]) + line[k:]
}

// rtpMonitor follows one viewer's RTP in the background, counting packets and sequence gaps,
// so that a test can show that a viewer kept receiving, without loss, while something else
// happened on the server.
type rtpMonitor struct {
	packets atomic.Int64
	gaps    atomic.Int64
	mu      sync.Mutex
	err     error
	done    chan struct{}
}

func (m *rtpMonitor) observe(p *rtp.Packet, last *int) {
	if *last >= 0 && p.SequenceNumber != uint16(*last+1) {
		m.gaps.Add(1)
	}
	*last = int(p.SequenceNumber)
	m.packets.Add(1)
}

func (m *rtpMonitor) fail(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err == nil {
		m.err = err
	}
}

// monitorTCP takes over reading c (which must not be read elsewhere afterwards).
func monitorTCP(t *testing.T, c *rtspClient, channel int) *rtpMonitor {
	m := &rtpMonitor{done: make(chan struct{})}
	go func() {
		defer close(m.done)
		last := -1
		for {
			f, err := c.readFrame()
			if err != nil {
				m.fail(err)
				return
			}
			if f.channel != channel {
				continue
			}
			var p rtp.Packet
			if err := p.Unmarshal(f.payload); err != nil {
				m.fail(err)
				return
			}
			m.observe(&p, &last)
		}
	}()
	t.Cleanup(func() { c.nc.Close(); <-m.done })
	return m
}

// monitorUDP takes over reading u's RTP socket.
func monitorUDP(t *testing.T, u *udpClient) *rtpMonitor {
	m := &rtpMonitor{done: make(chan struct{})}
	_ = u.rtp.SetReadBuffer(4 << 20)
	go func() {
		defer close(m.done)
		last := -1
		buf := make([]byte, 2048)
		for {
			_ = u.rtp.SetReadDeadline(time.Now().Add(ioDeadline))
			n, err := u.rtp.Read(buf)
			if err != nil {
				m.fail(err)
				return
			}
			var p rtp.Packet
			if err := p.Unmarshal(buf[:n]); err != nil {
				m.fail(err)
				return
			}
			m.observe(&p, &last)
		}
	}()
	t.Cleanup(func() { u.rtp.Close(); <-m.done })
	return m
}

// requireFlowing asserts that more packets arrive, none lost so far.
func (m *rtpMonitor) requireFlowing(t *testing.T, what string) {
	t.Helper()
	n := m.packets.Load()
	deadline := time.Now().Add(settleDeadline)
	for m.packets.Load() < n+5 {
		m.mu.Lock()
		err := m.err
		m.mu.Unlock()
		if err != nil {
			t.Fatalf("%s: the other viewer stopped receiving: %v", what, err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: the other viewer received nothing more", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
	if g := m.gaps.Load(); g != 0 {
		t.Fatalf("%s: the other viewer lost packets (%d sequence gaps)", what, g)
	}
}
