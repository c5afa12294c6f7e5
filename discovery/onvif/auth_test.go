package onvif

import (
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"
)

// soapClock is a settable clock for Config.Now.
type soapClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *soapClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *soapClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func TestAuth(t *testing.T) {
	clock := &soapClock{t: time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)}
	logs := &soapLogCounter{}
	_, base := soapTestServe(t, "127.0.0.1:0", func(c *Config) {
		c.Username, c.Password = "admin", "secret"
		c.Now = clock.now
		c.Logger = slog.New(logs)
	})
	url := base + MediaPath
	created := "2026-03-04T05:06:07.123Z"
	profiles := `<trt:GetProfiles/>`

	// The right digest.
	soapPost(t, url, soapEnvelope12(soapDigestHeader("admin", "secret", []byte("nonce-1-0123456789"), created), profiles)).wantOK(t, "GetProfiles")
	// The same token again from the same client at once: libonvif does that (see
	// tokenReuse). Later, a replay.
	soapPost(t, url, soapEnvelope12(soapDigestHeader("admin", "secret", []byte("nonce-1-0123456789"), created), profiles)).wantOK(t, "GetProfiles")
	clock.add(tokenReuse + time.Millisecond)
	soapPost(t, url, soapEnvelope12(soapDigestHeader("admin", "secret", []byte("nonce-1-0123456789"), created), profiles)).
		wantFault(t, 400, "s:Sender", "ter:NotAuthorized")
	// The same nonce with a new Created is a new token (libonvif repeats nonces within a
	// second), not a replay.
	soapPost(t, url, soapEnvelope12(soapDigestHeader("admin", "secret", []byte("nonce-1-0123456789"), "2026-03-04T05:06:07.124Z"), profiles)).wantOK(t, "GetProfiles")
	// Wrong password, wrong user, no token at all.
	soapPost(t, url, soapEnvelope12(soapDigestHeader("admin", "wrong", []byte("nonce-2"), created), profiles)).
		wantFault(t, 400, "s:Sender", "ter:NotAuthorized")
	soapPost(t, url, soapEnvelope12(soapDigestHeader("root", "secret", []byte("nonce-3"), created), profiles)).
		wantFault(t, 400, "s:Sender", "ter:NotAuthorized")
	// Without any credentials: a 401 that offers HTTP Digest (see TestHTTPDigest), with the
	// same fault for token clients.
	none := soapPost(t, url, soapEnvelope12("", profiles))
	none.wantFault(t, 401, "s:Sender", "ter:NotAuthorized")
	if !strings.HasPrefix(none.header.Get("WWW-Authenticate"), "Digest ") {
		t.Errorf("401 without a Digest challenge: %q", none.header.Get("WWW-Authenticate"))
	}
	// A refused change is refused for want of credentials first: nothing is said to strangers.
	soapPost(t, url, soapEnvelope12("", `<trt:SetVideoEncoderConfiguration/>`)).wantFault(t, 401, "s:Sender", "ter:NotAuthorized")
	soapPost(t, url, soapEnvelope12(soapDigestHeader("admin", "secret", []byte("nonce-4"), created), `<trt:SetVideoEncoderConfiguration/>`)).
		wantFault(t, 500, "s:Receiver", "ter:ActionNotSupported")

	// The camera's clock hours off (no RTC, no NTP yet): still accepted.
	soapPost(t, url, soapEnvelope12(soapDigestHeader("admin", "secret", []byte("nonce-5"), "2026-03-04T01:00:00Z"), profiles)).wantOK(t, "GetProfiles")
	soapPost(t, url, soapEnvelope12(soapDigestHeader("admin", "secret", []byte("nonce-6"), "2026-03-04T11:00:00+02:00"), profiles)).wantOK(t, "GetProfiles")
	// More than a day off: refused.
	soapPost(t, url, soapEnvelope12(soapDigestHeader("admin", "secret", []byte("nonce-7"), "2026-03-02T05:06:07Z"), profiles)).
		wantFault(t, 400, "s:Sender", "ter:NotAuthorized")
	soapPost(t, url, soapEnvelope12(soapDigestHeader("admin", "secret", []byte("nonce-8"), "not a time"), profiles)).
		wantFault(t, 400, "s:Sender", "ter:NotAuthorized")

	// PasswordText.
	text := func(pass string) string {
		return `<SOAP-ENV:Header><Security xmlns="` + nsSecurity + `"><UsernameToken><Username>admin</Username>` +
			`<Password Type="http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordText">` + pass +
			`</Password></UsernameToken></Security></SOAP-ENV:Header>`
	}
	soapPost(t, url, soapEnvelope12(text("secret"), profiles)).wantOK(t, "GetProfiles")
	soapPost(t, url, soapEnvelope12(text("secre"), profiles)).wantFault(t, 400, "s:Sender", "ter:NotAuthorized")

	// The pre-auth operations need nothing.
	for _, op := range []string{"GetSystemDateAndTime", "GetWsdlUrl", "GetServices", "GetServiceCapabilities",
		"GetCapabilities", "GetHostname", "GetEndpointReference"} {
		soapPost(t, base+DevicePath, soapEnvelope12("", `<tds:`+op+`/>`)).wantOK(t, op)
	}
	soapPost(t, url, soapEnvelope12("", `<trt:GetServiceCapabilities/>`)).wantOK(t, "GetServiceCapabilities")
	// The rest does.
	for _, op := range []string{"GetDeviceInformation", "GetScopes", "GetNetworkInterfaces", "GetNTP"} {
		soapPost(t, base+DevicePath, soapEnvelope12("", `<tds:`+op+`/>`)).wantFault(t, 401, "s:Sender", "ter:NotAuthorized")
	}

	// Failures were logged at most once per 10 s, with how many were held back; nothing
	// secret in them. Requests without credentials are no failure: a Digest client's first
	// request has none.
	refused := logs.messages("onvif: refused credentials")
	if len(refused) != 1 {
		t.Fatalf("%d log lines for refused credentials within 10 s, want 1", len(refused))
	}
	clock.add(11 * time.Second)
	soapPost(t, url, soapEnvelope12(soapDigestHeader("admin", "wrong", []byte("nonce-9"), created), profiles)).
		wantFault(t, 400, "s:Sender", "ter:NotAuthorized")
	refused = logs.messages("onvif: refused credentials")
	if len(refused) != 2 {
		t.Fatalf("%d log lines after 11 s, want 2", len(refused))
	}
	var held int64 = -1
	var line strings.Builder
	refused[1].Attrs(func(a slog.Attr) bool {
		if a.Key == "held_back" {
			held = a.Value.Int64()
		}
		fmt.Fprintf(&line, "%s=%v ", a.Key, a.Value)
		return true
	})
	if held < 5 {
		t.Errorf("held_back = %d: %s", held, line.String())
	}
	for _, r := range logs.messages("onvif: refused credentials") {
		r.Attrs(func(a slog.Attr) bool {
			if strings.Contains(a.Value.String(), "secret") || strings.Contains(a.Value.String(), "secre") {
				t.Errorf("a secret in the log: %s=%v", a.Key, a.Value)
			}
			return true
		})
	}
}

func TestNonceCacheIsBounded(t *testing.T) {
	a := newAuthenticator("admin", "secret")
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 3 * maxNonces {
		if !a.remember(fmt.Sprint("n", i), "10.0.0.1", now) {
			t.Fatalf("nonce %d refused", i)
		}
		if len(a.seen) > maxNonces || len(a.order)-a.oldest > maxNonces || len(a.order) > 2*maxNonces+1 {
			t.Fatalf("after %d nonces: %d seen, order %d (oldest %d)", i+1, len(a.seen), len(a.order), a.oldest)
		}
	}
	// Recent ones are still known: refused from another host at once, and from any host
	// after tokenReuse...
	if a.remember(fmt.Sprint("n", 3*maxNonces-1), "10.0.0.2", now) {
		t.Error("recent nonce accepted again from another host")
	}
	if !a.remember(fmt.Sprint("n", 3*maxNonces-1), "10.0.0.1", now.Add(tokenReuse)) {
		t.Error("recent nonce refused to its own host within tokenReuse")
	}
	if a.remember(fmt.Sprint("n", 3*maxNonces-1), "10.0.0.1", now.Add(tokenReuse+time.Millisecond)) {
		t.Error("recent nonce accepted again after tokenReuse")
	}
	// ...and forgotten once the window has passed.
	later := now.Add(nonceWindow + time.Second)
	if !a.remember(fmt.Sprint("n", 3*maxNonces-1), "10.0.0.2", later) {
		t.Error("nonce still refused after the window")
	}
	if len(a.seen) != 1 {
		t.Errorf("%d nonces kept after the window, want 1", len(a.seen))
	}
}

func TestParseCreated(t *testing.T) {
	want := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	for _, s := range []string{"2026-03-04T05:06:07Z", "2026-03-04T05:06:07.000Z", "2026-03-04T07:06:07+02:00", "2026-03-04T05:06:07"} {
		got, err := parseCreated(s)
		if err != nil || !got.Equal(want) {
			t.Errorf("%s: %v %v", s, got, err)
		}
	}
	if _, err := parseCreated("yesterday"); err == nil {
		t.Error("garbage parsed")
	}
}
