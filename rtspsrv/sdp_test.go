package rtspsrv

import (
	"bytes"
	"encoding/base64"
	"encoding/hex"
	"net"
	"strconv"
	"strings"
	"testing"

	"github.com/pion/sdp/v3"

	"github.com/camerad/camerad/encoder/clipsrc"
	"github.com/camerad/camerad/encoder/h264"
)

// clipParameterSets returns the embedded clip's first SPS and PPS.
func clipParameterSets(t testing.TB) ParameterSets {
	t.Helper()
	var ps ParameterSets
	for _, n := range h264.SplitAnnexB(clipsrc.Default()) {
		switch h264.TypeOf(n) {
		case h264.NALSPS:
			if ps.SPS == nil {
				ps.SPS = n
			}
		case h264.NALPPS:
			if ps.PPS == nil {
				ps.PPS = n
			}
		}
	}
	if ps.SPS == nil || ps.PPS == nil {
		t.Fatal("clip has no SPS/PPS")
	}
	info, err := h264.ParseSPS(ps.SPS)
	if err != nil {
		t.Fatalf("clip SPS: %v", err)
	}
	ps.Info = info
	return ps
}

func sdpAttr(attrs []sdp.Attribute, key string) (string, bool) {
	for _, a := range attrs {
		if a.Key == key {
			return a.Value, true
		}
	}
	return "", false
}

// checkSDP verifies a description against DESIGN §4 and RFC 6184 §8.2.1, parsing it with
// pion's independent parser.
func checkSDP(t *testing.T, body []byte, ps ParameterSets, wantAddrType, wantOrigin, wantConn string) {
	t.Helper()
	if !bytes.Contains(body, []byte("\r\n")) || bytes.Contains(bytes.ReplaceAll(body, []byte("\r\n"), nil), []byte("\n")) {
		t.Errorf("SDP lines must end in CRLF:\n%s", body)
	}
	for _, line := range []string{"v=0\r\n", "t=0 0\r\n", "s=camerad\r\n", "a=control:*\r\n", "a=range:npt=0-\r\n", "a=rtpmap:96 H264/90000\r\n", "a=control:trackID=0\r\n"} {
		if !bytes.Contains(body, []byte(line)) {
			t.Errorf("SDP lacks %q:\n%s", line, body)
		}
	}
	var d sdp.SessionDescription
	if err := d.UnmarshalString(string(body)); err != nil {
		t.Fatalf("pion cannot parse the SDP: %v\n%s", err, body)
	}
	if d.Origin.AddressType != wantAddrType || d.Origin.UnicastAddress != wantOrigin || d.Origin.NetworkType != "IN" {
		t.Errorf("o= %+v, want IN %s %s", d.Origin, wantAddrType, wantOrigin)
	}
	if d.ConnectionInformation == nil || d.ConnectionInformation.Address == nil ||
		d.ConnectionInformation.AddressType != wantAddrType || d.ConnectionInformation.Address.Address != wantConn {
		t.Errorf("c= %+v, want IN %s %s", d.ConnectionInformation, wantAddrType, wantConn)
	}
	if len(d.MediaDescriptions) != 1 {
		t.Fatalf("%d media sections, want 1", len(d.MediaDescriptions))
	}
	m := d.MediaDescriptions[0]
	if m.MediaName.Media != "video" || strings.Join(m.MediaName.Protos, "/") != "RTP/AVP" ||
		len(m.MediaName.Formats) != 1 || m.MediaName.Formats[0] != "96" {
		t.Errorf("m= %+v, want video RTP/AVP 96", m.MediaName)
	}
	fmtp, ok := sdpAttr(m.Attributes, "fmtp")
	if !ok || !strings.HasPrefix(fmtp, "96 ") {
		t.Fatalf("fmtp %q", fmtp)
	}
	params := map[string]string{}
	for _, p := range strings.Split(strings.TrimPrefix(fmtp, "96 "), ";") {
		k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
		params[k] = v
	}
	if params["packetization-mode"] != "1" {
		t.Errorf("packetization-mode %q, want 1", params["packetization-mode"])
	}
	// profile-level-id is profile_idc, the constraint flags and level_idc: SPS bytes 1..3.
	if want := strings.ToLower(hex.EncodeToString(ps.SPS[1:4])); strings.ToLower(params["profile-level-id"]) != want {
		t.Errorf("profile-level-id %q, want %s (from the SPS)", params["profile-level-id"], want)
	}
	sets := strings.Split(params["sprop-parameter-sets"], ",")
	if len(sets) != 2 {
		t.Fatalf("sprop-parameter-sets %q: want SPS,PPS", params["sprop-parameter-sets"])
	}
	for i, want := range [][]byte{ps.SPS, ps.PPS} {
		got, err := base64.StdEncoding.DecodeString(sets[i])
		if err != nil || !bytes.Equal(got, want) {
			t.Errorf("sprop-parameter-sets[%d] decodes to %x (%v), want %x", i, got, err, want)
		}
	}
	if c, _ := sdpAttr(m.Attributes, "control"); c != trackControl {
		t.Errorf("media control %q, want %q", c, trackControl)
	}
}

func TestBuildSDP(t *testing.T) {
	ps := clipParameterSets(t)
	cases := []struct {
		name                         string
		ip                           net.IP
		addrType, origin, connection string
	}{
		{"IPv4", net.IPv4(192, 0, 2, 10), "IP4", "192.0.2.10", "0.0.0.0"},
		{"IPv6", net.ParseIP("2001:db8::10"), "IP6", "2001:db8::10", "::"},
		{"unknown", nil, "IP4", "0.0.0.0", "0.0.0.0"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			body, err := buildSDP(ps, 1234567890, tc.ip)
			if err != nil {
				t.Fatal(err)
			}
			checkSDP(t, body, ps, tc.addrType, tc.origin, tc.connection)
			if !bytes.Contains(body, []byte("o=- 1234567890 1234567890 IN")) {
				t.Errorf("o= line does not carry the session id and version:\n%s", body)
			}
		})
	}
	t.Run("picture size and rate", func(t *testing.T) {
		body, err := buildSDP(ps, 1, nil)
		if err != nil {
			t.Fatal(err)
		}
		if ps.Info.Width > 0 {
			want := "a=cliprect:0,0," + strconv.Itoa(ps.Info.Height) + "," + strconv.Itoa(ps.Info.Width) + "\r\n"
			if !bytes.Contains(body, []byte(want)) {
				t.Errorf("SDP lacks %q:\n%s", want, body)
			}
		}
		if ps.Info.FrameRate > 0 && !bytes.Contains(body, []byte("a=framerate:")) {
			t.Errorf("SDP lacks a=framerate although the SPS has %g fps", ps.Info.FrameRate)
		}
	})
}

// TestDescribe checks DESCRIBE over the wire: headers real clients rely on, and an SDP that
// describes what the clip really carries.
func TestDescribe(t *testing.T) {
	ts := startServer(t, Config{})
	c := ts.dial(t)
	ps := clipParameterSets(t)
	for _, uri := range []string{ts.url, ts.url + "/", "rtsp://camera.local:8554/stream"} {
		resp := c.mustDo(StatusOK, "DESCRIBE", uri, "Accept: application/sdp")
		host := ts.addr
		if strings.Contains(uri, "camera.local") {
			host = "camera.local:8554"
		}
		if got, want := resp.Header.Get("Content-Base"), "rtsp://"+host+"/stream/"; got != want {
			t.Errorf("DESCRIBE %s: Content-Base %q, want %q", uri, got, want)
		}
		if ct := resp.Header.Get("Content-Type"); ct != "application/sdp" {
			t.Errorf("Content-Type %q", ct)
		}
		if cl := resp.Header.Get("Content-Length"); cl != strconv.Itoa(len(resp.Body)) || len(resp.Body) == 0 {
			t.Errorf("Content-Length %q for a %d-byte body", cl, len(resp.Body))
		}
		checkSDP(t, resp.Body, ps, "IP4", "127.0.0.1", "0.0.0.0")
	}
	// After the body the connection is still in step: the next request is answered.
	c.mustDo(StatusOK, "OPTIONS", ts.url)
	for _, uri := range []string{"rtsp://" + ts.addr + "/other", ts.url + "2", "rtsp://" + ts.addr + "/"} {
		c.mustDo(StatusNotFound, "DESCRIBE", uri)
	}
}
