package onvif

import (
	"fmt"
	"strconv"
	"strings"
)

// The media service (trt, ONVIF Media §5): one fixed profile, one video source, one H.264
// encoder configuration, all describing the stream the RTSP server serves, and that
// stream's rtsp:// URI. Nothing here can be changed (camera.yml is the one place), and
// audio, metadata and snapshots do not exist.

// Tokens of the one profile and its parts. Clients keep them and send them back.
const (
	profileToken       = "main"
	videoSourceToken   = "video_source"
	videoSourceCfgTok  = "video_source_config"
	videoEncoderCfgTok = "video_encoder_config"
)

func mediaOps() map[string]operation {
	return map[string]operation{
		"GetServiceCapabilities":                  getMediaServiceCapabilities,
		"GetProfiles":                             getProfiles,
		"GetProfile":                              getProfile,
		"GetVideoSources":                         getVideoSources,
		"GetVideoSourceConfigurations":            getVideoSourceConfigurations,
		"GetVideoSourceConfiguration":             getVideoSourceConfiguration,
		"GetCompatibleVideoSourceConfigurations":  getCompatibleVideoSourceConfigurations,
		"GetVideoEncoderConfigurations":           getVideoEncoderConfigurations,
		"GetVideoEncoderConfiguration":            getVideoEncoderConfiguration,
		"GetCompatibleVideoEncoderConfigurations": getCompatibleVideoEncoderConfigurations,
		"GetVideoEncoderConfigurationOptions":     getVideoEncoderConfigurationOptions,
		"GetStreamUri":                            getStreamURI,
		"GetSnapshotUri": func(*call) (string, *soapFault) {
			// No JPEG encoder: Home Assistant, told SnapshotUri="false", grabs a frame from
			// the stream instead.
			return "", errActionNotSupported("GetSnapshotUri")
		},
		// No audio, metadata or analytics: empty lists, which NVRs that ask for them
		// while adding a camera take better than faults.
		"GetAudioSources":                 empty("GetAudioSourcesResponse"),
		"GetAudioSourceConfigurations":    empty("GetAudioSourceConfigurationsResponse"),
		"GetAudioEncoderConfigurations":   empty("GetAudioEncoderConfigurationsResponse"),
		"GetMetadataConfigurations":       empty("GetMetadataConfigurationsResponse"),
		"GetVideoAnalyticsConfigurations": empty("GetVideoAnalyticsConfigurationsResponse"),
	}
}

func empty(response string) operation {
	return func(*call) (string, *soapFault) { return `<trt:` + response + `/>`, nil }
}

// stream is what is served now, with what ONVIF cannot express made safe.
func (c *call) stream() StreamInfo {
	si := c.s.cfg.Stream()
	for _, v := range []*int{&si.Width, &si.Height, &si.FPS, &si.Bitrate, &si.GOP} {
		if *v < 0 {
			*v = 0
		}
	}
	switch si.Profile {
	case "Baseline", "Main", "Extended", "High":
	default:
		// tt:H264Profile is required wherever a profile is named; Main is what camerad's
		// sources produce when nothing says otherwise.
		si.Profile = "Main"
	}
	return si
}

// mediaServiceCapabilities is trt:Capabilities: RTP over RTSP over TCP always, multicast
// as configured, no snapshots, no rotation.
func mediaServiceCapabilities(c *call) string {
	return `<trt:Capabilities SnapshotUri="false" Rotation="false" VideoSourceMode="false" OSD="false">` +
		`<trt:ProfileCapabilities MaximumNumberOfProfiles="1"/>` +
		`<trt:StreamingCapabilities RTPMulticast="` + strconv.FormatBool(c.s.cfg.Multicast) + `" RTP_TCP="true" RTP_RTSP_TCP="true" NonAggregateControl="false" NoRTSPStreaming="false"/>` +
		`</trt:Capabilities>`
}

func getMediaServiceCapabilities(c *call) (string, *soapFault) {
	return `<trt:GetServiceCapabilitiesResponse>` + mediaServiceCapabilities(c) + `</trt:GetServiceCapabilitiesResponse>`, nil
}

// videoSourceConfiguration is the tt:VideoSourceConfiguration's content, in an element
// named by the caller (Configurations, Configuration, VideoSourceConfiguration).
func videoSourceConfiguration(elem string, si StreamInfo) string {
	return `<` + elem + ` token="` + videoSourceCfgTok + `"><tt:Name>video source</tt:Name><tt:UseCount>1</tt:UseCount>` +
		`<tt:SourceToken>` + videoSourceToken + `</tt:SourceToken>` +
		fmt.Sprintf(`<tt:Bounds x="0" y="0" width="%d" height="%d"/>`, si.Width, si.Height) +
		`</` + elem + `>`
}

// videoEncoderConfiguration is the tt:VideoEncoderConfiguration of the stream.
func videoEncoderConfiguration(elem string, si StreamInfo) string {
	var b strings.Builder
	b.WriteString(`<` + elem + ` token="` + videoEncoderCfgTok + `"><tt:Name>H.264</tt:Name><tt:UseCount>1</tt:UseCount>` +
		`<tt:Encoding>H264</tt:Encoding>` +
		fmt.Sprintf(`<tt:Resolution><tt:Width>%d</tt:Width><tt:Height>%d</tt:Height></tt:Resolution>`, si.Width, si.Height) +
		// Quality is required but means nothing here: camerad sets a bitrate, not a
		// quality. The middle of the range that the options give.
		`<tt:Quality>5</tt:Quality>`)
	// RateControl: EncodingInterval 1 (every frame is encoded); BitrateLimit in kbit/s.
	b.WriteString(fmt.Sprintf(`<tt:RateControl><tt:FrameRateLimit>%d</tt:FrameRateLimit><tt:EncodingInterval>1</tt:EncodingInterval>`+
		`<tt:BitrateLimit>%d</tt:BitrateLimit></tt:RateControl>`, si.FPS, kbps(si.Bitrate)))
	b.WriteString(fmt.Sprintf(`<tt:H264><tt:GovLength>%d</tt:GovLength><tt:H264Profile>%s</tt:H264Profile></tt:H264>`, si.GOP, si.Profile))
	// Multicast is required. The RTSP server chooses the group when a client asks for
	// multicast in SETUP, so there is no fixed one to tell here, and no AutoStart.
	b.WriteString(`<tt:Multicast><tt:Address><tt:Type>IPv4</tt:Type><tt:IPv4Address>0.0.0.0</tt:IPv4Address></tt:Address>` +
		`<tt:Port>0</tt:Port><tt:TTL>1</tt:TTL><tt:AutoStart>false</tt:AutoStart></tt:Multicast>`)
	b.WriteString(`<tt:SessionTimeout>PT60S</tt:SessionTimeout>`) // the RTSP session's timeout=60
	b.WriteString(`</` + elem + `>`)
	return b.String()
}

func kbps(bitsPerSecond int) int { return (bitsPerSecond + 500) / 1000 }

func profile(elem string, c *call) string {
	si := c.stream()
	return `<` + elem + ` token="` + profileToken + `" fixed="true"><tt:Name>` + profileToken + `</tt:Name>` +
		videoSourceConfiguration("tt:VideoSourceConfiguration", si) +
		videoEncoderConfiguration("tt:VideoEncoderConfiguration", si) +
		`</` + elem + `>`
}

func getProfiles(c *call) (string, *soapFault) {
	return `<trt:GetProfilesResponse>` + profile("trt:Profiles", c) + `</trt:GetProfilesResponse>`, nil
}

// argToken is the token argument name of the request, trimmed; ok is false when the
// argument is missing.
func (c *call) argToken(name string) (string, bool) {
	n := c.env.body.child(name)
	if n == nil {
		return "", false
	}
	return strings.TrimSpace(n.Text), true
}

func getProfile(c *call) (string, *soapFault) {
	if tok, _ := c.argToken("ProfileToken"); tok != profileToken {
		return "", errNoProfile(tok)
	}
	return `<trt:GetProfileResponse>` + profile("trt:Profile", c) + `</trt:GetProfileResponse>`, nil
}

func getVideoSources(c *call) (string, *soapFault) {
	si := c.stream()
	return `<trt:GetVideoSourcesResponse><trt:VideoSources token="` + videoSourceToken + `">` +
		fmt.Sprintf(`<tt:Framerate>%d</tt:Framerate><tt:Resolution><tt:Width>%d</tt:Width><tt:Height>%d</tt:Height></tt:Resolution>`,
			si.FPS, si.Width, si.Height) +
		`</trt:VideoSources></trt:GetVideoSourcesResponse>`, nil
}

func getVideoSourceConfigurations(c *call) (string, *soapFault) {
	return `<trt:GetVideoSourceConfigurationsResponse>` + videoSourceConfiguration("trt:Configurations", c.stream()) +
		`</trt:GetVideoSourceConfigurationsResponse>`, nil
}

func getVideoSourceConfiguration(c *call) (string, *soapFault) {
	if tok, _ := c.argToken("ConfigurationToken"); tok != videoSourceCfgTok {
		return "", errNoConfig(tok)
	}
	return `<trt:GetVideoSourceConfigurationResponse>` + videoSourceConfiguration("trt:Configuration", c.stream()) +
		`</trt:GetVideoSourceConfigurationResponse>`, nil
}

func getCompatibleVideoSourceConfigurations(c *call) (string, *soapFault) {
	if tok, _ := c.argToken("ProfileToken"); tok != profileToken {
		return "", errNoProfile(tok)
	}
	return `<trt:GetCompatibleVideoSourceConfigurationsResponse>` + videoSourceConfiguration("trt:Configurations", c.stream()) +
		`</trt:GetCompatibleVideoSourceConfigurationsResponse>`, nil
}

func getVideoEncoderConfigurations(c *call) (string, *soapFault) {
	return `<trt:GetVideoEncoderConfigurationsResponse>` +
		videoEncoderConfiguration("trt:Configurations", c.stream()) +
		`</trt:GetVideoEncoderConfigurationsResponse>`, nil
}

func getVideoEncoderConfiguration(c *call) (string, *soapFault) {
	if tok, _ := c.argToken("ConfigurationToken"); tok != videoEncoderCfgTok {
		return "", errNoConfig(tok)
	}
	return `<trt:GetVideoEncoderConfigurationResponse>` +
		videoEncoderConfiguration("trt:Configuration", c.stream()) +
		`</trt:GetVideoEncoderConfigurationResponse>`, nil
}

func getCompatibleVideoEncoderConfigurations(c *call) (string, *soapFault) {
	if tok, _ := c.argToken("ProfileToken"); tok != profileToken {
		return "", errNoProfile(tok)
	}
	return `<trt:GetCompatibleVideoEncoderConfigurationsResponse>` +
		videoEncoderConfiguration("trt:Configurations", c.stream()) +
		`</trt:GetCompatibleVideoEncoderConfigurationsResponse>`, nil
}

// getVideoEncoderConfigurationOptions offers exactly what is configured: every range is
// the one value camerad serves, since nothing can be set through ONVIF. Both arguments are
// optional; a token given must be ours.
func getVideoEncoderConfigurationOptions(c *call) (string, *soapFault) {
	if tok, ok := c.argToken("ConfigurationToken"); ok && tok != "" && tok != videoEncoderCfgTok {
		return "", errNoConfig(tok)
	}
	if tok, ok := c.argToken("ProfileToken"); ok && tok != "" && tok != profileToken {
		return "", errNoProfile(tok)
	}
	si := c.stream()
	h264 := fmt.Sprintf(`<tt:ResolutionsAvailable><tt:Width>%d</tt:Width><tt:Height>%d</tt:Height></tt:ResolutionsAvailable>`+
		`<tt:GovLengthRange><tt:Min>%d</tt:Min><tt:Max>%d</tt:Max></tt:GovLengthRange>`+
		`<tt:FrameRateRange><tt:Min>%d</tt:Min><tt:Max>%d</tt:Max></tt:FrameRateRange>`+
		`<tt:EncodingIntervalRange><tt:Min>1</tt:Min><tt:Max>1</tt:Max></tt:EncodingIntervalRange>`+
		`<tt:H264ProfilesSupported>%s</tt:H264ProfilesSupported>`,
		si.Width, si.Height, si.GOP, si.GOP, si.FPS, si.FPS, si.Profile)
	return `<trt:GetVideoEncoderConfigurationOptionsResponse><trt:Options>` +
		`<tt:QualityRange><tt:Min>5</tt:Min><tt:Max>5</tt:Max></tt:QualityRange>` +
		`<tt:H264>` + h264 + `</tt:H264>` +
		`<tt:Extension><tt:H264>` + h264 +
		fmt.Sprintf(`<tt:BitrateRange><tt:Min>%d</tt:Min><tt:Max>%d</tt:Max></tt:BitrateRange>`, kbps(si.Bitrate), kbps(si.Bitrate)) +
		`</tt:H264></tt:Extension>` +
		`</trt:Options></trt:GetVideoEncoderConfigurationOptionsResponse>`, nil
}

// getStreamURI gives rtsp://<the address the client reached us on>:<RTSP port><path>. RTP
// over RTSP (UDP or interleaved TCP, the client chooses in SETUP) and RTSP over HTTP are
// all the same URI; multicast too, when the RTSP server serves it.
func getStreamURI(c *call) (string, *soapFault) {
	if tok, _ := c.argToken("ProfileToken"); tok != profileToken {
		return "", errNoProfile(tok)
	}
	setup := c.env.body.child("StreamSetup")
	if s := strings.TrimSpace(setup.text("Stream")); s == "RTP-Multicast" && !c.s.cfg.Multicast {
		return "", senderFault("this camera does not serve multicast", "ter:InvalidArgVal", "ter:InvalidStreamSetup")
	}
	if p := strings.TrimSpace(setup.text("Transport", "Protocol")); p == "UDP" {
		// Plain RTP without RTSP: the RTSP server always sets up sessions by RTSP.
		return "", senderFault("RTP without RTSP is not served", "ter:InvalidArgVal", "ter:InvalidStreamSetup")
	}
	host, _ := c.localHostPort()
	uri := "rtsp://" + host + ":" + strconv.Itoa(c.s.cfg.RTSPPort) + c.s.cfg.RTSPPath
	return `<trt:GetStreamUriResponse><trt:MediaUri><tt:Uri>` + xmlText(uri) + `</tt:Uri>` +
		`<tt:InvalidAfterConnect>false</tt:InvalidAfterConnect><tt:InvalidAfterReboot>false</tt:InvalidAfterReboot>` +
		`<tt:Timeout>PT0S</tt:Timeout></trt:MediaUri></trt:GetStreamUriResponse>`, nil
}
