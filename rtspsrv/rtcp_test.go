package rtspsrv

import (
	"testing"

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
