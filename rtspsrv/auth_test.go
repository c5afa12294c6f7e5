package rtspsrv

import (
	"encoding/base64"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/camerad/camerad/rtspsrv/digest"
	"github.com/camerad/camerad/rtspsrv/digest/digesttest"
)

func TestAuthenticatorCheck(t *testing.T) {
	now := time.Date(2026, 11, 21, 7, 0, 0, 0, time.UTC)
	a := newAuthenticator("admin", "s3cret:with:colons", []byte("0123456789abcdef0123456789abcdef"))
	other := newAuthenticator("admin", "s3cret:with:colons", []byte("another secret, another camera"))
	nonce := a.digest.Nonce(now)
	uri := "rtsp://192.0.2.10:8554/stream"
	basic := func(up string) string { return "Basic " + base64.StdEncoding.EncodeToString([]byte(up)) }
	flip := func(s string) string {
		b := []byte(s)
		if b[len(b)-1] == '0' {
			b[len(b)-1] = '1'
		} else {
			b[len(b)-1] = '0'
		}
		return string(b)
	}
	cases := []struct {
		name   string
		method string
		auth   string
		at     time.Time
		want   authVerdict // authStale: the challenge says stale=TRUE
	}{
		{"basic", "DESCRIBE", basic("admin:s3cret:with:colons"), now, authOK},
		{"basic scheme lower case", "DESCRIBE", "basic " + base64.StdEncoding.EncodeToString([]byte("admin:s3cret:with:colons")), now, authOK},
		{"basic wrong password", "DESCRIBE", basic("admin:s3cret"), now, authWrong},
		{"basic wrong user", "DESCRIBE", basic("root:s3cret:with:colons"), now, authWrong},
		{"basic not base64", "DESCRIBE", "Basic !!!", now, authWrong},
		{"digest", "DESCRIBE", digesttest.Authorization("admin", authRealm, "s3cret:with:colons", "DESCRIBE", uri, nonce, ""), now, authOK},
		{"digest qop=auth", "SETUP", digesttest.Authorization("admin", authRealm, "s3cret:with:colons", "SETUP", uri+"/trackID=0", nonce, "auth"), now, authOK},
		{"digest reused nonce a minute later", "PLAY", digesttest.Authorization("admin", authRealm, "s3cret:with:colons", "PLAY", uri, nonce, ""), now.Add(time.Minute), authOK},
		{"digest wrong password", "DESCRIBE", digesttest.Authorization("admin", authRealm, "wrong", "DESCRIBE", uri, nonce, ""), now, authWrong},
		{"digest wrong method", "PLAY", digesttest.Authorization("admin", authRealm, "s3cret:with:colons", "DESCRIBE", uri, nonce, ""), now, authWrong},
		{"digest wrong realm", "DESCRIBE", digesttest.Authorization("admin", "other", "s3cret:with:colons", "DESCRIBE", uri, nonce, ""), now, authWrong},
		{"digest stale nonce", "DESCRIBE", digesttest.Authorization("admin", authRealm, "s3cret:with:colons", "DESCRIBE", uri, nonce, ""), now.Add(nonceLifetime + time.Second), authStale},
		{"digest stale nonce, wrong password", "DESCRIBE", digesttest.Authorization("admin", authRealm, "wrong", "DESCRIBE", uri, nonce, ""), now.Add(nonceLifetime + time.Second), authWrong},
		{"digest nonce from the future", "DESCRIBE", digesttest.Authorization("admin", authRealm, "s3cret:with:colons", "DESCRIBE", uri, a.digest.Nonce(now.Add(time.Hour)), ""), now, authStale},
		{"digest forged nonce", "DESCRIBE", digesttest.Authorization("admin", authRealm, "s3cret:with:colons", "DESCRIBE", uri, flip(nonce), ""), now, authMissing},
		{"digest nonce of another camera", "DESCRIBE", digesttest.Authorization("admin", authRealm, "s3cret:with:colons", "DESCRIBE", uri, other.digest.Nonce(now), ""), now, authMissing},
		{"digest short nonce", "DESCRIBE", digesttest.Authorization("admin", authRealm, "s3cret:with:colons", "DESCRIBE", uri, "abcd", ""), now, authMissing},
		{"digest non-hex nonce", "DESCRIBE", digesttest.Authorization("admin", authRealm, "s3cret:with:colons", "DESCRIBE", uri, "zz"+nonce[2:], ""), now, authMissing},
		{"digest upper-case response", "DESCRIBE", strings.Replace(digesttest.Authorization("admin", authRealm, "s3cret:with:colons", "DESCRIBE", uri, nonce, ""),
			`response="`+digesttest.Response("admin", authRealm, "s3cret:with:colons", "DESCRIBE", uri, nonce, ""),
			`response="`+strings.ToUpper(digesttest.Response("admin", authRealm, "s3cret:with:colons", "DESCRIBE", uri, nonce, "")), 1), now, authOK},
		{"no header", "DESCRIBE", "", now, authMissing},
		{"unknown scheme", "DESCRIBE", "Bearer abc", now, authMissing},
		{"scheme only", "DESCRIBE", "Digest", now, authMissing},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := &Request{Method: tc.method, URI: uri, Proto: "RTSP/1.0"}
			if tc.auth != "" {
				req.Header.Set("Authorization", tc.auth)
			}
			if got := a.check(req, tc.at, true); got != tc.want {
				t.Errorf("check = %v, want %v (%s)", got, tc.want, tc.auth)
			}
			// Without TLS, Basic credentials are not judged, right or wrong; Digest is as
			// over TLS.
			want := tc.want
			if strings.HasPrefix(strings.ToLower(tc.auth), "basic") {
				want = authBasicInClear
			}
			if got := a.check(req, tc.at, false); got != want {
				t.Errorf("without TLS: check = %v, want %v (%s)", got, want, tc.auth)
			}
		})
	}
}

// TestAuthOverTheWire plays the exchange as players do: OPTIONS without credentials, a 401
// with a Digest challenge (and no Basic one: without TLS it would send the password in
// clear), then Digest with the server's nonce on a new connection, as ffmpeg does after a
// 401.
func TestAuthOverTheWire(t *testing.T) {
	ts := startServer(t, Config{Username: "viewer", Password: "pa ss"})
	c := ts.dial(t)
	c.mustDo(StatusOK, "OPTIONS", ts.url)
	resp := c.mustDo(StatusUnauthorized, "DESCRIBE", ts.url, "Accept: application/sdp")
	var challenges []string
	for _, f := range resp.Header {
		if strings.EqualFold(f.Name, "WWW-Authenticate") {
			challenges = append(challenges, f.Value)
		}
	}
	if len(challenges) != 1 || !strings.HasPrefix(challenges[0], "Digest ") {
		t.Fatalf("challenges %q: want Digest alone", challenges)
	}
	p := digest.ParseParams(strings.TrimPrefix(challenges[0], "Digest "))
	if p["realm"] != authRealm || p["nonce"] == "" {
		t.Fatalf("Digest challenge %q", challenges[0])
	}
	// A wrong password is refused again, with a fresh challenge; the connection stays usable.
	bad := c.mustDo(StatusUnauthorized, "DESCRIBE", ts.url, "Authorization: "+digesttest.Authorization("viewer", p["realm"], "guess", "DESCRIBE", ts.url, p["nonce"], ""))
	if !bad.Header.Has("WWW-Authenticate") {
		t.Error("second 401 without a challenge")
	}

	c2 := ts.dial(t)
	auth := func(method, uri string) string {
		return "Authorization: " + digesttest.Authorization("viewer", p["realm"], "pa ss", method, uri, p["nonce"], "auth")
	}
	desc := c2.mustDo(StatusOK, "DESCRIBE", ts.url, "Accept: application/sdp", auth("DESCRIBE", ts.url))
	if len(desc.Body) == 0 {
		t.Fatal("no SDP")
	}
	setup := c2.mustDo(StatusOK, "SETUP", ts.url+"/trackID=0", "Transport: RTP/AVP/TCP;unicast", auth("SETUP", ts.url+"/trackID=0"))
	id := sessionID(setup.Header.Get("Session"))
	// Credentials are checked on every request, session or not.
	c2.mustDo(StatusUnauthorized, "PLAY", ts.url, "Session: "+id)
	c2.mustDo(StatusOK, "PLAY", ts.url, "Session: "+id, auth("PLAY", ts.url))
	c2.readRTP(0)
	// The right password sent in clear (Basic) is refused too.
	c2.mustDo(StatusUnauthorized, "TEARDOWN", ts.url, "Session: "+id, "Authorization: Basic "+base64.StdEncoding.EncodeToString([]byte("viewer:pa ss")))
	c2.mustDo(StatusOK, "TEARDOWN", ts.url, "Session: "+id, auth("TEARDOWN", ts.url))
}

// TestFailedLoginIsLogged: wrong credentials leave a warning naming the user, so that an NVR
// with a mistyped password can be told from one that cannot reach the camera; the 401 that
// asks a player for credentials in the first place does not.
func TestFailedLoginIsLogged(t *testing.T) {
	var logs syncBuffer
	ts := startServer(t, Config{Username: "viewer", Password: "pa ss", Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	c := ts.dial(t)
	resp := c.mustDo(StatusUnauthorized, "DESCRIBE", ts.url)
	if strings.Contains(logs.String(), "authentication failed") {
		t.Fatalf("a request without credentials was logged as a failed login:\n%s", logs.String())
	}
	p := digest.ParseParams(strings.TrimPrefix(resp.Header.Get("WWW-Authenticate"), "Digest "))
	c.mustDo(StatusUnauthorized, "DESCRIBE", ts.url, "Authorization: "+digesttest.Authorization("nvr-admin", p["realm"], "guess", "DESCRIBE", ts.url, p["nonce"], ""))
	if out := logs.String(); !strings.Contains(out, "authentication failed") || !strings.Contains(out, "user=nvr-admin") {
		t.Errorf("wrong password: log has no failed login naming the user:\n%s", out)
	}
}

// TestBasicInClearIsLogged: a player that sends Basic credentials over plain RTSP is refused,
// right password or not, and the log says why, so that the user can tell it to use Digest.
func TestBasicInClearIsLogged(t *testing.T) {
	var logs syncBuffer
	ts := startServer(t, Config{Username: "viewer", Password: "pa ss", Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	resp := ts.dial(t).mustDo(StatusUnauthorized, "DESCRIBE", ts.url, "Authorization: Basic "+base64.StdEncoding.EncodeToString([]byte("viewer:pa ss")))
	if got := resp.Header.Get("WWW-Authenticate"); !strings.HasPrefix(got, "Digest ") {
		t.Errorf("challenge %q, want Digest", got)
	}
	if out := logs.String(); !strings.Contains(out, "Basic sends the password in clear") || !strings.Contains(out, "user=viewer") {
		t.Errorf("log does not say why the login was refused:\n%s", out)
	}
}

// TestChallengeSaysStale: after an expired nonce with the right credentials, the Digest
// challenge says stale=TRUE, which is what makes live555 and ffmpeg retry instead of failing.
func TestChallengeSaysStale(t *testing.T) {
	a := newAuthenticator("admin", "pw", []byte("0123456789abcdef"))
	now := time.Now()
	for _, stale := range []bool{false, true} {
		challenge := a.challenge(now, stale, false).Header.Get("WWW-Authenticate")
		p := digest.ParseParams(strings.TrimPrefix(challenge, "Digest "))
		if got := strings.EqualFold(p["stale"], "true"); got != stale || p["nonce"] == "" {
			t.Errorf("challenge(stale=%v): %q", stale, challenge)
		}
	}
}
