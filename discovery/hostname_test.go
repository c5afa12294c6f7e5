package discovery

import "testing"

func TestDefaultHostname(t *testing.T) {
	tests := []struct {
		id, host, instance string
	}{
		{"10000000abcd1234", "camera-1234", "camerad 1234"},                 // Pi serial: its tail
		{"  0x10000000ABCDEF12\n", "camera-ef12", "camerad EF12"},           // printed differently
		{"3f2a9c1b7e6d4f5a8b9c0d1e2f3a4b5c", "camera-4b5c", "camerad 4B5C"}, // machine-id
		{"", "camera", "camerad"},
	}
	for _, tt := range tests {
		if got := DefaultHostname(tt.id); got != tt.host {
			t.Errorf("DefaultHostname(%q) = %q, want %q", tt.id, got, tt.host)
		}
		if got := DefaultInstance(tt.id); got != tt.instance {
			t.Errorf("DefaultInstance(%q) = %q, want %q", tt.id, got, tt.instance)
		}
	}
}

func TestDefaultHostnameNonHex(t *testing.T) {
	a, b := DefaultHostname("UVC camera #1"), DefaultHostname("UVC camera #2")
	if a == b {
		t.Errorf("different ids gave the same name %q", a)
	}
	if a != DefaultHostname("UVC camera #1") {
		t.Errorf("not stable")
	}
	for _, h := range []string{a, b, DefaultHostname("x")} {
		if !validHostLabel(h) || len(h) != len("camera-xxxx") {
			t.Errorf("%q is not camera-xxxx", h)
		}
	}
}

func TestValidHostLabel(t *testing.T) {
	for s, want := range map[string]bool{
		"camera-abcd": true, "Cam1": true, "a": true,
		"": false, "-cam": false, "cam-": false, "cam.local": false, "cam era": false, "käse": false,
		"a123456789012345678901234567890123456789012345678901234567890123": false, // 64 bytes
	} {
		if got := validHostLabel(s); got != want {
			t.Errorf("validHostLabel(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestAltNames(t *testing.T) {
	if got := altHost("camera-abcd", 1); got != "camera-abcd" {
		t.Errorf("altHost n=1 = %q", got)
	}
	if got := altHost("camera-abcd", 2); got != "camera-abcd-2" {
		t.Errorf("altHost n=2 = %q", got)
	}
	if got := altInstance("camerad ABCD", 3); got != "camerad ABCD (3)" {
		t.Errorf("altInstance n=3 = %q", got)
	}
	long := "é123456789012345678901234567890123456789012345678901234567890" // 62 bytes
	if got := altInstance(long, 12); len(got) > maxLabel || !validUTF8Suffix(got, " (12)") {
		t.Errorf("altInstance(long) = %q (%d bytes)", got, len(got))
	}
	if got := altHost("a123456789012345678901234567890123456789012345678901234567890ab", 2); len(got) != maxLabel {
		t.Errorf("altHost(63 bytes) has %d bytes", len(got))
	}
}

func validUTF8Suffix(s, suffix string) bool {
	return len(s) >= len(suffix) && s[len(s)-len(suffix):] == suffix && validateInstance(s) == nil
}

func TestConfigValidate(t *testing.T) {
	ok := Config{Hostname: "camera-abcd", Port: 8554}
	got, err := ok.validate()
	if err != nil {
		t.Fatalf("valid config: %v", err)
	}
	if got.Instance != "camera-abcd" || got.Logger == nil {
		t.Errorf("defaults not filled: %+v", got)
	}
	if got, _ := (Config{Hostname: "camera-abcd.local.", Port: 1}).validate(); got.Hostname != "camera-abcd" {
		t.Errorf("hostname with .local not trimmed: %q", got.Hostname)
	}
	bad := []Config{
		{Port: 8554},
		{Hostname: "bad_name", Port: 8554},
		{Hostname: "cam", Port: 0},
		{Hostname: "cam", Port: 70000},
		{Hostname: "cam", Port: 8554, Instance: "has.dot"},
		{Hostname: "cam", Port: 8554, Instance: "ctl\x01"},
		{Hostname: "cam", Port: 8554, TXT: map[string]string{"a=b": "c"}},
		{Hostname: "cam", Port: 8554, TXT: map[string]string{"": "c"}},
		{Hostname: "cam", Port: 8554, TXT: map[string]string{"k": string(make([]byte, 254))}},
	}
	for _, c := range bad {
		if _, err := New(c); err == nil {
			t.Errorf("New(%+v) accepted", c)
		}
	}
}

func TestTXTStrings(t *testing.T) {
	got := txtStrings(map[string]string{"path": "/stream", "model": "pi", "version": "1"})
	want := []string{"model=pi", "path=/stream", "version=1"}
	if len(got) != len(want) {
		t.Fatalf("txtStrings = %q", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("txtStrings = %q, want %q", got, want)
		}
	}
	if got := txtStrings(nil); len(got) != 1 || got[0] != "" {
		t.Errorf("empty TXT = %q, want one empty string", got)
	}
}
