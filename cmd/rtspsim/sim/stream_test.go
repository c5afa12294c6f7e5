package sim

import (
	"bytes"
	"net"
	"testing"
	"time"

	"github.com/camerad/camerad/encoder/h264"
)

// testGOP is the keyframe interval of the synthetic stream; testFPS its frame rate.
const (
	testGOP = 10
	testFPS = 25
)

var (
	testSPS = []byte{0x67, 0x42, 0xc0, 0x1f, 0xda, 0x01, 0x40, 0x16, 0xe8, 0x06, 0xd0, 0xa1, 0x35}
	testPPS = []byte{0x68, 0xce, 0x06, 0xe2}
)

// testAU returns frame i of a synthetic H.264 stream: SPS, PPS and a large IDR (fragmented
// into FU-A) every testGOP frames, a small P slice otherwise. Keyframes carry a capture-time
// SEI stamped now, as camerad's do, so latency is measurable.
func testAU(i int, now time.Time) [][]byte {
	if i%testGOP == 0 {
		idr := append([]byte{0x65, 0x88}, bytes.Repeat([]byte{0x5a, byte(i)}, 2500)...)
		return [][]byte{testSPS, testPPS, h264.AppendCaptureTimeSEI(nil, now), idr}
	}
	p := append([]byte{0x41, 0x9a}, bytes.Repeat([]byte{0x33, byte(i)}, 300)...)
	return [][]byte{p}
}

// freeUDPPair returns an even UDP port whose odd neighbour is also free (for servers that
// need fixed RTP/RTCP ports).
func freeUDPPair(t *testing.T) int {
	t.Helper()
	p, err := listenUDPPair(net.IPv4(127, 0, 0, 1))
	if err != nil {
		t.Fatal(err)
	}
	port := p.rtp.LocalAddr().(*net.UDPAddr).Port
	p.close()
	return port
}

func freeTCPPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}
