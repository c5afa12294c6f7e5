package rtspsrv

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
)

// authRealm names the protection space in challenges.
const authRealm = "camerad"

// nonceLifetime bounds how long a Digest nonce is accepted. Nonces are stateless (an HMAC of
// their issue time) so that a client may reuse one across connections, as ffmpeg does.
const nonceLifetime = 5 * time.Minute

// authenticator checks Digest (RFC 2617, MD5, with or without qop=auth) and, over TLS, Basic
// credentials against one user.
type authenticator struct {
	user, pass string
	secret     []byte
}

func (a *authenticator) enabled() bool { return a != nil && a.user != "" }

func (a *authenticator) nonce(now time.Time) string {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(now.Unix()))
	m := hmac.New(sha256.New, a.secret)
	m.Write(b[:])
	return hex.EncodeToString(b[:]) + hex.EncodeToString(m.Sum(nil)[:12])
}

// checkNonce reports whether n is one of ours (authentic) and still within its lifetime
// (fresh).
func (a *authenticator) checkNonce(n string, now time.Time) (authentic, fresh bool) {
	if len(n) != 16+24 {
		return false, false
	}
	raw, err := hex.DecodeString(n[:16])
	if err != nil {
		return false, false
	}
	issued := time.Unix(int64(binary.BigEndian.Uint64(raw)), 0)
	if !hmac.Equal([]byte(a.nonce(issued)), []byte(n)) {
		return false, false
	}
	return true, now.Sub(issued) <= nonceLifetime && !issued.After(now.Add(time.Minute))
}

// challenge is the 401 response offering Digest, and with offerBasic (over TLS, which
// protects the password) Basic after it for simple clients: players take the first they
// support. stale says that the credentials were right but their nonce has expired (RFC 2617
// §3.2.1): players then retry with the new nonce instead of failing the request or asking
// the user (live555 and ffmpeg retry only when told).
func (a *authenticator) challenge(now time.Time, stale, offerBasic bool) *Response {
	digest := fmt.Sprintf(`Digest realm="%s", nonce="%s", algorithm=MD5`, authRealm, a.nonce(now))
	if stale {
		digest += ", stale=TRUE"
	}
	r := respond(StatusUnauthorized).with("WWW-Authenticate", digest)
	if offerBasic {
		r.with("WWW-Authenticate", fmt.Sprintf(`Basic realm="%s"`, authRealm))
	}
	return r
}

// authVerdict is what check makes of a request's credentials.
type authVerdict int

const (
	// authMissing: nothing to judge: no credentials, another scheme, or a Digest nonce that is
	// not ours (a player that kept one from before camerad restarted).
	authMissing authVerdict = iota
	authOK
	// authStale: the right credentials with an expired nonce.
	authStale
	// authWrong: a wrong user or password.
	authWrong
	// authBasicInClear: Basic credentials over a connection without TLS, not judged: the
	// password crossed the network in clear, and anyone who saw it could replay it.
	authBasicInClear
)

// check judges the credentials req carries; Basic ones only with basicAllowed (over TLS).
func (a *authenticator) check(req *Request, now time.Time, basicAllowed bool) authVerdict {
	h := req.Header.Get("Authorization")
	scheme, rest, _ := strings.Cut(h, " ")
	switch strings.ToLower(scheme) {
	case "basic":
		if !basicAllowed {
			return authBasicInClear
		}
		raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(rest))
		if err != nil {
			return authWrong
		}
		user, pass, _ := strings.Cut(string(raw), ":")
		if constEq(user, a.user) && constEq(pass, a.pass) {
			return authOK
		}
		return authWrong
	case "digest":
		p := parseAuthParams(rest)
		authentic, fresh := a.checkNonce(p["nonce"], now)
		if !authentic {
			return authMissing
		}
		if !constEq(p["username"], a.user) || p["realm"] != authRealm {
			return authWrong
		}
		ha1 := md5hex(a.user + ":" + authRealm + ":" + a.pass)
		ha2 := md5hex(req.Method + ":" + p["uri"])
		var want string
		if p["qop"] == "auth" {
			want = md5hex(ha1 + ":" + p["nonce"] + ":" + p["nc"] + ":" + p["cnonce"] + ":auth:" + ha2)
		} else {
			want = md5hex(ha1 + ":" + p["nonce"] + ":" + ha2)
		}
		switch {
		case !constEq(strings.ToLower(p["response"]), want):
			return authWrong
		case !fresh:
			return authStale
		}
		return authOK
	}
	return authMissing
}

// presentedUser is the username that req's credentials claim, shortened for the log (a
// client chooses it).
func presentedUser(req *Request) string {
	scheme, rest, _ := strings.Cut(req.Header.Get("Authorization"), " ")
	var user string
	switch strings.ToLower(scheme) {
	case "basic":
		raw, _ := base64.StdEncoding.DecodeString(strings.TrimSpace(rest))
		user, _, _ = strings.Cut(string(raw), ":")
	case "digest":
		user = parseAuthParams(rest)["username"]
	}
	if len(user) > 64 {
		user = user[:64] + "…"
	}
	return user
}

func parseAuthParams(s string) map[string]string {
	out := map[string]string{}
	for _, part := range splitOutsideQuotes(s, ',') {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		if ok {
			out[strings.ToLower(strings.TrimSpace(k))] = strings.Trim(strings.TrimSpace(v), `"`)
		}
	}
	return out
}

func md5hex(s string) string {
	sum := md5.Sum([]byte(s))
	return hex.EncodeToString(sum[:])
}

func constEq(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }
