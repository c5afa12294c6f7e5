// Package onvif makes the camera an ONVIF Profile S device, so that NVRs (Blue Iris,
// Synology, Agent DVR), Home Assistant's ONVIF integration and tools such as onvif-util find
// it on the LAN and learn its RTSP URL without being told.
//
// Two parts, both SOAP 1.2 (1.1 accepted and answered in kind):
//   - WS-Discovery over UDP multicast (239.255.255.250:3702): Hello when the camera starts,
//     ProbeMatches to probes for a NetworkVideoTransmitter, Bye when it stops.
//   - The device and media services over HTTP: who the camera is, its one H.264 profile and
//     that profile's rtsp:// URL. Guarded by WS-Security UsernameToken with the RTSP
//     username and password, when those are set.
//
// The settings are camera.yml's: ONVIF only describes them. Requests that would change
// them are refused with a SOAP fault.
package onvif
