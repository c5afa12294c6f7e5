package rtspsrv

import (
	"fmt"
	"testing"
	"time"

	"github.com/pion/rtcp"
)

func TestSigned24(t *testing.T) {
	for _, c := range []struct {
		in   uint32
		want int64
	}{{0, 0}, {5, 5}, {0x7fffff, 0x7fffff}, {0xffffff, -1}, {0x800000, -0x800000}} {
		if got := signed24(c.in); got != c.want {
			t.Errorf("signed24(%#x) = %d, want %d", c.in, got, c.want)
		}
	}
}

// TestRTCPCNAME: the RTCP a viewer gets names the camera by the configured CNAME (RFC 3550
// §6.5.1 wants it unique per host), not by the software's name and version.
func TestRTCPCNAME(t *testing.T) {
	const cname = "camerad@garden-cam.local"
	ts := startServer(t, Config{CNAME: cname, ServerName: "camerad/test"})
	c, u, id, ssrc := ts.playUDP(t)
	c.mustDo(StatusOK, "TEARDOWN", ts.url, "Session: "+id)
	var got string
	for _, p := range requireBye(t, u, ssrc) {
		if sdes, ok := p.(*rtcp.SourceDescription); ok {
			for _, ch := range sdes.Chunks {
				for _, it := range ch.Items {
					if ch.Source == ssrc && it.Type == rtcp.SDESCNAME {
						got = it.Text
					}
				}
			}
		}
	}
	if got != cname {
		t.Fatalf("the BYE names the source %q, want %q", got, cname)
	}
}

// TestFirstSenderReportComesWithFirstFrame: players that sync by RTCP (gortsplib's
// PacketNTP, mediamtx's absolute timestamps, GStreamer's ntp-sync, live555) cannot place a
// frame in wall-clock time before a sender report. The first report describes the first frame
// rather than coming a report interval later.
func TestFirstSenderReportComesWithFirstFrame(t *testing.T) {
	ts := startServer(t, Config{})
	t.Run("udp", func(t *testing.T) {
		c := ts.dial(t)
		u := listenUDPClient(t)
		p := u.ports()
		setup := c.mustDo(StatusOK, "SETUP", ts.url+"/trackID=0", fmt.Sprintf("Transport: RTP/AVP;unicast;client_port=%d-%d", p[0], p[1]))
		c.mustDo(StatusOK, "PLAY", ts.url, "Session: "+sessionID(setup.Header.Get("Session")))
		first, _ := u.readRTP(t)
		sr := readSenderReport(t, u)
		if sr.SSRC != first.SSRC || sr.RTPTime != first.Timestamp {
			t.Fatalf("first sender report: SSRC %08x RTP time %d; want the first frame's, %08x %d",
				sr.SSRC, sr.RTPTime, first.SSRC, first.Timestamp)
		}
		// It goes out ahead of that frame: nothing was sent before it (RFC 3550 §6.4.1).
		if sr.PacketCount != 0 || sr.OctetCount != 0 {
			t.Errorf("first sender report counts %d packets, %d octets; want 0, 0", sr.PacketCount, sr.OctetCount)
		}
	})
	t.Run("tcp", func(t *testing.T) {
		// Over TCP the report can even come first, ahead of the frame it describes, so that
		// players that sync on RTCP (live555, GStreamer) have that frame synced too.
		c, _, _ := ts.playTCP(t)
		f, err := c.readFrame()
		if err != nil {
			t.Fatalf("reading: %v", err)
		}
		if f.channel != 1 {
			t.Fatalf("first interleaved frame on channel %d; want the sender report on 1", f.channel)
		}
		pkts, err := rtcp.Unmarshal(f.payload)
		if err != nil {
			t.Fatal(err)
		}
		first := c.readRTP(0)
		sr, ok := pkts[0].(*rtcp.SenderReport)
		if !ok || sr.RTPTime != first.Timestamp || sr.SSRC != first.SSRC {
			t.Fatalf("first RTCP: %v; want the sender report of the first frame (SSRC %08x, RTP time %d)", pkts[0], first.SSRC, first.Timestamp)
		}
		if sr.PacketCount != 0 || sr.OctetCount != 0 {
			t.Errorf("first sender report counts %d packets, %d octets, sent ahead of any; want 0, 0", sr.PacketCount, sr.OctetCount)
		}
	})
}

// readSenderReport returns the first sender report the viewer's RTCP socket receives.
func readSenderReport(t *testing.T, u *udpClient) *rtcp.SenderReport {
	t.Helper()
	var sr *rtcp.SenderReport
	readRTCPUntil(t, u, "sender report", func(p rtcp.Packet) bool {
		sr, _ = p.(*rtcp.SenderReport)
		return sr != nil
	})
	return sr
}

// readRTCPUntil reads compound RTCP packets from u until one of them holds a packet that
// satisfies match, and returns that compound; what names the packet in the failure.
func readRTCPUntil(t *testing.T, u *udpClient, what string, match func(rtcp.Packet) bool) []rtcp.Packet {
	t.Helper()
	buf := make([]byte, 1500)
	_ = u.rtcp.SetReadDeadline(time.Now().Add(ioDeadline))
	for {
		n, err := u.rtcp.Read(buf)
		if err != nil {
			t.Fatalf("no RTCP %s: %v", what, err)
		}
		pkts, err := rtcp.Unmarshal(buf[:n])
		if err != nil {
			t.Fatalf("RTCP from server: %v", err)
		}
		for _, p := range pkts {
			if match(p) {
				return pkts
			}
		}
	}
}
