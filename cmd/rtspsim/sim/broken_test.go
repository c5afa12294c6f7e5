package sim

import (
	"context"
	"encoding/binary"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5/pkg/format/rtph264"

	"github.com/camerad/camerad/cmd/rtspsim/internal/rtsp"
)

// faults make brokenServer misbehave in one way each.
type faults struct {
	wrongCSeq   bool // answer PLAY with CSeq+1
	rtpInfoSeq  bool // RTP-Info seq off by 7
	rtpInfoTime bool // RTP-Info rtptime after the first packet
	seqGap      bool // skip 3 sequence numbers at packet 20
	noMarker    bool // never set the marker bit
	wrongPT     bool // send payload type 97 where the SDP says 96
	twoSSRC     bool // switch SSRC at packet 30
	tsBackwards bool // one frame with an earlier timestamp
	badVersion  bool // one packet with RTP version 1
	badSR       bool // sender reports whose RTP time runs at twice the NTP rate
}

// startBrokenServer is a small RTSP server, written for this test, that streams the
// synthetic H.264 stream over TCP interleaved with the given faults.
func startBrokenServer(t *testing.T, f faults) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	t.Cleanup(func() { l.Close(); wg.Wait() })
	url := "rtsp://" + l.Addr().String() + "/stream"
	wg.Go(func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			wg.Go(func() { serveBroken(t, c, url, f) })
		}
	})
	return url
}

func serveBroken(t *testing.T, c net.Conn, url string, f faults) {
	defer c.Close()
	var wmu sync.Mutex
	write := func(b []byte) error {
		wmu.Lock()
		defer wmu.Unlock()
		_, err := c.Write(b)
		return err
	}
	const ssrc, firstSeq, firstTS = 0x1234abcd, 1000, 900000
	stop := make(chan struct{})
	var streaming sync.WaitGroup
	defer func() { close(stop); streaming.Wait() }()
	r := rtsp.NewReader(c)
	for {
		it, err := r.Next()
		if err != nil {
			return
		}
		if it.Kind != rtsp.ItemRequest {
			continue // the client's RTCP receiver reports
		}
		req := it.Request
		cseq := req.Header.Get("CSeq")
		var hdr, body string
		switch req.Method {
		case "OPTIONS":
			hdr = "Public: OPTIONS, DESCRIBE, SETUP, PLAY, TEARDOWN, GET_PARAMETER\r\n"
		case "DESCRIBE":
			body = "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=broken\r\nc=IN IP4 0.0.0.0\r\nt=0 0\r\na=control:*\r\n" +
				"m=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\na=fmtp:96 packetization-mode=1\r\na=control:trackID=0\r\n"
			hdr = fmt.Sprintf("Content-Base: %s/\r\nContent-Type: application/sdp\r\n", url)
		case "SETUP":
			hdr = fmt.Sprintf("Transport: RTP/AVP/TCP;unicast;interleaved=0-1;ssrc=%08X\r\nSession: 5EED;timeout=60\r\n", ssrc)
		case "PLAY":
			seq, ts := uint32(firstSeq), uint32(firstTS)
			if f.rtpInfoSeq {
				seq += 7
			}
			if f.rtpInfoTime {
				ts += 4500
			}
			hdr = fmt.Sprintf("Session: 5EED\r\nRange: npt=0.000-\r\nRTP-Info: url=%s/trackID=0;seq=%d;rtptime=%d\r\n", url, seq, ts)
			if f.wrongCSeq {
				cseq += "1"
			}
		case "TEARDOWN", "GET_PARAMETER":
			hdr = "Session: 5EED\r\n"
		default:
			hdr = ""
		}
		msg := fmt.Sprintf("RTSP/1.0 200 OK\r\nCSeq: %s\r\n%sContent-Length: %d\r\n\r\n%s", cseq, hdr, len(body), body)
		if write([]byte(msg)) != nil {
			return
		}
		if req.Method == "PLAY" {
			streaming.Go(func() { streamBroken(t, write, stop, f, ssrc, firstSeq, firstTS) })
		}
		if req.Method == "TEARDOWN" {
			return
		}
	}
}

func streamBroken(t *testing.T, write func([]byte) error, stop chan struct{}, f faults, ssrc uint32, seq uint16, ts0 uint32) {
	enc := &rtph264.Encoder{PayloadType: 96, PacketizationMode: 1}
	if err := enc.Init(); err != nil {
		t.Error(err)
		return
	}
	tk := time.NewTicker(time.Second / testFPS)
	defer tk.Stop()
	n := 0
	frame := func(b []byte, ch byte) error {
		out := append([]byte{'$', ch, 0, 0}, b...)
		binary.BigEndian.PutUint16(out[2:], uint16(len(b)))
		return write(out)
	}
	// The media clock follows elapsed time, not the tick count: a loaded machine drops
	// ticks, and RTP that advanced by ticks would lag the sender reports' NTP time.
	start := time.Now()
	for i := 0; ; i++ {
		now := time.Now()
		elapsed := now.Sub(start).Seconds()
		pkts, err := enc.Encode(testAU(i, now))
		if err != nil {
			t.Error(err)
			return
		}
		ts := ts0 + uint32(elapsed*90000)
		if f.tsBackwards && i == 5 {
			ts = ts0
		}
		for _, p := range pkts {
			p.SSRC, p.SequenceNumber, p.Timestamp = ssrc, seq, ts
			seq++
			if f.seqGap && n == 20 {
				seq += 3
			}
			if f.noMarker {
				p.Marker = false
			}
			if f.wrongPT {
				p.PayloadType = 97
			}
			if f.twoSSRC && n >= 30 {
				p.SSRC = ssrc + 1
			}
			if f.badVersion && n == 10 {
				p.Version = 1
			}
			n++
			b, err := p.Marshal()
			if err != nil {
				t.Error(err)
				return
			}
			if frame(b, 0) != nil {
				return
			}
		}
		if i%5 == 0 {
			rate := 1.0
			if f.badSR {
				rate = 2
			}
			if frame(senderReport(ssrc, now, ts0+uint32(elapsed*90000*rate)), 1) != nil {
				return
			}
		}
		select {
		case <-stop:
			return
		case <-tk.C:
		}
	}
}

// senderReport builds an RTCP SR by hand (RFC 3550 6.4.1) so the test does not share code
// with the client under test.
func senderReport(ssrc uint32, now time.Time, rtpTime uint32) []byte {
	b := make([]byte, 28)
	b[0], b[1] = 0x80, 200
	binary.BigEndian.PutUint16(b[2:], 6)
	binary.BigEndian.PutUint32(b[4:], ssrc)
	secs := uint64(now.Unix()) + 2208988800
	frac := uint64(now.Nanosecond()) << 32 / 1e9
	binary.BigEndian.PutUint64(b[8:], secs<<32|frac)
	binary.BigEndian.PutUint32(b[16:], rtpTime)
	return b
}

func TestBrokenServerViolations(t *testing.T) {
	cases := []struct {
		name string
		f    faults
		want string
	}{
		{"wrong CSeq", faults{wrongCSeq: true}, KindCSeq},
		{"RTP-Info seq", faults{rtpInfoSeq: true}, KindRTPInfoSeq},
		{"RTP-Info rtptime", faults{rtpInfoTime: true}, KindRTPInfoRTPTime},
		{"sequence gap", faults{seqGap: true}, KindSeqGap},
		{"no marker", faults{noMarker: true}, KindMarker},
		{"payload type", faults{wrongPT: true}, KindPayloadType},
		{"two SSRCs", faults{twoSSRC: true}, KindSSRC},
		{"timestamp backwards", faults{tsBackwards: true}, KindTimestamp},
		{"RTP version", faults{badVersion: true}, KindRTPVersion},
		{"sender report", faults{badSR: true}, KindRTCPSR},
	}
	// The same server without faults must give a clean report, or the cases prove nothing.
	t.Run("no faults", func(t *testing.T) {
		t.Parallel()
		rep := runBroken(t, faults{})
		checkCleanReport(t, rep, 1)
	})
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			rep := runBroken(t, tc.f)
			if !rep.Failed() {
				t.Error("Failed() = false, want true (exit status 1)")
			}
			var kinds []string
			for _, v := range rep.Violations {
				kinds = append(kinds, v.Kind)
				if v.Kind == tc.want && (v.Count == 0 || v.First == "") {
					t.Errorf("finding %+v lacks count or example", v)
				}
			}
			if !strings.Contains(" "+strings.Join(kinds, " ")+" ", " "+tc.want+" ") {
				t.Errorf("violations %v, want %s among them", rep.Violations, tc.want)
			}
		})
	}
}

func runBroken(t *testing.T, f faults) *Report {
	url := startBrokenServer(t, f)
	rep, err := Run(context.Background(), Config{URL: url, Transport: TCP, Duration: 1200 * time.Millisecond, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}
