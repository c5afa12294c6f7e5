package rtspsrv

import (
	"net"
	"os/exec"
	"testing"
	"time"

	"github.com/pion/rtp"
)

// TestPacketsLargerThanPathMTU: where the path MTU is below camerad's packets (here the
// namespace's loopback at 1400 bytes: a 1400-byte RTP packet is a 1428-byte IP packet, as on
// this project's CI host's eth0 or behind a VPN), the kernel refuses segmentation offload for
// that destination. Its viewers still get every packet, fragmented and reassembled by the
// kernel: before, every full-size run was lost and ffmpeg on the camera's own host saw no
// picture over multicast.
func TestPacketsLargerThanPathMTU(t *testing.T) {
	ns := newMulticastNetns(t)
	if out, err := exec.Command("ip", "-n", ns, "link", "set", "lo", "mtu", "1400").CombinedOutput(); err != nil {
		t.Fatalf("set the loopback MTU: %v: %s", err, out)
	}
	ts := startServerIn(t, Config{Multicast: testGroup}, "127.0.0.1:0", ns)
	member := joinGroup(t, ns, testGroup)
	m := ts.dial(t)
	id, _ := setupMulticast(m, ts.url)
	m.mustDo(StatusOK, "PLAY", ts.url+"/", "Session: "+id)

	_, u, _, _ := ts.playUDP(t)
	_ = u.rtp.SetReadBuffer(4 << 20) // it waits while the group is read

	for _, v := range []struct {
		what     string
		conn     *net.UDPConn
		fromPort int // the group's packets come from its own port, split runs too; 0: any
	}{{"multicast", member.rtp, int(testGroup.Port())}, {"unicast", u.rtp, 0}} {
		if full := readFramesWhole(t, v.what, v.conn, v.fromPort, 45); full == 0 {
			t.Errorf("%s viewer: no packet of the full %d bytes in 45 frames from a keyframe on", v.what, DefaultMaxPacketSize)
		}
	}
}

// readFramesWhole reads conn's RTP until frames frames have begun, failing on a lost packet
// or one from another port than fromPort (unless 0), and returns how many of the packets had
// the full packet size.
func readFramesWhole(t *testing.T, what string, conn *net.UDPConn, fromPort, frames int) (full int) {
	t.Helper()
	buf := make([]byte, 2048)
	last, lastTS := -1, uint32(0)
	for seen := 0; seen < frames; {
		_ = conn.SetReadDeadline(time.Now().Add(ioDeadline))
		n, from, err := conn.ReadFromUDP(buf)
		if err != nil {
			t.Fatalf("%s viewer: RTP stopped after %d frames: %v", what, seen, err)
		}
		if fromPort != 0 && from.Port != fromPort {
			t.Fatalf("%s viewer: a %d-byte packet came from port %d, want %d", what, n, from.Port, fromPort)
		}
		var p rtp.Packet
		if err := p.Unmarshal(buf[:n]); err != nil {
			t.Fatalf("%s viewer: %v", what, err)
		}
		if last >= 0 && p.SequenceNumber != uint16(last+1) {
			t.Fatalf("%s viewer: sequence jumps from %d to %d: packets lost", what, last, p.SequenceNumber)
		}
		if last < 0 || p.Timestamp != lastTS {
			seen++
		}
		last, lastTS = int(p.SequenceNumber), p.Timestamp
		if n == DefaultMaxPacketSize {
			full++
		}
	}
	return full
}
