package onvif

import (
	"strings"
	"testing"
)

func TestProfileDescribesTheStream(t *testing.T) {
	_, base := soapTestServe(t, "127.0.0.1:0", nil)
	url := base + MediaPath

	for _, req := range []struct{ op, body string }{
		{"GetProfiles", `<trt:GetProfiles/>`},
		{"GetProfile", `<trt:GetProfile><trt:ProfileToken>main</trt:ProfileToken></trt:GetProfile>`},
	} {
		b := soapPost(t, url, soapEnvelope12("", req.body)).wantOK(t, req.op)
		p := &b.Nodes[0]
		if p.attr("token") != "main" || p.attr("fixed") != "true" {
			t.Errorf("%s: profile attributes %v", req.op, p.Attrs)
		}
		vec := p.child("VideoEncoderConfiguration")
		for path, want := range map[string]string{
			"Encoding": "H264", "Resolution/Width": "1920", "Resolution/Height": "1080",
			"RateControl/FrameRateLimit": "30", "RateControl/EncodingInterval": "1", "RateControl/BitrateLimit": "4000",
			"H264/GovLength": "60", "H264/H264Profile": "High", "SessionTimeout": "PT60S", "Multicast/AutoStart": "false",
		} {
			if got := vec.text(strings.Split(path, "/")...); got != want {
				t.Errorf("%s: VideoEncoderConfiguration/%s = %q, want %q", req.op, path, got, want)
			}
		}
		if vec.child("Encoding").XMLName.Space != nsSchema {
			t.Errorf("Encoding in namespace %q", vec.child("Encoding").XMLName.Space)
		}
		if got := p.text("VideoSourceConfiguration", "SourceToken"); got != videoSourceToken {
			t.Errorf("SourceToken %q", got)
		}
	}

	soapPost(t, url, soapEnvelope12("", `<trt:GetProfile><trt:ProfileToken>other</trt:ProfileToken></trt:GetProfile>`)).
		wantFault(t, 400, "s:Sender", "ter:InvalidArgVal", "ter:NoProfile")
	soapPost(t, url, soapEnvelope12("", `<trt:GetStreamUri><trt:ProfileToken>other</trt:ProfileToken></trt:GetStreamUri>`)).
		wantFault(t, 400, "s:Sender", "ter:InvalidArgVal", "ter:NoProfile")
	soapPost(t, url, soapEnvelope12("", `<trt:GetVideoEncoderConfiguration><trt:ConfigurationToken>x</trt:ConfigurationToken></trt:GetVideoEncoderConfiguration>`)).
		wantFault(t, 400, "s:Sender", "ter:InvalidArgVal", "ter:NoConfig")
	soapPost(t, url, soapEnvelope12("", `<trt:GetVideoSourceConfiguration><trt:ConfigurationToken>x</trt:ConfigurationToken></trt:GetVideoSourceConfiguration>`)).
		wantFault(t, 400, "s:Sender", "ter:InvalidArgVal", "ter:NoConfig")
	soapPost(t, url, soapEnvelope12("", `<trt:GetCompatibleVideoEncoderConfigurations><trt:ProfileToken>x</trt:ProfileToken></trt:GetCompatibleVideoEncoderConfigurations>`)).
		wantFault(t, 400, "s:Sender", "ter:InvalidArgVal", "ter:NoProfile")
	soapPost(t, url, soapEnvelope12("", `<trt:GetVideoEncoderConfigurationOptions><trt:ConfigurationToken>x</trt:ConfigurationToken></trt:GetVideoEncoderConfigurationOptions>`)).
		wantFault(t, 400, "s:Sender", "ter:InvalidArgVal", "ter:NoConfig")

	b := soapPost(t, url, soapEnvelope12("", `<trt:GetVideoEncoderConfiguration><trt:ConfigurationToken>video_encoder_config</trt:ConfigurationToken></trt:GetVideoEncoderConfiguration>`)).
		wantOK(t, "GetVideoEncoderConfiguration")
	if b.text("Configuration", "Resolution", "Width") != "1920" {
		t.Errorf("GetVideoEncoderConfiguration: %+v", b)
	}
	b = soapPost(t, url, soapEnvelope12("", `<trt:GetVideoEncoderConfigurationOptions><trt:ProfileToken>main</trt:ProfileToken></trt:GetVideoEncoderConfigurationOptions>`)).
		wantOK(t, "GetVideoEncoderConfigurationOptions")
	if b.text("Options", "H264", "ResolutionsAvailable", "Height") != "1080" || b.text("Options", "Extension", "H264", "BitrateRange", "Max") != "4000" {
		t.Errorf("options: %+v", b)
	}
	b = soapPost(t, url, soapEnvelope12("", `<trt:GetVideoSources/>`)).wantOK(t, "GetVideoSources")
	if b.text("VideoSources", "Resolution", "Width") != "1920" || b.text("VideoSources", "Framerate") != "30" {
		t.Errorf("video sources: %+v", b)
	}
	for _, op := range []string{"GetVideoSourceConfigurations", "GetVideoEncoderConfigurations", "GetAudioSources"} {
		soapPost(t, url, soapEnvelope12("", `<trt:`+op+`/>`)).wantOK(t, op)
	}
}

func TestMediaServiceCapabilitiesAndMulticast(t *testing.T) {
	for _, multicast := range []bool{false, true} {
		_, base := soapTestServe(t, "127.0.0.1:0", func(c *Config) { c.Multicast = multicast })
		b := soapPost(t, base+MediaPath, soapEnvelope12("", `<trt:GetServiceCapabilities/>`)).wantOK(t, "GetServiceCapabilities")
		caps := b.child("Capabilities")
		want := map[bool]string{false: "false", true: "true"}[multicast]
		if caps.attr("SnapshotUri") != "false" || caps.attr("Rotation") != "false" ||
			caps.child("StreamingCapabilities").attr("RTPMulticast") != want ||
			caps.child("StreamingCapabilities").attr("RTP_TCP") != "true" || caps.child("StreamingCapabilities").attr("RTP_RTSP_TCP") != "true" {
			t.Errorf("multicast %v: %s", multicast, caps.Attrs)
		}
		a := soapPost(t, base+MediaPath, soapEnvelope12("", `<trt:GetStreamUri><trt:StreamSetup><tt:Stream>RTP-Multicast</tt:Stream>`+
			`<tt:Transport><tt:Protocol>RTSP</tt:Protocol></tt:Transport></trt:StreamSetup><trt:ProfileToken>main</trt:ProfileToken></trt:GetStreamUri>`))
		if multicast {
			a.wantOK(t, "GetStreamUri")
		} else {
			a.wantFault(t, 400, "s:Sender", "ter:InvalidArgVal", "ter:InvalidStreamSetup")
		}
	}
}

func TestUnknownStreamValuesStayValid(t *testing.T) {
	_, base := soapTestServe(t, "127.0.0.1:0", func(c *Config) {
		c.Stream = func() StreamInfo { return StreamInfo{Width: 640, Height: 480, Profile: "Weird<"} }
	})
	b := soapPost(t, base+MediaPath, soapEnvelope12("", `<trt:GetProfiles/>`)).wantOK(t, "GetProfiles")
	vec := b.child("Profiles", "VideoEncoderConfiguration")
	if vec.text("H264", "H264Profile") != "Main" || vec.text("RateControl", "BitrateLimit") != "0" || vec.text("Resolution", "Width") != "640" {
		t.Errorf("%+v", vec)
	}
}
