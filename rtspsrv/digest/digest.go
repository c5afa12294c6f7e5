// Package digest is the server side of Digest access authentication with MD5: RFC 7616's form
// with qop=auth, which HTTP clients send, and RFC 2617's older form without qop, which RTSP
// players still send. The RTSP server and the ONVIF HTTP services both use it.
//
// Nonces are stateless, an HMAC of their issue time, so that a client may reuse one across
// connections (ffmpeg does) and nothing is kept per client. In return a response can be
// replayed while its nonce lives; the request's uri is not compared with the one signed
// either, since RTSP players sign absolute URLs in forms that differ from the request line.
package digest

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
)

// Verifier checks one user's Digest credentials.
type Verifier struct {
	User, Password string
	Realm          string
	Secret         []byte        // the key of the nonces' HMAC: random, per process
	Lifetime       time.Duration // how long a nonce is accepted
	// OfferQop adds qop="auth" to challenges, as RFC 7616 has HTTP servers do. Responses
	// with and without qop are accepted either way.
	OfferQop bool
}

// New is a Verifier for HTTP: a random secret, nonces that live 5 minutes, qop offered.
func New(user, password, realm string) *Verifier {
	secret := make([]byte, 32)
	_, _ = rand.Read(secret) // crypto/rand does not fail on Linux
	return &Verifier{User: user, Password: password, Realm: realm, Secret: secret, Lifetime: 5 * time.Minute, OfferQop: true}
}

// Verdict is what Check makes of a request's credentials.
type Verdict int

const (
	// Missing: nothing to judge: no Digest credentials, or a nonce that is not ours (a client
	// that kept one from before a restart), which deserves a fresh challenge, not a refusal.
	Missing Verdict = iota
	OK
	// Stale: the right credentials with an expired nonce; the challenge then says stale=true,
	// and clients retry without asking their user (RFC 7616 §3.3).
	Stale
	// Wrong: a wrong user or password.
	Wrong
)

func (v Verdict) String() string {
	switch v {
	case OK:
		return "ok"
	case Stale:
		return "stale"
	case Wrong:
		return "wrong"
	}
	return "missing"
}

// nonceLen is the length of a nonce: the issue time's 16 hex digits and 24 of the HMAC.
const nonceLen = 16 + 24

// Nonce is the nonce issued at now.
func (v *Verifier) Nonce(now time.Time) string {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(now.Unix()))
	m := hmac.New(sha256.New, v.Secret)
	m.Write(b[:])
	return hex.EncodeToString(b[:]) + hex.EncodeToString(m.Sum(nil)[:12])
}

// CheckNonce reports whether n is one of ours (authentic) and still within its lifetime
// (fresh). A nonce from more than a minute ahead is authentic but not fresh: the clock was
// set back since it was issued.
func (v *Verifier) CheckNonce(n string, now time.Time) (authentic, fresh bool) {
	if len(n) != nonceLen {
		return false, false
	}
	raw, err := hex.DecodeString(n[:16])
	if err != nil {
		return false, false
	}
	issued := time.Unix(int64(binary.BigEndian.Uint64(raw)), 0)
	if !hmac.Equal([]byte(v.Nonce(issued)), []byte(n)) {
		return false, false
	}
	return true, now.Sub(issued) <= v.Lifetime && !issued.After(now.Add(time.Minute))
}

// Challenge is the WWW-Authenticate value that asks for credentials, with a nonce issued at
// now; stale says that the last ones were right but their nonce had expired.
func (v *Verifier) Challenge(now time.Time, stale bool) string {
	c := fmt.Sprintf(`Digest realm="%s", nonce="%s", algorithm=MD5`, v.Realm, v.Nonce(now))
	if v.OfferQop {
		c += `, qop="auth"`
	}
	if stale {
		c += ", stale=TRUE" // as RFC 2617 wrote it; live555 and ffmpeg read it either way
	}
	return c
}

// Check judges the Digest credentials params (ParseParams of what follows "Digest " in the
// Authorization header) for a request with method.
func (v *Verifier) Check(method string, params map[string]string, now time.Time) Verdict {
	authentic, fresh := v.CheckNonce(params["nonce"], now)
	if !authentic {
		return Missing
	}
	if !constEq(params["username"], v.User) || params["realm"] != v.Realm {
		return Wrong
	}
	if a := params["algorithm"]; a != "" && !strings.EqualFold(a, "MD5") {
		return Wrong // MD5-sess or SHA-256: never offered, so not what this user was asked for
	}
	ha1 := md5hex(v.User + ":" + v.Realm + ":" + v.Password)
	ha2 := md5hex(method + ":" + params["uri"])
	var want string
	switch params["qop"] {
	case "":
		want = md5hex(ha1 + ":" + params["nonce"] + ":" + ha2)
	case "auth":
		want = md5hex(ha1 + ":" + params["nonce"] + ":" + params["nc"] + ":" + params["cnonce"] + ":auth:" + ha2)
	default: // auth-int, never offered
		return Wrong
	}
	switch {
	case !constEq(strings.ToLower(params["response"]), want):
		return Wrong
	case !fresh:
		return Stale
	}
	return OK
}

// ParseParams splits a challenge's or credentials' auth-params (RFC 7235 §2.1: name=token or
// name="quoted string", where \" and \\ are escapes, separated by commas) into a map with
// lower-case names. A name without a value is skipped.
func ParseParams(s string) map[string]string {
	out := map[string]string{}
	for {
		s = strings.TrimLeft(s, " \t,")
		eq := strings.IndexByte(s, '=')
		if eq < 0 {
			return out
		}
		if comma := strings.IndexByte(s[:eq], ','); comma >= 0 { // a name alone
			s = s[comma+1:]
			continue
		}
		name := strings.ToLower(strings.TrimSpace(s[:eq]))
		s = strings.TrimLeft(s[eq+1:], " \t")
		var value string
		if strings.HasPrefix(s, `"`) {
			var b strings.Builder
			i := 1
			for ; i < len(s) && s[i] != '"'; i++ {
				// An escaped quote or backslash; any other backslash is taken as it is:
				// ffmpeg does not escape a DOMAIN\user name.
				if s[i] == '\\' && i+1 < len(s) && (s[i+1] == '"' || s[i+1] == '\\') {
					i++
				}
				b.WriteByte(s[i])
			}
			value, s = b.String(), s[min(i+1, len(s)):]
		} else {
			end := strings.IndexByte(s, ',')
			if end < 0 {
				end = len(s)
			}
			value, s = strings.TrimSpace(s[:end]), s[end:]
		}
		out[name] = value
	}
}

func md5hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

func constEq(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }
