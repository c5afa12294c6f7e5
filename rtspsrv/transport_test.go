package rtspsrv

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"golang.org/x/sys/unix"
)

func TestParseTransports(t *testing.T) {
	udp := func(a, b int) TransportSpec {
		return TransportSpec{Profile: "RTP/AVP", Lower: LowerUDP, ClientPorts: [2]int{a, b}, Interleaved: [2]int{-1, -1}, Mode: "play"}
	}
	tcp := func(a, b int) TransportSpec {
		return TransportSpec{Profile: "RTP/AVP", Lower: LowerTCP, Interleaved: [2]int{a, b}, Mode: "play"}
	}
	type alt struct {
		spec TransportSpec
		ok   bool // usable by the server
	}
	cases := []struct {
		name string
		in   string
		want []alt
	}{
		{"VLC UDP", "RTP/AVP;unicast;client_port=60094-60095", []alt{{udp(60094, 60095), true}}},
		{"VLC TCP", "RTP/AVP/TCP;unicast;interleaved=0-1", []alt{{tcp(0, 1), true}}},
		{"FFmpeg UDP", "RTP/AVP/UDP;unicast;client_port=23030-23031", []alt{{udp(23030, 23031), true}}},
		{"GStreamer UDP", "RTP/AVP;unicast;client_port=50000-50001", []alt{{udp(50000, 50001), true}}},
		{"GStreamer TCP", "RTP/AVP/TCP;unicast;interleaved=0-1", []alt{{tcp(0, 1), true}}},
		{"TCP without interleaved", "RTP/AVP/TCP;unicast", []alt{{tcp(-1, -1), true}}},
		{"single client port", "RTP/AVP;unicast;client_port=5000", []alt{{udp(5000, 5001), true}}},
		{"single channel", "RTP/AVP/TCP;interleaved=4", []alt{{tcp(4, 5), true}}},
		{"lower case and spaces", " rtp/avp/tcp ; unicast ; interleaved=2-3 ", []alt{{tcp(2, 3), true}}},
		{"mode quoted upper", `RTP/AVP;unicast;client_port=5000-5001;mode="PLAY"`, []alt{{udp(5000, 5001), true}}},
		{"ssrc offered", "RTP/AVP;unicast;client_port=5000-5001;ssrc=1234ABCD", []alt{{func() TransportSpec { s := udp(5000, 5001); s.SSRC = "1234ABCD"; return s }(), true}}},
		{"unknown parameter ignored", "RTP/AVP;unicast;client_port=5000-5001;x-foo=bar", []alt{{udp(5000, 5001), true}}},
		{"Helix alternatives", "RTP/AVP;unicast;client_port=6970-6971;mode=play,RTP/AVP/TCP;unicast;mode=play",
			[]alt{{udp(6970, 6971), true}, {tcp(-1, -1), true}}},
		{"AVPF then AVP", "RTP/AVPF;unicast;client_port=5000-5001,RTP/AVP;unicast;client_port=5002-5003",
			[]alt{{TransportSpec{Profile: "RTP/AVPF"}, false}, {udp(5002, 5003), true}}},
		{"multicast then TCP", "RTP/AVP;multicast;destination=232.1.1.1;port=5000-5001;ttl=16,RTP/AVP/TCP;interleaved=0-1",
			[]alt{{TransportSpec{Profile: "RTP/AVP", Lower: LowerMulticast, Interleaved: [2]int{-1, -1}, Destination: "232.1.1.1", Port: [2]int{5000, 5001}, TTL: 16, Mode: "play"}, true}, {tcp(0, 1), true}}},
		{"multicast without parameters", "RTP/AVP;multicast", []alt{{TransportSpec{Profile: "RTP/AVP", Lower: LowerMulticast, Interleaved: [2]int{-1, -1}, Mode: "play"}, true}}},
		{"multicast over TCP", "RTP/AVP/TCP;multicast", []alt{{TransportSpec{Profile: "RTP/AVP"}, false}}},
		{"quoted destination with comma", `RTP/AVP;unicast;destination="a,b";client_port=5000-5001`,
			[]alt{{func() TransportSpec { s := udp(5000, 5001); s.Destination = "a,b"; return s }(), true}}},
		{"empty alternatives skipped", ",,RTP/AVP/TCP;interleaved=0-1,", []alt{{tcp(0, 1), true}}},

		{"SAVP", "RTP/SAVP;unicast;client_port=5000-5001", []alt{{TransportSpec{Profile: "RTP/SAVP"}, false}}},
		{"RAW", "RAW/RAW/UDP;unicast;client_port=5000-5001", []alt{{TransportSpec{}, false}}},
		{"no profile", "RTP;unicast", []alt{{TransportSpec{}, false}}},
		{"SCTP", "RTP/AVP/SCTP;unicast", []alt{{TransportSpec{Profile: "RTP/AVP"}, false}}},
		{"record", "RTP/AVP/TCP;unicast;interleaved=0-1;mode=record", []alt{{TransportSpec{Profile: "RTP/AVP", Lower: LowerTCP, Interleaved: [2]int{0, 1}, Mode: "record"}, false}}},
		{"UDP without ports", "RTP/AVP;unicast", []alt{{TransportSpec{Profile: "RTP/AVP", Lower: LowerUDP}, false}}},
		{"port zero", "RTP/AVP;unicast;client_port=0-1", []alt{{TransportSpec{}, false}}},
		{"port too big", "RTP/AVP;unicast;client_port=65536-65537", []alt{{TransportSpec{}, false}}},
		{"last port, none left for RTCP", "RTP/AVP;unicast;client_port=65535", []alt{{TransportSpec{}, false}}},
		{"port not a number", "RTP/AVP;unicast;client_port=a-b", []alt{{TransportSpec{}, false}}},
		{"channel 255 has no pair", "RTP/AVP/TCP;interleaved=255", []alt{{TransportSpec{}, false}}},
		{"channel too big", "RTP/AVP/TCP;interleaved=0-256", []alt{{TransportSpec{}, false}}},
		{"negative channel", "RTP/AVP/TCP;interleaved=-1-0", []alt{{TransportSpec{}, false}}},
		{"ttl not a number", "RTP/AVP;multicast;ttl=x", []alt{{TransportSpec{}, false}}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			specs, errs := parseTransports(tc.in)
			if len(specs) != len(tc.want) || len(errs) != len(specs) {
				t.Fatalf("%d alternatives (%d errors), want %d: %+v %v", len(specs), len(errs), len(tc.want), specs, errs)
			}
			for i, w := range tc.want {
				if (errs[i] == nil) != w.ok {
					t.Errorf("alternative %d: err = %v, want usable=%v", i, errs[i], w.ok)
				}
				if !w.ok {
					// Only the fields that explain the refusal are pinned down.
					if w.spec.Profile != "" && specs[i].Profile != w.spec.Profile {
						t.Errorf("alternative %d: profile %q, want %q", i, specs[i].Profile, w.spec.Profile)
					}
					if w.spec.Lower != 0 && specs[i].Lower != w.spec.Lower {
						t.Errorf("alternative %d: lower %v, want %v", i, specs[i].Lower, w.spec.Lower)
					}
					if w.spec.Destination != "" && (specs[i].Destination != w.spec.Destination || specs[i].Port != w.spec.Port || specs[i].TTL != w.spec.TTL) {
						t.Errorf("alternative %d: %+v, want %+v", i, specs[i], w.spec)
					}
					continue
				}
				if specs[i] != w.spec {
					t.Errorf("alternative %d:\n got %+v\nwant %+v", i, specs[i], w.spec)
				}
			}
		})
	}
}

// TestParseTransportsErrorKinds separates "cannot serve this" (try the next alternative, 461
// if none) from "cannot even read it".
func TestParseTransportsErrorKinds(t *testing.T) {
	for in, unsupported := range map[string]bool{
		"RTP/SAVP;unicast;client_port=5000-5001":  true,
		"RTP/AVP/TCP;multicast":                   true,
		"RTP/AVP/TCP;interleaved=0-1;mode=record": true,
		"RTP/AVP;unicast":                         true,
		"RTP/AVP;unicast;client_port=x":           false,
	} {
		_, errs := parseTransports(in)
		if len(errs) != 1 || errs[0] == nil {
			t.Fatalf("%q: errs %v", in, errs)
		}
		if got := errors.Is(errs[0], errUnsupportedTransport); got != unsupported {
			t.Errorf("%q: errors.Is(errUnsupportedTransport) = %v, want %v (%v)", in, got, unsupported, errs[0])
		}
	}
}

// TestFormatTransportRoundTrip parses the server's own replies with the client-side parser:
// what a client reads back must be what the server chose.
func TestFormatTransportRoundTrip(t *testing.T) {
	udp := formatUDPTransport("127.0.0.1", [2]int{5000, 5001}, [2]int{20000, 20001}, 0xDEADBEEF)
	if want := "RTP/AVP;unicast;destination=127.0.0.1;client_port=5000-5001;server_port=20000-20001;ssrc=DEADBEEF;mode=play"; udp != want {
		t.Errorf("UDP reply %q, want %q", udp, want)
	}
	specs, errs := parseTransports(udp)
	if len(specs) != 1 || errs[0] != nil || specs[0].ClientPorts != [2]int{5000, 5001} || specs[0].SSRC != "DEADBEEF" || specs[0].Destination != "127.0.0.1" {
		t.Errorf("UDP reply parses as %+v %v", specs, errs)
	}
	tcp := formatTCPTransport([2]int{2, 3}, 7)
	if want := "RTP/AVP/TCP;unicast;interleaved=2-3;ssrc=00000007;mode=play"; tcp != want {
		t.Errorf("TCP reply %q, want %q", tcp, want)
	}
	specs, errs = parseTransports(tcp)
	if len(specs) != 1 || errs[0] != nil || specs[0].Interleaved != [2]int{2, 3} || specs[0].Lower != LowerTCP {
		t.Errorf("TCP reply parses as %+v %v", specs, errs)
	}
}

func TestSplitOutsideQuotes(t *testing.T) {
	for in, want := range map[string][]string{
		"a,b":         {"a", "b"},
		`a="x,y",b`:   {`a="x,y"`, "b"},
		"":            {""},
		",":           {"", ""},
		`"unclosed,a`: {`"unclosed,a`},
	} {
		got := splitOutsideQuotes(in, ',')
		if fmt.Sprint(got) != fmt.Sprint(want) || len(got) != len(want) {
			t.Errorf("splitOutsideQuotes(%q) = %q, want %q", in, got, want)
		}
	}
}

var ssrcParam = regexp.MustCompile(`;ssrc=([0-9A-F]{8})(;|$)`)

// TestSetupNegotiation runs SETUP over the wire with offers as players make them and checks
// the one transport the server answers with.
func TestSetupNegotiation(t *testing.T) {
	ts := startServer(t, Config{})

	t.Run("first supported alternative wins", func(t *testing.T) {
		c := ts.dial(t)
		u := listenUDPClient(t)
		p := u.ports()
		resp := c.mustDo(StatusOK, "SETUP", ts.url+"/trackID=0", fmt.Sprintf(
			"Transport: RTP/SAVP;unicast;client_port=4000-4001,RTP/AVP;multicast,RTP/AVP;unicast;client_port=%d-%d,RTP/AVP/TCP;unicast;interleaved=0-1", p[0], p[1]))
		tr := resp.Header.Get("Transport")
		if strings.Contains(tr, ",") || !strings.HasPrefix(tr, "RTP/AVP;unicast;") {
			t.Fatalf("Transport %q: want exactly the UDP alternative", tr)
		}
		sp := ts.srv.UDPPorts()
		for _, want := range []string{
			fmt.Sprintf("client_port=%d-%d", p[0], p[1]),
			fmt.Sprintf("server_port=%d-%d", sp[0], sp[1]),
		} {
			if !strings.Contains(tr, want) {
				t.Errorf("Transport %q lacks %s", tr, want)
			}
		}
		if sp[0]%2 != 0 || sp[1] != sp[0]+1 {
			t.Errorf("server ports %v: RTP must be even and RTCP the next port", sp)
		}
		if !ssrcParam.MatchString(tr) {
			t.Errorf("Transport %q has no 8-hex-digit ssrc", tr)
		}
	})

	t.Run("falls back to TCP", func(t *testing.T) {
		c := ts.dial(t)
		resp := c.mustDo(StatusOK, "SETUP", ts.url+"/trackID=0",
			"Transport: RTP/AVP/SCTP;unicast,RTP/AVP/TCP;unicast;interleaved=6-7")
		if tr := resp.Header.Get("Transport"); !strings.HasPrefix(tr, "RTP/AVP/TCP;unicast;interleaved=6-7;") {
			t.Errorf("Transport %q, want the TCP alternative with its channels", tr)
		}
	})

	t.Run("free channel pairs chosen on one connection", func(t *testing.T) {
		c := ts.dial(t)
		want := []string{"interleaved=0-1", "interleaved=2-3", "interleaved=4-5", "interleaved=8-9", "interleaved=6-7"}
		offers := []string{
			"RTP/AVP/TCP;unicast",                 // none asked: lowest free
			"RTP/AVP/TCP;unicast;interleaved=0-1", // taken: next free
			"RTP/AVP/TCP;unicast",
			"RTP/AVP/TCP;unicast;interleaved=8-9",  // free: granted
			"RTP/AVP/TCP;unicast;interleaved=9-10", // overlaps 8-9: lowest free
		}
		ids := map[string]bool{}
		for i, o := range offers {
			resp := c.mustDo(StatusOK, "SETUP", ts.url+"/trackID=0", "Transport: "+o)
			tr := resp.Header.Get("Transport")
			if !strings.Contains(tr, ";"+want[i]+";") {
				t.Errorf("offer %q: Transport %q, want %s", o, tr, want[i])
			}
			ids[sessionID(resp.Header.Get("Session"))] = true
		}
		if len(ids) != len(offers) {
			t.Errorf("%d distinct sessions for %d SETUPs", len(ids), len(offers))
		}
	})

	t.Run("repeated SETUP in a session", func(t *testing.T) {
		c := ts.dial(t)
		first := c.mustDo(StatusOK, "SETUP", ts.url+"/trackID=0", "Transport: RTP/AVP/TCP;unicast;interleaved=0-1")
		id := sessionID(first.Header.Get("Session"))
		again := c.mustDo(StatusOK, "SETUP", ts.url+"/trackID=0", "Transport: RTP/AVP/TCP;unicast;interleaved=0-1", "Session: "+id)
		if again.Header.Get("Transport") != first.Header.Get("Transport") || sessionID(again.Header.Get("Session")) != id {
			t.Errorf("repeat SETUP answered %v, want the same session and transport as %v", again, first)
		}
		// Changing the lower transport of a set-up session is not possible.
		u := listenUDPClient(t)
		c.mustDo(StatusUnsupportedTransport, "SETUP", ts.url+"/trackID=0",
			fmt.Sprintf("Transport: RTP/AVP;unicast;client_port=%d-%d", u.ports()[0], u.ports()[1]), "Session: "+id)
	})

	t.Run("the server's own ports as client ports", func(t *testing.T) {
		// From the camera itself, such a session would feed its own keep-alives and never
		// expire: that alternative is passed over, here for the interleaved one.
		c := ts.dial(t)
		sp := ts.srv.UDPPorts()
		for _, ports := range [][2]int{sp, {sp[1] + 1, sp[0]}, {sp[0] - 2, sp[0] - 1}} {
			offer := fmt.Sprintf("RTP/AVP;unicast;client_port=%d-%d", ports[0], ports[1])
			if ports[1] == sp[0]-1 { // not the server's: accepted
				c.mustDo(StatusOK, "SETUP", ts.url+"/trackID=0", "Transport: "+offer)
				continue
			}
			c.mustDo(StatusUnsupportedTransport, "SETUP", ts.url+"/trackID=0", "Transport: "+offer)
			resp := c.mustDo(StatusOK, "SETUP", ts.url+"/trackID=0", "Transport: "+offer+",RTP/AVP/TCP;unicast")
			if tr := resp.Header.Get("Transport"); !strings.HasPrefix(tr, "RTP/AVP/TCP;") {
				t.Errorf("client_port %v: Transport %q, want the TCP alternative", ports, tr)
			}
		}
	})

	t.Run("SETUP again with other UDP ports", func(t *testing.T) {
		c := ts.dial(t)
		old, moved := listenUDPClient(t), listenUDPClient(t)
		first := c.mustDo(StatusOK, "SETUP", ts.url+"/trackID=0",
			fmt.Sprintf("Transport: RTP/AVP;unicast;client_port=%d-%d", old.ports()[0], old.ports()[1]))
		id := sessionID(first.Header.Get("Session"))
		p := moved.ports()
		again := c.mustDo(StatusOK, "SETUP", ts.url+"/trackID=0",
			fmt.Sprintf("Transport: RTP/AVP;unicast;client_port=%d-%d", p[0], p[1]), "Session: "+id)
		if tr := again.Header.Get("Transport"); !strings.Contains(tr, fmt.Sprintf("client_port=%d-%d", p[0], p[1])) {
			t.Fatalf("second SETUP answered Transport %q, want the new client_port %d-%d", tr, p[0], p[1])
		}
		c.mustDo(StatusOK, "PLAY", ts.url, "Session: "+id)
		moved.readRTP(t) // the stream goes to the new ports...
		_ = old.rtp.SetReadDeadline(time.Now().Add(300 * time.Millisecond))
		if _, _, err := old.rtp.ReadFromUDP(make([]byte, 2048)); err == nil {
			t.Error("...and not to the old ones")
		}
	})
}

// TestTrackURLForms accepts every way clients build the track URL from Content-Base.
func TestTrackURLForms(t *testing.T) {
	ts := startServer(t, Config{})
	c := ts.dial(t)
	path := "/stream"
	for _, uri := range []string{
		ts.url + "/trackID=0",
		ts.url + "/trackID=0/",
		"rtsp://" + ts.addr + "/trackID=0",               // resolved against the URL without its trailing slash
		"rtsp://camera.local:8554" + path + "/trackID=0", // host as the client knows it
		path + "/trackID=0",                              // a bare path (tolerated)
		ts.url + "?token=abc/trackID=0",                  // appended to a URL with a query
	} {
		resp := c.do("SETUP", uri, "Transport: RTP/AVP/TCP;unicast")
		if resp.Status != StatusOK {
			t.Errorf("SETUP %s: %d, want 200", uri, resp.Status)
			continue
		}
		c.mustDo(StatusOK, "TEARDOWN", ts.url, "Session: "+sessionID(resp.Header.Get("Session")))
	}
	for _, uri := range []string{ts.url, ts.url + "/", "rtsp://camera.local" + path, ts.url + "?token=abc"} {
		if resp := c.do("SETUP", uri, "Transport: RTP/AVP/TCP;unicast"); resp.Status != StatusAggregateNotAllowed {
			t.Errorf("SETUP %s: %d, want 459", uri, resp.Status)
		}
	}
	for _, uri := range []string{ts.url + "/trackID=1", ts.url + "x/trackID=0", "rtsp://" + ts.addr + "/other/trackID=0",
		"rtsp://" + ts.addr + "/other?x/trackID=0"} {
		if resp := c.do("SETUP", uri, "Transport: RTP/AVP/TCP;unicast"); resp.Status != StatusNotFound {
			t.Errorf("SETUP %s: %d, want 404", uri, resp.Status)
		}
	}
}

// TestRTPInfoMatchesFirstPacket checks, over UDP and TCP, that PLAY's RTP-Info announces
// exactly the sequence number and timestamp of the first packet the viewer then receives,
// that this packet starts a keyframe (SPS/PPS aggregate first), that its SSRC is the one in
// the Transport reply, and the same again after PAUSE and a second PLAY, except that the
// RTP clock then runs on through the pause: rtptime is where it stood at the PLAY, and the
// first packet's is that or later (the keyframe came after the PLAY), never earlier.
func TestRTPInfoMatchesFirstPacket(t *testing.T) {
	ts := startServer(t, Config{})
	resumed := false
	check := func(t *testing.T, play *rtspResponse, first func() *rtpPacketInfo) *rtpPacketInfo {
		t.Helper()
		url, seq, rtptime := parseRTPInfo(t, play.Header.Get("RTP-Info"))
		if url != ts.url+"/trackID=0" {
			t.Errorf("RTP-Info url %q, want %q", url, ts.url+"/trackID=0")
		}
		if play.Header.Get("Range") == "" || !strings.HasPrefix(play.Header.Get("Range"), "npt=") {
			t.Errorf("PLAY Range %q", play.Header.Get("Range"))
		}
		p := first()
		// Resumed, the keyframe it waits for may come a while after the PLAY, as long as a GOP
		// of a file source; 5 s is generous.
		if late := int32(p.ts - rtptime); p.seq != seq || (!resumed && late != 0) || late < 0 || late > 5*clockRate {
			t.Errorf("first packet seq=%d ts=%d, RTP-Info seq=%d rtptime=%d (resumed: %v)", p.seq, p.ts, seq, rtptime, resumed)
		}
		if p.nalType != 24 {
			t.Errorf("first packet carries NAL type %d, want a STAP-A (24) with SPS and PPS", p.nalType)
		}
		return p
	}

	t.Run("tcp", func(t *testing.T) {
		c := ts.dial(t)
		setup := c.mustDo(StatusOK, "SETUP", ts.url+"/trackID=0", "Transport: RTP/AVP/TCP;unicast;interleaved=0-1")
		id := sessionID(setup.Header.Get("Session"))
		ssrc := ssrcParam.FindStringSubmatch(setup.Header.Get("Transport"))[1]
		for round := range 2 {
			resumed = round > 0
			play := c.mustDo(StatusOK, "PLAY", ts.url+"/", "Session: "+id)
			p := check(t, play, func() *rtpPacketInfo { return packetInfo(c.readRTP(0)) })
			if got := fmt.Sprintf("%08X", p.ssrc); got != ssrc {
				t.Errorf("round %d: SSRC %s, Transport said %s", round, got, ssrc)
			}
			c.mustDo(StatusOK, "PAUSE", ts.url+"/", "Session: "+id)
			c.frames = nil // media sent before PAUSE was answered
			// PAUSE is answered once the sender has stopped: nothing follows it. (Waiting a few
			// frame periods can only let a wrong server show itself, never fail a right one.)
			time.Sleep(150 * time.Millisecond)
			c.mustDo(StatusOK, "GET_PARAMETER", ts.url, "Session: "+id)
			if len(c.frames) != 0 {
				t.Errorf("round %d: %d interleaved frames after PAUSE was answered", round, len(c.frames))
			}
		}
	})

	t.Run("udp", func(t *testing.T) {
		c := ts.dial(t)
		u := listenUDPClient(t)
		p := u.ports()
		setup := c.mustDo(StatusOK, "SETUP", ts.url+"/trackID=0", fmt.Sprintf("Transport: RTP/AVP;unicast;client_port=%d-%d", p[0], p[1]))
		id := sessionID(setup.Header.Get("Session"))
		ssrc := ssrcParam.FindStringSubmatch(setup.Header.Get("Transport"))[1]
		resumed = false
		play := c.mustDo(StatusOK, "PLAY", ts.url, "Session: "+id, "Range: npt=now-")
		var from string
		pk := check(t, play, func() *rtpPacketInfo {
			pkt, addr := u.readRTP(t)
			from = addr.String()
			return packetInfo(pkt)
		})
		if got := fmt.Sprintf("%08X", pk.ssrc); got != ssrc {
			t.Errorf("SSRC %s, Transport said %s", got, ssrc)
		}
		if want := "127.0.0.1:" + strconv.Itoa(ts.srv.UDPPorts()[0]); from != want {
			t.Errorf("RTP came from %s, want the announced server_port %s", from, want)
		}
		// TEARDOWN says goodbye on RTCP.
		c.mustDo(StatusOK, "TEARDOWN", ts.url, "Session: "+id)
		requireBye(t, u, pk.ssrc)
		c.mustDo(StatusSessionNotFound, "PLAY", ts.url, "Session: "+id)
	})
}

type rtpPacketInfo struct {
	seq     uint16
	ts      uint32
	ssrc    uint32
	nalType byte
}

func packetInfo(p *rtp.Packet) *rtpPacketInfo {
	info := &rtpPacketInfo{seq: p.SequenceNumber, ts: p.Timestamp, ssrc: p.SSRC}
	if len(p.Payload) > 0 {
		info.nalType = p.Payload[0] & 0x1f
	}
	return info
}

// TestPlayRange: a live camera starts "now" whatever Range a client asks for, and says so.
// Players send all of these.
func TestPlayRange(t *testing.T) {
	ts := startServer(t, Config{})
	c := ts.dial(t)
	id := setupTCPSession(t, ts, c)
	for _, r := range []string{"", "npt=0.000-", "npt=0-", "npt=now-", "npt=10.5-20", "clock=20261121T070000Z-", "smpte=0:10:00-"} {
		h := []string{"Session: " + id}
		if r != "" {
			h = append(h, "Range: "+r)
		}
		resp := c.mustDo(StatusOK, "PLAY", ts.url, h...)
		if got := resp.Header.Get("Range"); got != "npt=0.000-" {
			t.Errorf("Range %q: answered %q, want npt=0.000-", r, got)
		}
		if sessionID(resp.Header.Get("Session")) != id {
			t.Errorf("PLAY answered Session %q", resp.Header.Get("Session"))
		}
		c.mustDo(StatusOK, "PAUSE", ts.url, "Session: "+id)
	}
}

// TestUDPOverIPv6: a viewer that reaches the camera over IPv6 (mDNS answers AAAA too) gets
// UDP, not 461, alongside an IPv4 viewer: RTP comes from the server's port to both without a
// gap (the sender splits each frame's batch between its IPv4 and IPv6 sockets), and the IPv6
// viewer's receiver reports reach its session.
func TestUDPOverIPv6(t *testing.T) {
	if pc, err := net.ListenPacket("udp6", "[::1]:0"); err != nil {
		t.Skipf("no IPv6 loopback here: %v", err)
	} else {
		pc.Close()
	}
	ts := startServerOn(t, Config{}, ":0") // both families
	_, port, _ := net.SplitHostPort(ts.addr)
	type viewer struct {
		u    *udpClient
		id   string
		ssrc uint32
		seq  uint16
	}
	var viewers []*viewer
	for _, ip := range []net.IP{net.IPv6loopback, net.IPv4(127, 0, 0, 1)} {
		host := net.JoinHostPort(ip.String(), port)
		nc, err := net.Dial("tcp", host)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { nc.Close() })
		c := &rtspClient{t: t, nc: nc, br: bufio.NewReader(nc)}
		u := listenUDPClientOn(t, ip)
		p := u.ports()
		url := "rtsp://" + host + "/stream"
		setup := c.mustDo(StatusOK, "SETUP", url+"/trackID=0", fmt.Sprintf("Transport: RTP/AVP;unicast;client_port=%d-%d", p[0], p[1]))
		id := sessionID(setup.Header.Get("Session"))
		c.mustDo(StatusOK, "PLAY", url, "Session: "+id)
		viewers = append(viewers, &viewer{u: u, id: id})
	}
	for n := range 60 {
		for _, v := range viewers {
			pkt, from := v.u.readRTP(t)
			if !from.IP.Equal(v.u.rtp.LocalAddr().(*net.UDPAddr).IP) || from.Port != ts.srv.UDPPorts()[0] {
				t.Fatalf("RTP for %v from %v, want the server's port %d", v.u.rtp.LocalAddr(), from, ts.srv.UDPPorts()[0])
			}
			if n > 0 && pkt.SequenceNumber != v.seq+1 {
				t.Fatalf("viewer at %v: seq %d after %d", v.u.rtp.LocalAddr(), pkt.SequenceNumber, v.seq)
			}
			v.seq, v.ssrc = pkt.SequenceNumber, pkt.SSRC
		}
	}
	v6 := viewers[0]
	rr, _ := (&rtcp.ReceiverReport{SSRC: 42, Reports: []rtcp.ReceptionReport{{SSRC: v6.ssrc, TotalLost: 7}}}).Marshal()
	srvRTCP := &net.UDPAddr{IP: net.IPv6loopback, Port: ts.srv.UDPPorts()[1]}
	waitUntil(t, "the receiver report to reach the session", func() bool {
		if _, err := v6.u.rtcp.WriteToUDP(rr, srvRTCP); err != nil {
			t.Fatal(err)
		}
		for _, st := range ts.srv.Viewers() {
			if st.Session == v6.id && st.TotalLost == 7 {
				return true
			}
		}
		return false
	})
}

// TestUDPPortsFollowTheListenAddress: with UDPHost set (camerad passes its -listen address),
// the media ports are bound to that address only, in its family, and still serve viewers.
func TestUDPPortsFollowTheListenAddress(t *testing.T) {
	t.Run("IPv4", func(t *testing.T) {
		ts := startServerOn(t, Config{UDPHost: "127.0.0.1"}, "127.0.0.1:0")
		u := ts.srv.udp
		if u.rtp6 != nil {
			t.Error("an IPv6 RTP socket, although UDP is bound to 127.0.0.1")
		}
		if sa, err := unix.Getsockname(u.rtp.fd); err != nil || sa.(*unix.SockaddrInet4).Addr != [4]byte{127, 0, 0, 1} {
			t.Errorf("RTP socket bound to %+v (%v), want 127.0.0.1", sa, err)
		}
		if ip := u.rtcp.LocalAddr().(*net.UDPAddr).IP; !ip.Equal(net.IPv4(127, 0, 0, 1)) {
			t.Errorf("RTCP socket bound to %v, want 127.0.0.1", ip)
		}
		ts.playUDP(t)
	})
	t.Run("IPv6", func(t *testing.T) {
		if pc, err := net.ListenPacket("udp6", "[::1]:0"); err != nil {
			t.Skipf("no IPv6 loopback here: %v", err)
		} else {
			pc.Close()
		}
		ts := startServerOn(t, Config{UDPHost: "::1"}, "[::1]:0")
		u := ts.srv.udp
		if u.rtp != nil {
			t.Error("an IPv4 RTP socket, although UDP is bound to ::1")
		}
		if sa, err := unix.Getsockname(u.rtp6.fd); err != nil || sa.(*unix.SockaddrInet6).Addr != [16]byte(net.IPv6loopback) {
			t.Errorf("RTP socket bound to %+v (%v), want ::1", sa, err)
		}
		c := ts.dial(t)
		v := listenUDPClientOn(t, net.IPv6loopback)
		p := v.ports()
		setup := c.mustDo(StatusOK, "SETUP", ts.url+"/trackID=0", fmt.Sprintf("Transport: RTP/AVP;unicast;client_port=%d-%d", p[0], p[1]))
		c.mustDo(StatusOK, "PLAY", ts.url, "Session: "+sessionID(setup.Header.Get("Session")))
		v.readRTP(t)
	})
}

// TestUDPSessionSupersededByPortReuse: a player that died without TEARDOWN leaves a UDP
// session sending to its ports; a new player on the same host that binds the same ports (fixed
// port ranges: rtspsrc port-range, ffmpeg -min_port, NVRs) must get only its own stream, and
// no BYE for the dead one (ffmpeg stops at any BYE).
func TestUDPSessionSupersededByPortReuse(t *testing.T) {
	ts := startServer(t, Config{})
	u := listenUDPClient(t)
	p := u.ports()
	transport := fmt.Sprintf("Transport: RTP/AVP;unicast;client_port=%d-%d", p[0], p[1])

	dead := ts.dial(t)
	setupA := dead.mustDo(StatusOK, "SETUP", ts.url+"/trackID=0", transport)
	idA := sessionID(setupA.Header.Get("Session"))
	dead.mustDo(StatusOK, "PLAY", ts.url, "Session: "+idA)
	first, _ := u.readRTP(t)
	// It reported, as players do, so its session outlives its control connection.
	rr, _ := (&rtcp.ReceiverReport{SSRC: 42, Reports: []rtcp.ReceptionReport{{SSRC: first.SSRC}}}).Marshal()
	if _, err := u.rtcp.WriteToUDP(rr, &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: ts.srv.UDPPorts()[1]}); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, "the receiver report heard", func() bool { return ts.srv.session(idA).heardOverUDP.Load() })
	dead.nc.Close() // killed

	next := ts.dial(t)
	setupB := next.mustDo(StatusOK, "SETUP", ts.url+"/trackID=0", transport)
	idB := sessionID(setupB.Header.Get("Session"))
	// The SETUP alone takes nothing: the old session plays on until the new one plays.
	if ts.srv.session(idA) == nil {
		t.Fatal("a SETUP that has not played yet ended the session on its ports")
	}
	next.mustDo(StatusOK, "PLAY", ts.url, "Session: "+idB)
	for _, pkt := range drainUDP(u.rtcp) { // sent, if at all, before the PLAY answer
		if pkts, err := rtcp.Unmarshal(pkt); err == nil {
			for _, p := range pkts {
				if _, ok := p.(*rtcp.Goodbye); ok {
					t.Fatal("the new player got a BYE for the superseded session")
				}
			}
		}
	}
	// The old session's last packets, sent before the PLAY, may still be queued; once the new
	// stream has begun, none may follow.
	started := false
	for range 60 {
		pkt, _ := u.readRTP(t)
		switch {
		case pkt.SSRC != first.SSRC:
			started = true
		case started:
			t.Fatalf("packet seq %d of the superseded session reached the new player after its own stream began", pkt.SequenceNumber)
		}
	}
	if !started {
		t.Fatal("the new session's stream never began")
	}
	next.mustDo(StatusSessionNotFound, "PLAY", ts.url, "Session: "+idA)
	if n := ts.srv.SessionCount(); n != 1 {
		t.Errorf("%d sessions, want only the new player's", n)
	}
}

// TestUDPSetupCannotEndAPlayingViewer: anyone on a viewer's host can send a SETUP naming the
// viewer's client ports; unless it also plays on them, the viewer must play on untouched, and
// keep playing when that connection goes away.
func TestUDPSetupCannotEndAPlayingViewer(t *testing.T) {
	ts := startServer(t, Config{})
	victim, u, id, ssrc := ts.playUDP(t)
	p := u.ports()
	intruder := ts.dial(t)
	intruder.mustDo(StatusOK, "SETUP", ts.url+"/trackID=0", fmt.Sprintf("Transport: RTP/AVP;unicast;client_port=%d-%d", p[0], p[1]))
	intruder.nc.Close()
	waitUntil(t, "the intruder's session to end with its connection", func() bool { return ts.srv.SessionCount() == 1 })
	if ts.srv.session(id) == nil {
		t.Fatal("the playing viewer was ended by another connection's SETUP on its ports")
	}
	drainUDP(u.rtp)
	for range 30 {
		if pkt, _ := u.readRTP(t); pkt.SSRC != ssrc {
			t.Fatalf("viewer got SSRC %08x, want its own %08x", pkt.SSRC, ssrc)
		}
	}
	victim.mustDo(StatusOK, "TEARDOWN", ts.url, "Session: "+id)
}

// drainUDP returns the datagrams waiting on c.
func drainUDP(c *net.UDPConn) [][]byte {
	var out [][]byte
	for {
		buf := make([]byte, 2048)
		_ = c.SetReadDeadline(time.Now().Add(20 * time.Millisecond))
		n, err := c.Read(buf)
		if err != nil {
			return out
		}
		out = append(out, buf[:n])
	}
}
