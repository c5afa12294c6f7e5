package sim

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5"
	"github.com/bluenviron/gortsplib/v5/pkg/base"
	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/gortsplib/v5/pkg/format/rtph264"
	"github.com/bluenviron/gortsplib/v5/pkg/liberrors"
)

// peerServer is gortsplib's RTSP server (an implementation independent of camerad) serving
// the synthetic stream at /stream.
type peerServer struct {
	srv        *gortsplib.Server
	stream     *gortsplib.ServerStream
	user, pass string
	url        string
	stop       chan struct{}
	done       sync.WaitGroup
}

func (p *peerServer) OnDescribe(ctx *gortsplib.ServerHandlerOnDescribeCtx) (*base.Response, *gortsplib.ServerStream, error) {
	if p.user != "" && !ctx.Conn.VerifyCredentials(ctx.Request, p.user, p.pass) {
		return &base.Response{StatusCode: base.StatusUnauthorized}, nil, liberrors.ErrServerAuth{}
	}
	return &base.Response{StatusCode: base.StatusOK}, p.stream, nil
}

func (p *peerServer) OnSetup(ctx *gortsplib.ServerHandlerOnSetupCtx) (*base.Response, *gortsplib.ServerStream, error) {
	if p.user != "" && !ctx.Conn.VerifyCredentials(ctx.Request, p.user, p.pass) {
		return &base.Response{StatusCode: base.StatusUnauthorized}, nil, liberrors.ErrServerAuth{}
	}
	return &base.Response{StatusCode: base.StatusOK}, p.stream, nil
}

func (p *peerServer) OnPlay(*gortsplib.ServerHandlerOnPlayCtx) (*base.Response, error) {
	return &base.Response{StatusCode: base.StatusOK}, nil
}

// startPeerServer starts the server and a goroutine publishing testFPS frames per second.
func startPeerServer(t *testing.T, user, pass string) *peerServer {
	t.Helper()
	rtpPort := freeUDPPair(t)
	p := &peerServer{user: user, pass: pass, stop: make(chan struct{})}
	addr := fmt.Sprintf("127.0.0.1:%d", freeTCPPort(t))
	p.srv = &gortsplib.Server{
		Handler:        p,
		RTSPAddress:    addr,
		UDPRTPAddress:  fmt.Sprintf("127.0.0.1:%d", rtpPort),
		UDPRTCPAddress: fmt.Sprintf("127.0.0.1:%d", rtpPort+1),
	}
	if err := p.srv.Start(); err != nil {
		t.Fatalf("start gortsplib server: %v", err)
	}
	forma := &format.H264{PayloadTyp: 96, PacketizationMode: 1, SPS: testSPS, PPS: testPPS}
	media := &description.Media{Type: description.MediaTypeVideo, Formats: []format.Format{forma}}
	p.stream = &gortsplib.ServerStream{Server: p.srv, Desc: &description.Session{Medias: []*description.Media{media}}}
	if err := p.stream.Initialize(); err != nil {
		t.Fatalf("init stream: %v", err)
	}
	enc, err := forma.CreateEncoder()
	if err != nil {
		t.Fatal(err)
	}
	p.done.Add(1)
	go p.publish(t, media, enc)
	p.url = "rtsp://" + addr + "/stream"
	t.Cleanup(func() {
		close(p.stop)
		p.done.Wait()
		p.stream.Close()
		p.srv.Close()
	})
	return p
}

func (p *peerServer) publish(t *testing.T, media *description.Media, enc *rtph264.Encoder) {
	defer p.done.Done()
	tk := time.NewTicker(time.Second / testFPS)
	defer tk.Stop()
	start := time.Now()
	for i := 0; ; i++ {
		select {
		case <-p.stop:
			return
		case now := <-tk.C:
			pkts, err := enc.Encode(testAU(i, now))
			if err != nil {
				t.Errorf("encode: %v", err)
				return
			}
			ts := uint32(now.Sub(start) * 90000 / time.Second)
			for _, pkt := range pkts {
				pkt.Timestamp = ts
				if err := p.stream.WritePacketRTPWithNTP(media, pkt, now); err != nil {
					t.Errorf("write: %v", err)
					return
				}
			}
		}
	}
}

func TestPlaysIndependentServer(t *testing.T) {
	srv := startPeerServer(t, "", "")
	for _, tr := range []Transport{UDP, TCP} {
		t.Run(string(tr), func(t *testing.T) {
			var dialog strings.Builder
			rep, err := Run(context.Background(), Config{
				URL: srv.url, Sessions: 3, Transport: tr, Duration: 1500 * time.Millisecond,
				Ramp: 200 * time.Millisecond, Timeout: 5 * time.Second, Dialog: &lockedBuilder{b: &dialog},
			})
			if err != nil {
				t.Fatal(err)
			}
			checkCleanReport(t, rep, 3)
			d := dialog.String()
			for _, want := range []string{"OPTIONS " + srv.url, "DESCRIBE ", "SETUP ", "PLAY ", "TEARDOWN ", "RTSP/1.0 200 OK", "RTP-Info:", "[3] "} {
				if !strings.Contains(d, want) {
					t.Errorf("dialog lacks %q", want)
				}
			}
		})
	}
}

func TestAuthenticatesWithDigest(t *testing.T) {
	srv := startPeerServer(t, "viewer", "s3cret")
	withCreds := strings.Replace(srv.url, "rtsp://", "rtsp://viewer:s3cret@", 1)
	rep, err := Run(context.Background(), Config{URL: withCreds, Duration: time.Second, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	checkCleanReport(t, rep, 1)

	wrong := strings.Replace(srv.url, "rtsp://", "rtsp://viewer:nope@", 1)
	rep, err = Run(context.Background(), Config{URL: wrong, Duration: time.Second, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if rep.SessionsFailed != 1 || !strings.Contains(rep.Sessions[0].Error, "401") || !rep.Failed() {
		t.Errorf("wrong password: failed=%d error=%q, want a failed session with 401", rep.SessionsFailed, rep.Sessions[0].Error)
	}
}

// checkCleanReport asserts what a healthy stream must give every session.
func checkCleanReport(t *testing.T, rep *Report, sessions int) {
	t.Helper()
	if rep.SessionsOK != sessions || rep.SessionsFailed != 0 {
		for _, s := range rep.Sessions {
			t.Logf("session %d: ok=%v error=%q", s.ID, s.OK, s.Error)
		}
		t.Fatalf("sessions ok=%d failed=%d, want %d ok", rep.SessionsOK, rep.SessionsFailed, sessions)
	}
	if len(rep.Violations) != 0 {
		t.Errorf("violations on a healthy stream: %+v", rep.Violations)
	}
	for _, s := range rep.Sessions {
		if s.TimeToFirstPacketMS == nil || s.TimeToFirstKeyframeMS == nil || s.SetupMS == nil {
			t.Errorf("session %d: missing setup/first packet/first keyframe: %+v", s.ID, s)
			continue
		}
		if *s.TimeToFirstKeyframeMS < *s.TimeToFirstPacketMS {
			t.Errorf("session %d: keyframe (%.1f ms) before first packet (%.1f ms)", s.ID, *s.TimeToFirstKeyframeMS, *s.TimeToFirstPacketMS)
		}
		// A viewer joining mid-GOP sees at most a GOP of units before the keyframe.
		if s.AUsBeforeKeyframe >= testGOP {
			t.Errorf("session %d: %d units before the keyframe, GOP is %d", s.ID, s.AUsBeforeKeyframe, testGOP)
		}
		if s.Frames < 5 || s.Packets <= s.Frames || s.BitrateKbps <= 0 || s.FPS <= 0 {
			t.Errorf("session %d: frames=%d packets=%d bitrate=%.0f fps=%.1f", s.ID, s.Frames, s.Packets, s.BitrateKbps, s.FPS)
		}
		if s.PacketsLost != 0 {
			t.Errorf("session %d: %d packets lost on loopback", s.ID, s.PacketsLost)
		}
		// The SEI is stamped just before sending, on this machine's clock: latency is
		// positive and far below a second.
		if s.LatencyMS == nil || s.LatencyMS.N == 0 || s.LatencyMS.Min < 0 || s.LatencyMS.P50 > 1000 {
			t.Errorf("session %d: latency %+v", s.ID, s.LatencyMS)
		}
		// Only keyframes carry the SEI; every frame from the first keyframe on is measured.
		if s.LatencyMS != nil && uint64(s.LatencyMS.N) != s.Frames-uint64(s.AUsBeforeKeyframe) {
			t.Errorf("session %d: latency measured on %d frames of %d, %d before the keyframe", s.ID, s.LatencyMS.N, s.Frames, s.AUsBeforeKeyframe)
		}
	}
	if rep.Aggregate.TimeToFirstKeyframeMS.N != sessions || rep.Aggregate.LatencyMS.N == 0 {
		t.Errorf("aggregate: %+v", rep.Aggregate)
	}
	if rep.Self == nil || rep.Self.Samples == 0 {
		t.Errorf("no self samples: %+v", rep.Self)
	}
}

// lockedBuilder lets the dialog writer be read after the run under the race detector.
type lockedBuilder struct {
	mu sync.Mutex
	b  *strings.Builder
}

func (l *lockedBuilder) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
