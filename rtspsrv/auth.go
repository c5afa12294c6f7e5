package rtspsrv

import (
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"strings"
	"time"

	"github.com/camerad/camerad/rtspsrv/digest"
)

// authRealm names the protection space in challenges.
const authRealm = "camerad"

// nonceLifetime bounds how long a Digest nonce is accepted.
const nonceLifetime = 5 * time.Minute

// authenticator checks Digest (with or without qop=auth) and, over TLS, Basic credentials
// against one user.
type authenticator struct {
	user, pass string
	digest     digest.Verifier
}

func newAuthenticator(user, pass string, secret []byte) *authenticator {
	return &authenticator{user: user, pass: pass, digest: digest.Verifier{
		User: user, Password: pass, Realm: authRealm, Secret: secret, Lifetime: nonceLifetime,
	}}
}

func (a *authenticator) enabled() bool { return a != nil && a.user != "" }

// challenge is the 401 response offering Digest, and with offerBasic (over TLS, which
// protects the password) Basic after it for simple clients: players take the first they
// support. stale says that the credentials were right but their nonce has expired: players
// then retry with the new nonce instead of failing the request or asking the user (live555
// and ffmpeg retry only when told).
func (a *authenticator) challenge(now time.Time, stale, offerBasic bool) *Response {
	r := respond(StatusUnauthorized).with("WWW-Authenticate", a.digest.Challenge(now, stale))
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
		switch a.digest.Check(req.Method, digest.ParseParams(rest), now) {
		case digest.OK:
			return authOK
		case digest.Stale:
			return authStale
		case digest.Wrong:
			return authWrong
		}
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
		user = digest.ParseParams(rest)["username"]
	}
	if len(user) > 64 {
		user = user[:64] + "…"
	}
	return user
}

func constEq(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }
