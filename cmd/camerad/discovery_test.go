package main

import "testing"

// TestCameraNames: a hostname set in camera.yml names the camera on the LAN twice over, as
// <hostname>.local and as the service instance players list; without one both come from the
// board's serial.
func TestCameraNames(t *testing.T) {
	const serial = "10000000c0ffab12"
	named := Config{Hostname: "garden-camera"}
	if h, i := cameraHostname(named, serial), cameraInstance(named, serial); h != "garden-camera" || i != "garden-camera" {
		t.Errorf("hostname garden-camera: announced as host %q, instance %q; want garden-camera for both", h, i)
	}
	if h, i := cameraHostname(Config{}, serial), cameraInstance(Config{}, serial); h != "camera-ab12" || i != "camerad AB12" {
		t.Errorf("no hostname: host %q, instance %q; want camera-ab12 and \"camerad AB12\"", h, i)
	}
}
