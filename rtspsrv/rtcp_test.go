package rtspsrv

import (
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
	buf := make([]byte, 1500)
	_ = u.rtcp.SetReadDeadline(time.Now().Add(ioDeadline))
	for {
		n, err := u.rtcp.Read(buf)
		if err != nil {
			t.Fatalf("no RTCP BYE: %v", err)
		}
		pkts, err := rtcp.Unmarshal(buf[:n])
		if err != nil {
			t.Fatalf("RTCP from server: %v", err)
		}
		var got string
		bye := false
		for _, p := range pkts {
			switch p := p.(type) {
			case *rtcp.SourceDescription:
				for _, ch := range p.Chunks {
					for _, it := range ch.Items {
						if ch.Source == ssrc && it.Type == rtcp.SDESCNAME {
							got = it.Text
						}
					}
				}
			case *rtcp.Goodbye:
				bye = true
			}
		}
		if got != cname {
			t.Fatalf("RTCP compound packet names the source %q, want %q", got, cname)
		}
		if bye {
			return
		}
	}
}
