package rtspsrv

// End-to-end tests: the real server on loopback, fed by a real source (the embedded clip or
// the pure-Go test source), played by an independent RTSP client (gortsplib) over UDP and
// TCP. The client's view of the wire is checked against what RFC 3550/6184 and the design
// promise a viewer, and the received H.264 is decoded by ffmpeg when it is installed.

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5"
	"github.com/bluenviron/gortsplib/v5/pkg/base"
	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/gortsplib/v5/pkg/format/rtph264"
	"github.com/bluenviron/gortsplib/v5/pkg/headers"
	mch264 "github.com/bluenviron/mediacommon/v2/pkg/codecs/h264"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"

	"github.com/camerad/camerad/encoder"
	"github.com/camerad/camerad/encoder/clipsrc"
	"github.com/camerad/camerad/encoder/h264"
	"github.com/camerad/camerad/encoder/testsrc"
)

// e2eWait bounds every wait in these tests. It is not an assertion on speed: it only keeps a
// broken server from hanging the suite, so it is far above what a loaded machine needs.
const e2eWait = 60 * time.Second

// e2eAUs is how many access units a client collects: about 3 s at 30 fps.
const e2eAUs = 90

// e2eSource is what the tests feed the stream with: a source that can make keyframes.
type e2eSource interface {
	encoder.Source
	encoder.KeyframeRequester
}

// e2eServer is a Server on 127.0.0.1:0 with its source running.
type e2eServer struct {
	url       string
	srv       *Server
	closeOnce sync.Once
}

// close shuts the server down (RTCP BYE to every viewer); safe to call more than once.
func (e *e2eServer) close() { e.closeOnce.Do(func() { e.srv.Close() }) }

// e2eStart starts a server for the source newSrc makes. Cleanup stops everything in the
// order camerad does and then checks that every pooled access unit came back.
func e2eStart(t *testing.T, newSrc func(*encoder.Pool) (e2eSource, error)) *e2eServer {
	t.Helper()
	pool := encoder.NewPool()
	src, err := newSrc(pool)
	if err != nil {
		t.Fatalf("source: %v", err)
	}
	stream := NewStream(StreamConfig{Keyframes: src})
	srv, err := NewServer(Config{Path: "/stream"}, stream)
	if err != nil {
		t.Fatalf("NewServer: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		srv.Close()
		t.Fatalf("listen: %v", err)
	}
	e := &e2eServer{url: "rtsp://" + ln.Addr().String() + "/stream", srv: srv}

	ctx, cancel := context.WithCancel(context.Background())
	srcDone := make(chan error, 1)
	go func() { srcDone <- src.Run(ctx, stream.Publish) }()
	srvDone := make(chan error, 1)
	go func() { srvDone <- srv.Serve(ln) }()

	t.Cleanup(func() {
		cancel()
		if err := <-srcDone; err != nil {
			t.Errorf("source Run after cancel: %v", err)
		}
		e.close()
		if err := <-srvDone; err != nil {
			t.Errorf("Serve after Close: %v", err)
		}
		stream.Close()
		if n := pool.Outstanding(); n != 0 {
			t.Errorf("%d access units still outstanding after shutdown (leak)", n)
		}
		if n := pool.DoubleReleases(); n != 0 {
			t.Errorf("%d double releases", n)
		}
	})
	return e
}

func e2eClip(pool *encoder.Pool) (e2eSource, error) { return clipsrc.NewDefault(pool) }

// e2ePacket is what the client saw of one RTP packet.
type e2ePacket struct {
	seq    uint16
	ts     uint32
	ssrc   uint32
	marker bool
}

// e2eAU is one access unit as the depacketizer put it together.
type e2eAU struct {
	ts       uint32
	types    []mch264.NALUType
	captured time.Time // from camerad's capture-time SEI; zero when absent
}

func (a e2eAU) has(t mch264.NALUType) bool {
	for _, x := range a.types {
		if x == t {
			return true
		}
	}
	return false
}

// e2eClient is a gortsplib client playing the stream and recording what it receives.
type e2eClient struct {
	c *gortsplib.Client

	setupSSRC   *uint32
	rtpInfo     *headers.RTPInfoEntry
	width       int
	height      int
	sdpHasSPS   bool
	enough      chan struct{} // closed when e2eAUs units have arrived
	bye         chan struct{} // closed on the first RTCP BYE
	clientEnded chan error    // receives Wait's result

	mu        sync.Mutex
	pkts      []e2ePacket
	aus       []e2eAU
	annexB    []byte
	lost      uint64
	errs      []string // depacketizer and client decode errors
	byeSSRCs  []uint32
	wantAUs   int
	byeClosed bool
}

// e2ePlay connects, describes, sets up the H.264 track over proto and plays.
func e2ePlay(t *testing.T, url string, proto gortsplib.Protocol) *e2eClient {
	t.Helper()
	u, err := base.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	ec := &e2eClient{
		enough:      make(chan struct{}),
		bye:         make(chan struct{}),
		clientEnded: make(chan error, 1),
		wantAUs:     e2eAUs,
	}
	ec.c = &gortsplib.Client{
		Scheme:   u.Scheme,
		Host:     u.Host,
		Protocol: &proto,
		// Loopback with a keyframe burst: room enough that a loss means a server bug.
		UDPReadBufferSize: 4 << 20,
		OnPacketsLost: func(n uint64) {
			ec.mu.Lock()
			ec.lost += n
			ec.mu.Unlock()
		},
		OnDecodeError: func(err error) { ec.addErr("client: " + err.Error()) },
		OnTransportSwitch: func(err error) {
			ec.addErr("client switched transport: " + err.Error())
		},
	}
	if err := ec.c.Start(); err != nil {
		t.Fatalf("client start: %v", err)
	}
	go func() { ec.clientEnded <- ec.c.Wait() }()
	t.Cleanup(ec.c.Close)

	desc, _, err := ec.c.Describe(u)
	if err != nil {
		t.Fatalf("DESCRIBE: %v", err)
	}
	var forma *format.H264
	medi := desc.FindFormat(&forma)
	if medi == nil {
		t.Fatalf("DESCRIBE: no H.264 track in %+v", desc)
	}
	if forma.SPS != nil && forma.PPS != nil {
		ec.sdpHasSPS = true
		var sps mch264.SPS
		if err := sps.Unmarshal(forma.SPS); err != nil {
			t.Fatalf("SDP sprop-parameter-sets SPS does not parse: %v", err)
		}
		ec.width, ec.height = sps.Width(), sps.Height()
	}
	dec, err := forma.CreateDecoder()
	if err != nil {
		t.Fatal(err)
	}

	res, err := ec.c.Setup(desc.BaseURL, medi, 0, 0)
	if err != nil {
		t.Fatalf("SETUP: %v", err)
	}
	var tr headers.Transport
	if err := tr.Unmarshal(e2eHeader(res.Header, "Transport")); err != nil {
		t.Fatalf("SETUP reply Transport: %v", err)
	}
	ec.setupSSRC = tr.SSRC

	ec.c.OnPacketRTP(medi, forma, func(pkt *rtp.Packet) { ec.onRTP(dec, pkt) })
	ec.c.OnPacketRTCPAny(func(_ *description.Media, p rtcp.Packet) { ec.onRTCP(p) })

	res, err = ec.c.Play(nil)
	if err != nil {
		t.Fatalf("PLAY: %v", err)
	}
	var info headers.RTPInfo
	if err := info.Unmarshal(e2eHeader(res.Header, "RTP-Info")); err != nil {
		t.Fatalf("PLAY reply RTP-Info: %v", err)
	}
	if len(info) != 1 {
		t.Fatalf("PLAY reply RTP-Info has %d entries, want 1", len(info))
	}
	ec.rtpInfo = info[0]
	return ec
}

// e2eHeader finds a header whatever the case of its name.
func e2eHeader(h base.Header, name string) base.HeaderValue {
	for k, v := range h {
		if strings.EqualFold(k, name) {
			return v
		}
	}
	return nil
}

func (ec *e2eClient) addErr(s string) {
	ec.mu.Lock()
	ec.errs = append(ec.errs, s)
	ec.mu.Unlock()
}

func (ec *e2eClient) onRTP(dec *rtph264.Decoder, pkt *rtp.Packet) {
	ec.mu.Lock()
	defer ec.mu.Unlock()
	ec.pkts = append(ec.pkts, e2ePacket{seq: pkt.SequenceNumber, ts: pkt.Timestamp, ssrc: pkt.SSRC, marker: pkt.Marker})
	au, err := dec.Decode(pkt)
	switch {
	case errors.Is(err, rtph264.ErrMorePacketsNeeded):
		return
	case err != nil:
		ec.errs = append(ec.errs, fmt.Sprintf("depacketize packet seq %d: %v", pkt.SequenceNumber, err))
		return
	}
	a := e2eAU{ts: pkt.Timestamp}
	for _, n := range au {
		if len(n) > 0 {
			a.types = append(a.types, mch264.NALUType(n[0]&0x1f))
		}
		if c, ok := h264.ParseCaptureTimeSEI(n); ok {
			a.captured = c
		}
	}
	ec.aus = append(ec.aus, a)
	// The decoder's slices may alias the packet: copy them out as Annex-B now.
	b, err := mch264.AnnexB(au).Marshal()
	if err != nil {
		ec.errs = append(ec.errs, fmt.Sprintf("annex-b: %v", err))
	}
	ec.annexB = append(ec.annexB, b...)
	if len(ec.aus) == ec.wantAUs {
		close(ec.enough)
	}
}

func (ec *e2eClient) onRTCP(p rtcp.Packet) {
	bye, ok := p.(*rtcp.Goodbye)
	if !ok {
		return
	}
	ec.mu.Lock()
	defer ec.mu.Unlock()
	ec.byeSSRCs = append(ec.byeSSRCs, bye.Sources...)
	if !ec.byeClosed {
		ec.byeClosed = true
		close(ec.bye)
	}
}

// waitAUs waits until the client has e2eAUs access units.
func (ec *e2eClient) waitAUs(t *testing.T) {
	t.Helper()
	select {
	case <-ec.enough:
	case err := <-ec.clientEnded:
		t.Fatalf("client ended before %d access units: %v (%s)", e2eAUs, err, ec.summary())
	case <-time.After(e2eWait):
		t.Fatalf("no %d access units within %v (%s)", e2eAUs, e2eWait, ec.summary())
	}
}

func (ec *e2eClient) summary() string {
	ec.mu.Lock()
	defer ec.mu.Unlock()
	return fmt.Sprintf("%d packets, %d access units, errors %q", len(ec.pkts), len(ec.aus), ec.errs)
}

// snapshot copies what has been received so far.
func (ec *e2eClient) snapshot() ([]e2ePacket, []e2eAU, []byte, uint64, []string) {
	ec.mu.Lock()
	defer ec.mu.Unlock()
	return append([]e2ePacket(nil), ec.pkts...), append([]e2eAU(nil), ec.aus...),
		bytes.Clone(ec.annexB), ec.lost, append([]string(nil), ec.errs...)
}

// e2eCheckStream asserts what every viewer is owed: a start at a keyframe with its parameter
// sets, the numbering announced in SETUP and PLAY, no gaps, and a 90 kHz clock that advances
// with the capture clock in whole frame periods (exactly one per access unit when exact). It
// returns the Annex-B stream received.
func e2eCheckStream(t *testing.T, ec *e2eClient, fps int, exact bool) []byte {
	t.Helper()
	pkts, aus, annexB, lost, errs := ec.snapshot()
	if len(errs) != 0 {
		t.Errorf("client errors: %q", errs)
	}
	if lost != 0 {
		t.Errorf("client counted %d lost packets on loopback", lost)
	}
	if len(pkts) == 0 || len(aus) == 0 {
		t.Fatalf("received %d packets, %d access units", len(pkts), len(aus))
	}

	first := aus[0]
	for _, want := range []mch264.NALUType{mch264.NALUTypeSPS, mch264.NALUTypePPS, mch264.NALUTypeIDR} {
		if !first.has(want) {
			t.Errorf("first access unit NAL types %v lack %v: a viewer must start at SPS+PPS+IDR", first.types, want)
		}
	}
	if first.has(mch264.NALUTypeNonIDR) {
		t.Errorf("first access unit %v holds a non-IDR slice", first.types)
	}

	// RTP-Info names the first packet sent; SETUP's ssrc is the stream's.
	if ec.rtpInfo.SequenceNumber == nil || *ec.rtpInfo.SequenceNumber != pkts[0].seq {
		t.Errorf("RTP-Info seq %v, first packet seq %d", e2eDeref(ec.rtpInfo.SequenceNumber), pkts[0].seq)
	}
	if ec.rtpInfo.Timestamp == nil || *ec.rtpInfo.Timestamp != pkts[0].ts {
		t.Errorf("RTP-Info rtptime %v, first packet timestamp %d", e2eDeref(ec.rtpInfo.Timestamp), pkts[0].ts)
	}
	if ec.setupSSRC == nil {
		t.Errorf("SETUP reply Transport has no ssrc")
	}

	for i, p := range pkts {
		if ec.setupSSRC != nil && p.ssrc != *ec.setupSSRC {
			t.Fatalf("packet %d SSRC %08x, SETUP announced %08x", i, p.ssrc, *ec.setupSSRC)
		}
		if i == 0 {
			continue
		}
		prev := pkts[i-1]
		if p.seq != prev.seq+1 {
			t.Fatalf("packet %d: seq %d after %d (gap or reorder)", i, p.seq, prev.seq)
		}
		// An access unit's packets share a timestamp and the last one has the marker bit.
		if p.ts != prev.ts && !prev.marker {
			t.Fatalf("packet %d: timestamp changed (%d -> %d) without a marker on the previous packet", i, prev.ts, p.ts)
		}
		if p.ts == prev.ts && prev.marker {
			t.Fatalf("packet %d: same timestamp %d after a marker", i, p.ts)
		}
	}

	// The RTP clock is the capture clock at 90 kHz: between any two keyframes the timestamps
	// differ by the capture times' difference (carried in each keyframe's SEI, and only
	// there). The tolerance covers rounding (SEI microseconds, PTS-to-tick truncation) and a
	// wall clock being slewed by NTP (at most 500 ppm) while the monotonic one is not.
	for i := 1; i < len(aus); i++ {
		if step := int32(aus[i].ts - aus[i-1].ts); step <= 0 {
			t.Fatalf("access unit %d: timestamp step %d, want monotonic increase", i, step)
		}
	}
	var keyframes []e2eAU
	for i, a := range aus {
		isKey := slices.Contains(a.types, mch264.NALUTypeIDR)
		if isKey == a.captured.IsZero() {
			t.Fatalf("access unit %d: keyframe %v, capture-time SEI %v; want the SEI in keyframes only", i, isKey, !a.captured.IsZero())
		}
		if isKey {
			keyframes = append(keyframes, a)
		}
	}
	if len(keyframes) < 2 {
		t.Fatalf("%d keyframes in %d access units, want at least two one GOP apart", len(keyframes), len(aus))
	}
	for i, a := range keyframes {
		got := int64(a.ts - keyframes[0].ts)
		want := a.captured.Sub(keyframes[0].captured).Microseconds() * 90000 / 1e6
		if tol := 2 + want/1000; got < want-tol || got > want+tol {
			t.Fatalf("keyframe %d: RTP timestamp %d ticks after the first, capture time %d ticks after (90 kHz)", i, got, want)
		}
	}
	// Frames sit on the source's frame grid: each step is a whole number of periods of
	// 90000/fps ticks (exactly one when no frame may be skipped); PTS-to-RTP rounding may
	// move a step by a tick.
	// A source stalled for over a second (a machine swamped by other work) moves its
	// schedule instead of bursting frames out: such a jump is logged, not failed.
	period := int64(90000 / fps)
	for i := 1; i < len(aus); i++ {
		step := int64(aus[i].ts - aus[i-1].ts)
		if step >= 90000 {
			t.Logf("access unit %d: timestamp jumps %d ticks: the source stalled and moved its schedule", i, step)
			continue
		}
		k := max((step+period/2)/period, 1)
		if d := step - k*period; d < -1 || d > 1 || (exact && k != 1) {
			t.Fatalf("access unit %d: timestamp step %d, want %s%d (frame period at %d fps on a 90 kHz clock)",
				i, step, map[bool]string{true: "", false: "a multiple of "}[exact], period, fps)
		}
	}
	return annexB
}

func e2eDeref[T any](p *T) any {
	if p == nil {
		return "absent"
	}
	return *p
}

// e2eCheckBye closes the server and expects the client to be told: an RTCP BYE for its SSRC
// and, over TCP, the connection closed.
func e2eCheckBye(t *testing.T, e *e2eServer, ec *e2eClient, proto gortsplib.Protocol) {
	t.Helper()
	e.close()
	select {
	case <-ec.bye:
	case <-time.After(e2eWait):
		t.Fatalf("no RTCP BYE within %v of the server closing", e2eWait)
	}
	ec.mu.Lock()
	ssrcs := append([]uint32(nil), ec.byeSSRCs...)
	ec.mu.Unlock()
	if ec.setupSSRC != nil && (len(ssrcs) == 0 || ssrcs[0] != *ec.setupSSRC) {
		t.Errorf("BYE sources %08x, want the session's SSRC %08x", ssrcs, *ec.setupSSRC)
	}
	if proto == gortsplib.ProtocolTCP {
		select {
		case err := <-ec.clientEnded:
			if err == nil {
				t.Errorf("client ended without an error after the server closed")
			}
		case <-time.After(e2eWait):
			t.Fatalf("TCP client still running %v after the server closed", e2eWait)
		}
	}
}

// e2eFFmpegDecode decodes an Annex-B stream with ffmpeg and returns the number of frames it
// decoded and whatever it printed at level error.
func e2eFFmpegDecode(t *testing.T, annexB []byte) (int, string) {
	t.Helper()
	bin, err := exec.LookPath("ffmpeg")
	if err != nil {
		t.Skip("ffmpeg not installed (apt-get install ffmpeg): skipping the decode check")
	}
	ctx, cancel := context.WithTimeout(context.Background(), e2eWait)
	defer cancel()
	// framemd5 prints one line per decoded frame: a count that a broken stream cannot fake.
	cmd := exec.CommandContext(ctx, bin, "-nostdin", "-v", "error", "-f", "h264", "-i", "pipe:0", "-f", "framemd5", "pipe:1")
	cmd.Stdin = bytes.NewReader(annexB)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("ffmpeg: %v; stderr: %s", err, stderr.String())
	}
	frames := 0
	sc := bufio.NewScanner(&stdout)
	for sc.Scan() {
		if line := sc.Text(); line != "" && !strings.HasPrefix(line, "#") {
			frames++
		}
	}
	return frames, stderr.String()
}

// e2ePlayAndCheck is the whole viewer experience over one transport.
func e2ePlayAndCheck(t *testing.T, newSrc func(*encoder.Pool) (e2eSource, error), proto gortsplib.Protocol, fps int, exact bool, width, height int) {
	e := e2eStart(t, newSrc)
	ec := e2ePlay(t, e.url, proto)
	if !ec.sdpHasSPS {
		t.Errorf("SDP has no sprop-parameter-sets")
	} else if ec.width != width || ec.height != height {
		t.Errorf("SDP SPS says %dx%d, want %dx%d", ec.width, ec.height, width, height)
	}
	ec.waitAUs(t)
	annexB := e2eCheckStream(t, ec, fps, exact)
	e2eCheckBye(t, e, ec, proto)

	t.Run("ffmpeg-decodes", func(t *testing.T) {
		frames, stderr := e2eFFmpegDecode(t, annexB)
		if stderr != "" {
			t.Errorf("ffmpeg reported decode errors:\n%s", stderr)
		}
		// Every access unit is one picture; ffmpeg must decode all of them.
		_, aus, _, _, _ := ec.snapshot()
		if frames != len(aus) {
			t.Errorf("ffmpeg decoded %d frames from %d access units", frames, len(aus))
		}
	})
}

var e2eProtocols = []struct {
	name  string
	proto gortsplib.Protocol
}{{"udp", gortsplib.ProtocolUDP}, {"tcp", gortsplib.ProtocolTCP}}

func TestE2EClipPlays(t *testing.T) {
	for _, p := range e2eProtocols {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			// The embedded clip: 640x360 at 30 fps (see scripts/make-clip.sh).
			e2ePlayAndCheck(t, e2eClip, p.proto, 30, true, 640, 360)
		})
	}
}

func TestE2ETestsrcPlays(t *testing.T) {
	const w, h, fps = 320, 240, 30
	newSrc := func(pool *encoder.Pool) (e2eSource, error) {
		return testsrc.New(testsrc.Config{Width: w, Height: h, FPS: fps, Logger: slog.New(slog.DiscardHandler)}, pool)
	}
	for _, p := range e2eProtocols {
		t.Run(p.name, func(t *testing.T) {
			t.Parallel()
			// The test source skips a frame slot when the machine is too busy to draw in
			// time, so only the clip is held to one period per frame.
			e2ePlayAndCheck(t, newSrc, p.proto, fps, false, w, h)
		})
	}
}
