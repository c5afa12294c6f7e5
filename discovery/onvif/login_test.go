package onvif

import (
	"log/slog"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/camerad/camerad/rtspsrv/digest"
	"github.com/camerad/camerad/rtspsrv/digest/digesttest"
)

// digestAuthorization is a client's Authorization header answering challenge with qop=auth.
func digestAuthorization(user, pass, method, uri, challenge string) string {
	p := digest.ParseParams(strings.TrimPrefix(challenge, "Digest "))
	return digesttest.Authorization(user, p["realm"], pass, method, uri, p["nonce"], "auth")
}

// TestHTTPDigest: the other ONVIF login. A request with no credentials gets a 401 with a
// Digest challenge; the client's answer to it passes; a wrong one is refused and logged; an
// expired nonce is challenged again as stale, without a log line.
func TestHTTPDigest(t *testing.T) {
	clock := &soapClock{t: time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)}
	logs := &soapLogCounter{}
	_, base := soapTestServe(t, "127.0.0.1:0", func(c *Config) {
		c.Username, c.Password = "admin", "s3cret"
		c.Now = clock.now
		c.Logger = slog.New(logs)
	})
	info := soapEnvelope12("", `<tds:GetDeviceInformation/>`)

	first := soapPost(t, base+DevicePath, info)
	first.wantFault(t, 401, "s:Sender", "ter:NotAuthorized")
	challenge := first.header.Get("WWW-Authenticate")
	p := digest.ParseParams(strings.TrimPrefix(challenge, "Digest "))
	if !strings.HasPrefix(challenge, "Digest ") || p["realm"] != digestRealm || p["qop"] != "auth" || p["nonce"] == "" {
		t.Fatalf("challenge %q", challenge)
	}

	// A Digest client's first post may be empty (curl's is): it is challenged too.
	if empty := soapPost(t, base+DevicePath, ""); empty.status != 401 || empty.header.Get("WWW-Authenticate") == "" {
		t.Errorf("empty post: %d, challenge %q", empty.status, empty.header.Get("WWW-Authenticate"))
	}

	ok := soapPostWith(t, base+DevicePath, digestAuthorization("admin", "s3cret", "POST", DevicePath, challenge), info)
	if model := ok.wantOK(t, "GetDeviceInformation").text("Model"); model != "Raspberry Pi 4 Model B" {
		t.Errorf("Model %q", model)
	}
	// The nonce serves again, for another service too (clients keep it).
	soapPostWith(t, base+MediaPath, digestAuthorization("admin", "s3cret", "POST", MediaPath, challenge),
		soapEnvelope12("", `<trt:GetProfiles/>`)).wantOK(t, "GetProfiles")
	if n := len(logs.messages("onvif: refused credentials")); n != 0 {
		t.Errorf("%d failed logins logged for a client's first, credential-less request", n)
	}

	wrong := soapPostWith(t, base+DevicePath, digestAuthorization("admin", "guess", "POST", DevicePath, challenge), info)
	wrong.wantFault(t, 401, "s:Sender", "ter:NotAuthorized")
	if p := digest.ParseParams(strings.TrimPrefix(wrong.header.Get("WWW-Authenticate"), "Digest ")); p["stale"] != "" {
		t.Errorf("a wrong password challenged as stale: %q", wrong.header.Get("WWW-Authenticate"))
	}
	if refused := logs.messages("onvif: refused credentials"); len(refused) != 1 {
		t.Errorf("wrong Digest password: %d log lines, want 1", len(refused))
	}

	clock.add(6 * time.Minute) // nonces live 5
	stale := soapPostWith(t, base+DevicePath, digestAuthorization("admin", "s3cret", "POST", DevicePath, challenge), info)
	stale.wantFault(t, 401, "s:Sender", "ter:NotAuthorized")
	if p := digest.ParseParams(strings.TrimPrefix(stale.header.Get("WWW-Authenticate"), "Digest ")); !strings.EqualFold(p["stale"], "true") {
		t.Errorf("expired nonce: challenge %q does not say stale", stale.header.Get("WWW-Authenticate"))
	}
	soapPostWith(t, base+DevicePath, digestAuthorization("admin", "s3cret", "POST", DevicePath, stale.header.Get("WWW-Authenticate")), info).
		wantOK(t, "GetDeviceInformation")
}

// TestHTTPDigestCurl: curl, a real Digest client, logs in the way it does with any camera:
// a request without credentials, the 401's challenge, the request again with its answer.
func TestHTTPDigestCurl(t *testing.T) {
	curl, err := exec.LookPath("curl")
	if err != nil {
		t.Skip("curl not installed (apt-get install curl): skipping the Digest login with a real client")
	}
	_, base := soapTestServe(t, "127.0.0.1:0", func(c *Config) { c.Username, c.Password = "admin", "s3 cret" })
	run := func(pass string) (string, string) {
		out, err := exec.Command(curl, "-s", "--digest", "-u", "admin:"+pass, "-H", "Content-Type: application/soap+xml",
			"-w", "\nstatus=%{http_code}", "--data", soapEnvelope12("", `<trt:GetStreamUri><trt:ProfileToken>main</trt:ProfileToken></trt:GetStreamUri>`),
			base+MediaPath).Output()
		if err != nil {
			t.Fatalf("curl: %v\n%s", err, out)
		}
		body, status, _ := strings.Cut(string(out), "\nstatus=")
		return body, status
	}
	if body, status := run("s3 cret"); status != "200" || !strings.Contains(body, "<tt:Uri>rtsp://127.0.0.1:8554/stream</tt:Uri>") {
		t.Errorf("curl --digest: status %s\n%s", status, body)
	}
	if body, status := run("guess"); status != "401" || strings.Contains(body, "rtsp://") {
		t.Errorf("curl --digest with a wrong password: status %s\n%s", status, body)
	}
}
