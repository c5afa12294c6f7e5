package discovery

import "testing"

// TestSameName: DNS names match ignoring ASCII case only (RFC 6762 §16).
func TestSameName(t *testing.T) {
	for _, c := range []struct {
		a, b string
		want bool
	}{
		{"Camera-ABCD.local.", "camera-abcd.LOCAL.", true},
		{"Café Caméra._rtsp._tcp.local.", "CAFé CAMéRA._rtsp._tcp.local.", true},
		{"Café Caméra._rtsp._tcp.local.", "CAFÉ CAMÉRA._rtsp._tcp.local.", false},
		{"camera-abcd.local.", "camera-abcd.local", false},
	} {
		if got := sameName(c.a, c.b); got != c.want {
			t.Errorf("sameName(%q, %q) = %v, want %v", c.a, c.b, got, c.want)
		}
	}
}
