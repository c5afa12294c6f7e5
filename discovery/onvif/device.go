package onvif

import (
	"crypto/sha1"
	"fmt"
	"net/url"
)

// Device is what the camera says about itself, in WS-Discovery and the device service.
type Device struct {
	// Name is the camera's name on the LAN (its mDNS host name, e.g. camera-abcd), given as
	// the onvif://www.onvif.org/name/ scope and by GetHostname.
	Name string
	// Manufacturer, Model, FirmwareVersion, SerialNumber and HardwareID answer
	// GetDeviceInformation; Model is also the hardware scope.
	Manufacturer    string
	Model           string
	FirmwareVersion string
	SerialNumber    string
	HardwareID      string
}

// EndpointReference is the camera's WS-Discovery address: a urn:uuid made from the serial
// number (or, without one, the name), so that it stays the same across restarts and NVRs
// recognise the camera after its IP address changes.
func (d Device) EndpointReference() string {
	seed := d.SerialNumber
	if seed == "" {
		seed = d.Name
	}
	sum := sha1.Sum([]byte("camerad onvif endpoint " + seed))
	sum[6] = sum[6]&0x0f | 0x50 // version 5 (name-based, SHA-1)
	sum[8] = sum[8]&0x3f | 0x80 // RFC 4122 variant
	return fmt.Sprintf("urn:uuid:%x-%x-%x-%x-%x", sum[0:4], sum[4:6], sum[6:8], sum[8:10], sum[10:16])
}

// Scopes are the WS-Discovery scopes of a Profile S video transmitter: NVRs show name and
// hardware in their lists of found cameras.
func (d Device) Scopes() []string {
	scopes := []string{
		"onvif://www.onvif.org/type/video_encoder",
		"onvif://www.onvif.org/type/Network_Video_Transmitter",
		"onvif://www.onvif.org/Profile/Streaming",
		"onvif://www.onvif.org/Profile/S",
	}
	if d.Name != "" {
		scopes = append(scopes, "onvif://www.onvif.org/name/"+scopeItem(d.Name))
	}
	if d.Model != "" {
		scopes = append(scopes, "onvif://www.onvif.org/hardware/"+scopeItem(d.Model))
	}
	return scopes
}

// scopeItem escapes a scope's last segment: scopes are a space-separated list of URIs, so a
// model name like "Raspberry Pi 4 Model B" is sent as Raspberry%20Pi%204%20Model%20B.
func scopeItem(s string) string {
	return url.PathEscape(s)
}

// DevicePath is where the device service answers over HTTP; WS-Discovery's XAddrs point
// there (the path ONVIF's examples use, and what clients try first when given only an IP).
const DevicePath = "/onvif/device_service"
