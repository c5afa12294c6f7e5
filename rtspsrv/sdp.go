package rtspsrv

import (
	"fmt"
	"net"
	"strconv"

	"github.com/pion/sdp/v3"
)

// trackControl is the control attribute of the one video track; clients append it to
// Content-Base (or, wrongly but commonly, to the request URL).
const trackControl = "trackID=0"

// buildSDP describes the stream (RFC 4566, RFC 6184 §8.2). serverIP goes into o= so that
// clients that look at it see a real address.
func buildSDP(ps ParameterSets, sessionID uint64, serverIP net.IP) ([]byte, error) {
	addrType, addr, anyAddr := "IP4", "0.0.0.0", "0.0.0.0"
	if serverIP != nil {
		if serverIP.To4() == nil {
			addrType, anyAddr = "IP6", "::"
		}
		addr = serverIP.String()
	}
	fmtp := fmt.Sprintf("96 packetization-mode=1;profile-level-id=%s;sprop-parameter-sets=%s",
		ps.Info.ProfileLevelID(), ps.SpropParameterSets())
	media := &sdp.MediaDescription{
		MediaName: sdp.MediaName{
			Media:   "video",
			Port:    sdp.RangedPort{Value: 0},
			Protos:  []string{"RTP", "AVP"},
			Formats: []string{strconv.Itoa(payloadTypeH264)},
		},
		Attributes: []sdp.Attribute{
			{Key: "rtpmap", Value: "96 H264/90000"},
			{Key: "fmtp", Value: fmtp},
			{Key: "control", Value: trackControl},
		},
	}
	if ps.Info.Width > 0 {
		media.Attributes = append(media.Attributes,
			sdp.Attribute{Key: "cliprect", Value: fmt.Sprintf("0,0,%d,%d", ps.Info.Height, ps.Info.Width)})
	}
	if ps.Info.FrameRate > 0 {
		media.Attributes = append(media.Attributes,
			sdp.Attribute{Key: "framerate", Value: strconv.FormatFloat(ps.Info.FrameRate, 'f', -1, 64)})
	}
	desc := &sdp.SessionDescription{
		Version: 0,
		Origin: sdp.Origin{
			Username:       "-",
			SessionID:      sessionID,
			SessionVersion: sessionID,
			NetworkType:    "IN",
			AddressType:    addrType,
			UnicastAddress: addr,
		},
		SessionName: "camerad",
		ConnectionInformation: &sdp.ConnectionInformation{
			NetworkType: "IN",
			AddressType: addrType,
			Address:     &sdp.Address{Address: anyAddr},
		},
		// pion's Marshal does not validate; t= is mandatory and some parsers reject its absence.
		TimeDescriptions: []sdp.TimeDescription{{Timing: sdp.Timing{StartTime: 0, StopTime: 0}}},
		Attributes: []sdp.Attribute{
			{Key: "tool", Value: "camerad"},
			{Key: "type", Value: "broadcast"},
			{Key: "control", Value: "*"},
			{Key: "range", Value: "npt=0-"},
		},
		MediaDescriptions: []*sdp.MediaDescription{media},
	}
	out, err := desc.Marshal()
	if err != nil {
		return nil, fmt.Errorf("marshal SDP: %w", err)
	}
	return out, nil
}
