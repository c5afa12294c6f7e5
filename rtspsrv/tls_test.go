package rtspsrv

// RTSP over TLS: the real server with a TLS listener beside the plain one, played by
// gortsplib over rtsps:// and by raw clients on real TLS connections.

import (
	"bufio"
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5"
	"github.com/bluenviron/gortsplib/v5/pkg/base"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	mch264 "github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/pion/rtp"

	"github.com/camerad/camerad/rtspsrv/digest"
	"github.com/camerad/camerad/rtspsrv/digest/digesttest"
)

// testTLSConfig makes a fresh self-signed ECDSA certificate for 127.0.0.1 and ::1, and the
// pool a client trusts it with.
func testTLSConfig(t testing.TB) (*tls.Config, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "camerad test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(leaf)
	return &tls.Config{Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}}}, roots
}

// startTLSServer is startServer with an RTSPS listener too.
func startTLSServer(t *testing.T, cfg Config) *testServer {
	t.Helper()
	return startServerWith(t, cfg, "127.0.0.1:0", true)
}

// dialTLS opens a verified TLS connection to the RTSPS listener.
func (ts *testServer) dialTLS(t *testing.T) *rtspClient {
	t.Helper()
	nc, err := tls.DialWithDialer(&net.Dialer{Timeout: ioDeadline}, "tcp", ts.tlsAddr, &tls.Config{RootCAs: ts.roots})
	if err != nil {
		t.Fatalf("dial rtsps %s: %v", ts.tlsAddr, err)
	}
	t.Cleanup(func() { nc.Close() })
	return &rtspClient{t: t, nc: nc, br: bufio.NewReader(nc)}
}

// TestTLSPlays: gortsplib plays rtsps:// with Digest auth over TCP-interleaved media and gets
// a keyframe; every URL the server hands out keeps the rtsps scheme; the session counts
// against the same table as plain RTSP ones.
func TestTLSPlays(t *testing.T) {
	ts := startTLSServer(t, Config{Username: "viewer", Password: "s3cret"})
	u, err := base.ParseURL("rtsps://viewer:s3cret@" + ts.tlsAddr + "/stream")
	if err != nil {
		t.Fatal(err)
	}
	proto := gortsplib.ProtocolTCP
	c := &gortsplib.Client{
		Scheme:    u.Scheme,
		Host:      u.Host,
		Protocol:  &proto,
		TLSConfig: &tls.Config{RootCAs: ts.roots}, // verified: the server really speaks TLS with its certificate
	}
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	desc, res, err := c.Describe(u)
	if err != nil {
		t.Fatalf("DESCRIBE: %v", err)
	}
	if cb := e2eHeader(res.Header, "Content-Base"); len(cb) != 1 || !strings.HasPrefix(cb[0], "rtsps://") {
		t.Errorf("DESCRIBE over TLS: Content-Base %q, want an rtsps:// URL", cb)
	}
	var forma *format.H264
	medi := desc.FindFormat(&forma)
	if medi == nil {
		t.Fatalf("DESCRIBE: no H.264 track")
	}
	dec, err := forma.CreateDecoder()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Setup(desc.BaseURL, medi, 0, 0); err != nil {
		t.Fatalf("SETUP: %v", err)
	}
	keyframe := make(chan struct{})
	var once sync.Once
	c.OnPacketRTP(medi, forma, func(pkt *rtp.Packet) {
		au, err := dec.Decode(pkt)
		if err != nil {
			return
		}
		for _, n := range au {
			if len(n) > 0 && mch264.NALUType(n[0]&0x1f) == mch264.NALUTypeIDR {
				once.Do(func() { close(keyframe) })
			}
		}
	})
	res, err = c.Play(nil)
	if err != nil {
		t.Fatalf("PLAY: %v", err)
	}
	if info := e2eHeader(res.Header, "RTP-Info"); len(info) != 1 || !strings.HasPrefix(info[0], "url=rtsps://") {
		t.Errorf("PLAY over TLS: RTP-Info %q, want an rtsps:// url", info)
	}
	if n := ts.srv.SessionCount(); n != 1 {
		t.Errorf("%d sessions on the server, want 1", n)
	}
	select {
	case <-keyframe:
	case <-time.After(e2eWait):
		t.Fatalf("no keyframe over rtsps within %v", e2eWait)
	}
}

// TestTLSTransports: over TLS, media goes only inside the connection. A UDP-only SETUP gets
// 461, and so does multicast although the server offers it; from a list of alternatives the
// interleaved one is chosen, wherever it is; the plain listener of the same server still
// serves UDP. Basic auth works over TLS (and only there: plain RTSP takes Digest alone).
func TestTLSTransports(t *testing.T) {
	ts := startTLSServer(t, Config{Username: "viewer", Password: "s3cret", Multicast: testGroup})
	auth := "Authorization: Basic " + base64.StdEncoding.EncodeToString([]byte("viewer:s3cret"))
	u := listenUDPClient(t)
	p := u.ports()
	udp := fmt.Sprintf("RTP/AVP;unicast;client_port=%d-%d", p[0], p[1])

	c := ts.dialTLS(t)
	challenge := c.mustDo(StatusUnauthorized, "DESCRIBE", ts.tlsURL)
	var schemes []string
	for _, f := range challenge.Header {
		if strings.EqualFold(f.Name, "WWW-Authenticate") {
			scheme, _, _ := strings.Cut(f.Value, " ")
			schemes = append(schemes, scheme)
		}
	}
	if strings.Join(schemes, ",") != "Digest,Basic" {
		t.Errorf("challenges over TLS offer %q, want Digest then Basic", schemes)
	}
	d := c.mustDo(StatusOK, "DESCRIBE", ts.tlsURL, auth)
	if cb := d.Header.Get("Content-Base"); cb != ts.tlsURL+"/" {
		t.Errorf("Content-Base %q, want %q", cb, ts.tlsURL+"/")
	}
	c.mustDo(StatusUnsupportedTransport, "SETUP", ts.tlsURL+"/trackID=0", auth, "Transport: "+udp)
	c.mustDo(StatusUnsupportedTransport, "SETUP", ts.tlsURL+"/trackID=0", auth,
		"Transport: RTP/AVP;multicast, "+udp)
	c.mustDo(StatusUnsupportedTransport, "SETUP", ts.tlsURL+"/trackID=0", auth, "Transport: RTP/AVP;multicast")
	if n := ts.srv.SessionCount(); n != 0 {
		t.Fatalf("%d sessions after refused SETUPs, want 0", n)
	}
	setup := c.mustDo(StatusOK, "SETUP", ts.tlsURL+"/trackID=0", auth,
		"Transport: "+udp+",RTP/AVP/TCP;unicast;interleaved=2-3")
	if tr := setup.Header.Get("Transport"); !strings.Contains(tr, "RTP/AVP/TCP") || !strings.Contains(tr, "interleaved=2-3") {
		t.Fatalf("SETUP over TLS chose %q, want the interleaved alternative", tr)
	}
	id := sessionID(setup.Header.Get("Session"))
	play := c.mustDo(StatusOK, "PLAY", ts.tlsURL, auth, "Session: "+id)
	if info := play.Header.Get("RTP-Info"); !strings.HasPrefix(info, "url="+ts.tlsURL+"/") {
		t.Errorf("RTP-Info %q, want url=%s/…", info, ts.tlsURL)
	}
	if pkt := c.readRTP(2); pkt.PayloadType != 96 {
		t.Errorf("first RTP packet over TLS has payload type %d", pkt.PayloadType)
	}

	// The same SETUP on the plain listener keeps UDP: the restriction is the TLS listener's.
	// (There Basic is refused: Digest.)
	plain := ts.dial(t)
	nonce := digest.ParseParams(strings.TrimPrefix(
		plain.mustDo(StatusUnauthorized, "DESCRIBE", ts.url, auth).Header.Get("WWW-Authenticate"), "Digest "))["nonce"]
	digest := func(method, uri string) string {
		return "Authorization: " + digesttest.Authorization("viewer", authRealm, "s3cret", method, uri, nonce, "")
	}
	plain.mustDo(StatusOK, "SETUP", ts.url+"/trackID=0", digest("SETUP", ts.url+"/trackID=0"), "Transport: "+udp)

	// The TLS session does not exist for plain connections: its id cannot end it there.
	plain.mustDo(StatusSessionNotFound, "GET_PARAMETER", ts.url, digest("GET_PARAMETER", ts.url), "Session: "+id)
	plain.mustDo(StatusSessionNotFound, "TEARDOWN", ts.url, digest("TEARDOWN", ts.url), "Session: "+id)
	if pkt := c.readRTP(2); pkt.PayloadType != 96 {
		t.Errorf("TLS viewer stopped after a plain TEARDOWN of its session: payload type %d", pkt.PayloadType)
	}
	c.mustDo(StatusOK, "TEARDOWN", ts.tlsURL, auth, "Session: "+id)
}

// captureClientHello returns the first TLS record a real client sends (its ClientHello).
func captureClientHello(t *testing.T) []byte {
	t.Helper()
	a, b := net.Pipe()
	defer a.Close()
	go func() { _ = tls.Client(b, &tls.Config{InsecureSkipVerify: true}).Handshake(); b.Close() }()
	_ = a.SetReadDeadline(time.Now().Add(ioDeadline))
	hdr := make([]byte, 5)
	if _, err := io.ReadFull(a, hdr); err != nil {
		t.Fatal(err)
	}
	body := make([]byte, int(hdr[3])<<8|int(hdr[4]))
	if _, err := io.ReadFull(a, body); err != nil {
		t.Fatal(err)
	}
	return append(hdr, body...)
}

// TestTLSBadClients: plain RTSP on the TLS port, garbage, a client that goes silent at once,
// in mid-ClientHello or after it, are all closed within RequestTimeout, leave goroutines and
// descriptors at their baseline, are logged at debug level only, and a TLS viewer playing
// meanwhile loses nothing.
func TestTLSBadClients(t *testing.T) {
	var logs syncBuffer
	logger := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelInfo}))
	ts := startTLSServer(t, Config{RequestTimeout: 300 * time.Millisecond, IdleTimeout: time.Hour, Logger: logger})
	viewer := ts.dialTLS(t)
	setup := viewer.mustDo(StatusOK, "SETUP", ts.tlsURL+"/trackID=0", "Transport: RTP/AVP/TCP;unicast;interleaved=0-1")
	viewer.mustDo(StatusOK, "PLAY", ts.tlsURL, "Session: "+sessionID(setup.Header.Get("Session")))
	mon := monitorTCP(t, viewer, 0)
	mon.requireFlowing(t, "before the bad clients")
	hello := captureClientHello(t)
	// Warm up: the runtime's own goroutines and descriptors for a TLS connection.
	ts.dialTLS(t).mustDo(StatusOK, "OPTIONS", "*")
	g, fds := runtime.NumGoroutine(), countFDs(t)

	var remotes []string
	for _, tc := range []struct{ name, send string }{
		{"plain RTSP", "OPTIONS * RTSP/1.0\r\nCSeq: 1\r\n\r\n"},
		{"garbage", "\x00\xff\x16\x03GET / HTTP/1.1\r\n\r\n"},
		{"silent", ""},
		{"half a ClientHello", string(hello[:len(hello)/2])},
		{"ClientHello, then silence", string(hello)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			nc, err := net.Dial("tcp", ts.tlsAddr) // plain TCP to the TLS port
			if err != nil {
				t.Fatal(err)
			}
			c := &rtspClient{t: t, nc: nc, br: bufio.NewReader(nc)}
			defer nc.Close()
			remotes = append(remotes, nc.LocalAddr().String())
			if tc.send != "" {
				c.send(tc.send)
			}
			c.requireClosed()
		})
	}
	settleResources(t, g, fds)
	mon.requireFlowing(t, "after the bad clients")
	for _, r := range remotes {
		if strings.Contains(logs.String(), r) {
			t.Errorf("a bad client (%s) was logged above debug level:\n%s", r, logs.String())
		}
	}
}

// TestStuckTLSViewerDropped: a TLS viewer that stops reading is dropped after WriteTimeout,
// like a plain one, while another TLS viewer receives every packet; nothing is left behind.
func TestStuckTLSViewerDropped(t *testing.T) {
	baseG := runtime.NumGoroutine()
	h := newFanHarnessTLS(t, Config{WriteTimeout: 500 * time.Millisecond}, benchFPS)
	dialTLS := func(rcvbuf int) *fanViewer {
		d := net.Dialer{Timeout: 5 * time.Second}
		if rcvbuf > 0 {
			d.Control = func(_, _ string, c syscall.RawConn) error {
				return c.Control(func(fd uintptr) {
					_ = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, rcvbuf)
				})
			}
		}
		nc, err := tls.DialWithDialer(&d, "tcp", h.tlsAddr, &tls.Config{InsecureSkipVerify: true})
		if err != nil {
			t.Fatal(err)
		}
		return playOver(t, nc, "RTP/AVP/TCP;unicast;interleaved=0-1")
	}
	stuck := dialTLS(4096) // never reads
	good := dialTLS(0)
	go good.receive()
	fanWaitFor(t, "the stuck TLS viewer to be dropped", func() bool { return h.srv.SessionCount() == 1 })
	before, _, _ := good.snapshot()
	fanWaitFor(t, "the other TLS viewer to keep receiving", func() bool {
		p, _, _ := good.snapshot()
		return p >= before+100
	})
	if p, gaps, first := good.snapshot(); gaps != 0 || first != 24 {
		t.Errorf("the other TLS viewer: %d gaps in %d packets, first NAL type %d (want 0 gaps, 24)", gaps, p, first)
	}
	stuck.nc.Close()
	good.nc.Close()
	<-good.done
	h.close()
	fanWaitFor(t, "goroutines back to baseline", func() bool { return runtime.NumGoroutine() <= baseG })
}

// syncBuffer is a bytes.Buffer safe for concurrent writes (a log destination).
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// recordCounter counts the TLS application-data records that arrive on a connection, as a
// tap below the TLS client.
type recordCounter struct {
	net.Conn
	mu      sync.Mutex
	hdr     [5]byte
	nh      int
	skip    int
	records int
}

func (r *recordCounter) Read(p []byte) (int, error) {
	n, err := r.Conn.Read(p)
	r.mu.Lock()
	defer r.mu.Unlock()
	for b := p[:n]; len(b) > 0; {
		if r.skip > 0 {
			k := min(r.skip, len(b))
			r.skip, b = r.skip-k, b[k:]
			continue
		}
		r.hdr[r.nh], r.nh, b = b[0], r.nh+1, b[1:]
		if r.nh == len(r.hdr) {
			r.nh, r.skip = 0, int(r.hdr[3])<<8|int(r.hdr[4])
			if r.hdr[0] == 23 { // application_data
				r.records++
			}
		}
	}
	return n, err
}

func (r *recordCounter) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.records
}

// TestTLSMediaBatched: over TLS a frame's packets go out in few records (one Write per frame,
// not one per '$' header and packet), in order and complete.
func TestTLSMediaBatched(t *testing.T) {
	h := newFanHarnessTLS(t, Config{}, benchFPS)
	defer h.close()
	raw, err := net.Dial("tcp", h.tlsAddr)
	if err != nil {
		t.Fatal(err)
	}
	tap := &recordCounter{Conn: raw}
	v := playOver(t, tls.Client(tap, &tls.Config{InsecureSkipVerify: true}), "RTP/AVP/TCP;unicast;interleaved=0-1")
	go v.receive()
	defer func() { v.nc.Close(); <-v.done }()
	fanWaitFor(t, "a few GOPs of packets", func() bool { p, _, _ := v.snapshot(); return p >= 1000 })
	p, gaps, _ := v.snapshot()
	records := tap.count()
	t.Logf("%d RTP packets in %d TLS records", p, records)
	// 720p frames of 15 KB and 100 KB in packets of about 1.4 KB: about ten packets to a
	// record when a frame is one Write, two records per packet when each buffer is one.
	if records*4 > p {
		t.Errorf("%d RTP packets came in %d TLS records: the frames are not batched", p, records)
	}
	if gaps != 0 {
		t.Errorf("%d sequence gaps", gaps)
	}
}

// TestTLSPublishAllocatesNothing: a frame sent to TLS viewers allocates nothing in steady
// state (gathering reuses the connection's buffer; tls.Conn reuses its record buffers).
// The viewers read the ciphertext without decrypting it, so that only the server counts.
func TestTLSPublishAllocatesNothing(t *testing.T) {
	tlsCfg, _ := testTLSConfig(t)
	ln, publish := startAllocServer(t, func(srv *Server, ln net.Listener) { go srv.ServeTLS(ln, tlsCfg) })
	done := make(chan struct{}, 3)
	var raws []net.Conn
	for range 3 {
		raw, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		raws = append(raws, raw)
		playOver(t, tls.Client(raw, &tls.Config{InsecureSkipVerify: true}), "RTP/AVP/TCP;unicast;interleaved=0-1")
		go func() { _, _ = io.Copy(io.Discard, raw); done <- struct{}{} }()
	}
	for range 2 * benchGOP { // warm up: gather buffers, record buffers, pools
		publish()
	}
	if allocs := testing.AllocsPerRun(3*benchGOP, publish); allocs != 0 {
		t.Errorf("publishing to 3 TLS viewers: %.1f allocations per frame, want 0", allocs)
	}
	for _, raw := range raws {
		raw.Close()
		<-done
	}
}
