package rtsp

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestParseTransport(t *testing.T) {
	tr, err := ParseTransport("RTP/AVP;unicast;client_port=5000-5001;server_port=6970-6971;ssrc=1A2B3C4D")
	if err != nil {
		t.Fatal(err)
	}
	if tr.TCP() || tr.ClientPorts != [2]int{5000, 5001} || tr.ServerPorts != [2]int{6970, 6971} || !tr.HasSSRC || tr.SSRC != 0x1a2b3c4d {
		t.Errorf("udp transport = %+v", tr)
	}
	tr, err = ParseTransport("RTP/AVP/TCP;unicast;interleaved=2-3")
	if err != nil || !tr.TCP() || !tr.HasInter || tr.Interleaved != [2]int{2, 3} {
		t.Errorf("tcp transport = %+v, %v", tr, err)
	}
	tr, err = ParseTransport("RTP/AVP;multicast;destination=239.1.2.3;port=5004-5005;ttl=16")
	if err != nil || !tr.Multicast || tr.Destination.String() != "239.1.2.3" || tr.Ports != [2]int{5004, 5005} || tr.TTL != 16 {
		t.Errorf("multicast transport = %+v, %v", tr, err)
	}
	for _, bad := range []string{"RAW/RAW/UDP", "RTP/AVP;client_port=x-1", "RTP/AVP;destination=nope", "RTP/AVP;server_port=70000"} {
		if _, err := ParseTransport(bad); err == nil {
			t.Errorf("ParseTransport(%q) succeeded", bad)
		}
	}
}

func TestParseRTPInfo(t *testing.T) {
	got, err := ParseRTPInfo("url=rtsp://h/s/trackID=0;seq=17;rtptime=123456, url=rtsp://h/a,b/trackID=1;seq=5")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].URL != "rtsp://h/s/trackID=0" || got[0].Seq != 17 || got[0].RTPTime != 123456 ||
		got[1].URL != "rtsp://h/a,b/trackID=1" || !got[1].HasSeq || got[1].HasRTPTime {
		t.Errorf("ParseRTPInfo = %+v", got)
	}
	if _, err := ParseRTPInfo("url=x;seq=70000"); err == nil {
		t.Error("seq out of range accepted")
	}
}

func TestParseSDPAndResolve(t *testing.T) {
	sdp := "v=0\r\no=- 0 0 IN IP4 0.0.0.0\r\ns=x\r\nt=0 0\r\na=control:*\r\n" +
		"m=video 0 RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\na=fmtp:96 packetization-mode=1\r\na=control:trackID=0\r\n" +
		"m=audio 0 RTP/AVP 0\r\na=control:rtsp://other/abs\r\n"
	tracks, err := ParseSDP([]byte(sdp), "rtsp://h/stream/")
	if err != nil {
		t.Fatal(err)
	}
	if len(tracks) != 2 || !tracks[0].IsH264() || tracks[0].URL != "rtsp://h/stream/trackID=0" || tracks[0].ClockRate != 90000 {
		t.Errorf("video track = %+v", tracks[0])
	}
	if tracks[1].Encoding != "PCMU" || tracks[1].ClockRate != 8000 || tracks[1].URL != "rtsp://other/abs" || !tracks[1].HasPayloadType(0) {
		t.Errorf("audio track = %+v", tracks[1])
	}
	for _, c := range []struct{ base, control, want string }{
		{"rtsp://h/s", "trackID=0", "rtsp://h/s/trackID=0"},
		{"rtsp://h/s/", "trackID=0", "rtsp://h/s/trackID=0"},
		{"rtsp://h/s/", "*", "rtsp://h/s/"},
		{"rtsp://h/s", "", "rtsp://h/s"},
	} {
		if got := ResolveControl(c.base, c.control); got != c.want {
			t.Errorf("ResolveControl(%q, %q) = %q, want %q", c.base, c.control, got, c.want)
		}
	}
	if _, err := ParseSDP([]byte("v=0\r\n"), "rtsp://h/"); err == nil {
		t.Error("SDP without media accepted")
	}
}

// TestDigestRFC2617 checks the response against the worked example of RFC 2617 3.5 (with
// the method and URI of that example).
func TestDigestRFC2617(t *testing.T) {
	a := &Authenticator{User: "Mufasa", Pass: "Circle Of Life"}
	err := a.Challenge([]string{`Basic realm="x"`, `Digest realm="testrealm@host.com", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41"`})
	if err != nil {
		t.Fatal(err)
	}
	got := a.Authorization("GET", "/dir/index.html")
	// Without qop the response is MD5(HA1:nonce:HA2).
	if !strings.Contains(got, `response="670fd8c2df070c60b045671b8b24ff02"`) || !strings.HasPrefix(got, "Digest ") {
		t.Errorf("Authorization = %s", got)
	}
	b := &Authenticator{User: "u", Pass: "p"}
	if err := b.Challenge([]string{`Basic realm="cam"`}); err != nil || b.Authorization("DESCRIBE", "rtsp://h/") != "Basic dTpw" {
		t.Errorf("basic: %v %q", err, b.Authorization("DESCRIBE", "rtsp://h/"))
	}
	if err := b.Challenge([]string{`NTLM`}); err == nil {
		t.Error("unsupported scheme accepted")
	}
}

func TestReaderSplitsResponsesAndFrames(t *testing.T) {
	stream := "RTSP/1.0 200 OK\r\nCSeq: 1\r\nContent-Length: 4\r\n\r\nv=0\n" +
		"$\x00\x00\x03abc" +
		"\r\nRTSP/1.0 454 Session Not Found\r\ncseq: 2\r\n\r\n"
	r := NewReader(strings.NewReader(stream))
	it, err := r.Next()
	if err != nil || it.Kind != ItemResponse || it.Response.StatusCode != 200 || string(it.Response.Body) != "v=0\n" {
		t.Fatalf("first item = %+v, %v", it, err)
	}
	it, err = r.Next()
	if err != nil || it.Kind != ItemFrame || it.Channel != 0 || string(it.Payload) != "abc" {
		t.Fatalf("second item = %+v, %v", it, err)
	}
	it, err = r.Next()
	if err != nil || it.Kind != ItemResponse || it.Response.StatusCode != 454 || it.Response.Header.Get("CSeq") != "2" {
		t.Fatalf("third item = %+v, %v", it, err)
	}
	if _, err := NewReader(strings.NewReader("RTSP/1.0 200 OK\r\nContent-Length: 99999999\r\n\r\n")).Next(); err == nil {
		t.Error("oversized body accepted")
	}
}

// TestReaderParsesPlayerRequests reads the captured player requests (as a server would
// send requests to us), to exercise the parser on real-world shapes.
func TestReaderParsesPlayerRequests(t *testing.T) {
	files, _ := filepath.Glob("../../../../../shared/fixtures/client-requests/*.txt")
	if len(files) == 0 {
		t.Skip("fixtures in /work/shared/fixtures/client-requests not present")
	}
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		it, err := NewReader(bytes.NewReader(b)).Next()
		if err != nil || it.Kind != ItemRequest || it.Request.Header.Get("CSeq") == "" {
			t.Errorf("%s: %+v, %v", filepath.Base(f), it, err)
		}
	}
}

func FuzzReader(f *testing.F) {
	f.Add([]byte("RTSP/1.0 200 OK\r\nCSeq: 1\r\nContent-Length: 2\r\n\r\nhi$\x01\x00\x01x"))
	f.Add([]byte("ANNOUNCE rtsp://h/ RTSP/1.0\r\nCSeq: 3\r\n\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r := NewReader(bytes.NewReader(b))
		for range 16 {
			if _, err := r.Next(); err != nil {
				return
			}
		}
	})
}

func FuzzHeaders(f *testing.F) {
	f.Add("RTP/AVP;unicast;client_port=1-2;ssrc=01", "url=rtsp://h/x;seq=1;rtptime=2", "m=video 0 RTP/AVP 96\na=rtpmap:96 H264/90000")
	f.Fuzz(func(t *testing.T, tr, info, sdp string) {
		_, _ = ParseTransport(tr)
		_, _ = ParseRTPInfo(info)
		_, _ = ParseSDP([]byte(sdp), "rtsp://h/")
		_ = parseAuthParams(info)
	})
}
