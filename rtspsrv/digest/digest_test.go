package digest

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/camerad/camerad/rtspsrv/digest/digesttest"
)

func credentials(user, realm, pass, method, uri, nonce, qop string) map[string]string {
	return ParseParams(strings.TrimPrefix(digesttest.Authorization(user, realm, pass, method, uri, nonce, qop), "Digest "))
}

func TestCheck(t *testing.T) {
	now := time.Date(2026, 11, 22, 7, 0, 0, 0, time.UTC)
	v := &Verifier{User: "admin", Password: "s3cret:with:colons", Realm: "camerad", Secret: []byte("0123456789abcdef"), Lifetime: 5 * time.Minute}
	other := &Verifier{User: "admin", Password: "s3cret:with:colons", Realm: "camerad", Secret: []byte("another camera"), Lifetime: 5 * time.Minute}
	n := v.Nonce(now)
	ok := func(qop string) map[string]string {
		return credentials("admin", "camerad", "s3cret:with:colons", "POST", "/onvif/device_service", n, qop)
	}
	with := func(p map[string]string, k, val string) map[string]string {
		q := map[string]string{}
		for a, b := range p {
			q[a] = b
		}
		q[k] = val
		return q
	}
	for _, tc := range []struct {
		name   string
		method string
		params map[string]string
		at     time.Time
		want   Verdict
	}{
		{"qop=auth", "POST", ok("auth"), now, OK},
		{"no qop (RFC 2069, RTSP players)", "POST", ok(""), now, OK},
		{"algorithm MD5 named", "POST", with(ok("auth"), "algorithm", "md5"), now, OK},
		{"upper-case response", "POST", with(ok("auth"), "response", strings.ToUpper(ok("auth")["response"])), now, OK},
		{"nonce a minute old", "POST", ok("auth"), now.Add(time.Minute), OK},
		{"wrong password", "POST", credentials("admin", "camerad", "guess", "POST", "/onvif/device_service", n, "auth"), now, Wrong},
		{"wrong user", "POST", credentials("root", "camerad", "s3cret:with:colons", "POST", "/onvif/device_service", n, "auth"), now, Wrong},
		{"wrong realm", "POST", credentials("admin", "other", "s3cret:with:colons", "POST", "/onvif/device_service", n, "auth"), now, Wrong},
		{"signed for another method", "GET", ok("auth"), now, Wrong},
		{"another algorithm", "POST", with(ok("auth"), "algorithm", "SHA-256"), now, Wrong},
		{"qop=auth-int", "POST", with(ok("auth"), "qop", "auth-int"), now, Wrong},
		{"expired nonce", "POST", ok("auth"), now.Add(5*time.Minute + time.Second), Stale},
		{"expired nonce, wrong password", "POST", credentials("admin", "camerad", "guess", "POST", "/x", n, "auth"), now.Add(time.Hour), Wrong},
		{"nonce from the future", "POST", credentials("admin", "camerad", "s3cret:with:colons", "POST", "/x", v.Nonce(now.Add(time.Hour)), ""), now, Stale},
		{"forged nonce", "POST", with(ok("auth"), "nonce", n[:len(n)-1]+"0"), now, Missing},
		{"another camera's nonce", "POST", credentials("admin", "camerad", "s3cret:with:colons", "POST", "/x", other.Nonce(now), ""), now, Missing},
		{"short nonce", "POST", with(ok("auth"), "nonce", "abcd"), now, Missing},
		{"non-hex nonce", "POST", with(ok("auth"), "nonce", "zz"+n[2:]), now, Missing},
		{"no credentials", "POST", map[string]string{}, now, Missing},
	} {
		if got := v.Check(tc.method, tc.params, tc.at); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestChallenge(t *testing.T) {
	now := time.Now()
	v := &Verifier{Realm: "camerad", Secret: []byte("k"), Lifetime: time.Minute}
	for _, offer := range []bool{false, true} {
		for _, stale := range []bool{false, true} {
			v.OfferQop = offer
			c := v.Challenge(now, stale)
			scheme, rest, _ := strings.Cut(c, " ")
			p := ParseParams(rest)
			if scheme != "Digest" || p["realm"] != "camerad" || p["algorithm"] != "MD5" {
				t.Errorf("%q", c)
			}
			if authentic, fresh := v.CheckNonce(p["nonce"], now); !authentic || !fresh {
				t.Errorf("%q: its nonce is not accepted", c)
			}
			if got := p["qop"] == "auth"; got != offer {
				t.Errorf("OfferQop %v: %q", offer, c)
			}
			if got := strings.EqualFold(p["stale"], "true"); got != stale {
				t.Errorf("stale %v: %q", stale, c)
			}
		}
	}
}

func TestParseParams(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want map[string]string
	}{
		{` username="a,b", realm=camerad ,nonce="n", uri="rtsp://h/s?x=1,2", qop=auth, NC=00000001, bogus`,
			map[string]string{"username": "a,b", "realm": "camerad", "nonce": "n", "uri": "rtsp://h/s?x=1,2", "qop": "auth", "nc": "00000001"}},
		{`username="DOMAIN\\user", realm="say \"hi\"", opaque=""`,
			map[string]string{"username": `DOMAIN\user`, "realm": `say "hi"`, "opaque": ""}},
		{`username="DOMAIN\user", uri="/a\b"`, map[string]string{"username": `DOMAIN\user`, "uri": `/a\b`}}, // as ffmpeg sends them
		{`alone, qop="auth"`, map[string]string{"qop": "auth"}},
		{`nonce="unterminated`, map[string]string{"nonce": "unterminated"}},
		{`a=1,,, b = 2 `, map[string]string{"a": "1", "b": "2"}},
		{``, map[string]string{}},
		{`=x`, map[string]string{"": "x"}},
	} {
		got := ParseParams(tc.in)
		if fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("ParseParams(%q) = %v, want %v", tc.in, got, tc.want)
		}
	}
}

func FuzzParseParams(f *testing.F) {
	f.Add(`username="a\"b", realm=camerad, nonce="n"`)
	f.Add(`"\`)
	f.Fuzz(func(t *testing.T, s string) {
		for k, v := range ParseParams(s) { // values are taken from s, never made up
			if len(v) > len(s) {
				t.Fatalf("%q: %q=%q is longer than the input", s, k, v)
			}
		}
	})
}
