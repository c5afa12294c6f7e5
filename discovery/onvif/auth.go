package onvif

import (
	"crypto/sha1"
	"crypto/subtle"
	"encoding/base64"
	"strings"
	"sync"
	"time"
)

// preAuth reports whether operation op may be called without credentials (ONVIF Core
// §5.9.4.3, access class PRE_AUTH): a client needs these to learn the camera's clock (for
// the digest's Created), its services and their addresses before it can authenticate.
func preAuth(op string) bool {
	switch op {
	case "GetSystemDateAndTime", "GetWsdlUrl", "GetServices", "GetServiceCapabilities",
		"GetCapabilities", "GetHostname", "GetEndpointReference":
		return true
	}
	return false
}

const (
	// maxCreatedSkew is how far a token's Created may be from the camera's clock. Not
	// minutes, as WS-Security suggests: a Pi has no real-time clock, so until NTP answers
	// the camera's time is wherever the last boot left it, and clients that do not correct
	// for the offset (many NVRs do not; Home Assistant and libonvif do, from
	// GetSystemDateAndTime) would be locked out for a clock they cannot see. A day still
	// bounds how long a captured request can be replayed once its nonce has left the cache.
	maxCreatedSkew = 24 * time.Hour
	// nonceWindow is how long a nonce is remembered; past maxCreatedSkew a replayed token is
	// refused for its Created anyway.
	nonceWindow = maxCreatedSkew
	// tokenReuse is how long the client that first sent a token may send it again.
	// libonvif makes a token per request from rand() seeded with the current second and
	// Created to the millisecond, so requests it sends within one millisecond (GetProfile
	// then GetStreamUri, say) carry the very same token; refusing that would lock out a
	// common client. From another address, or later, the same token is a replay.
	tokenReuse = 5 * time.Second
	// maxNonces bounds the replay cache (a nonce is at most a few dozen bytes). Only nonces
	// of requests with the right password are kept, so strangers cannot fill it; when a
	// busy client does, the oldest go first.
	maxNonces = 4096
)

const (
	passwordDigestType = "#PasswordDigest"
	passwordTextType   = "#PasswordText"
)

// authenticator checks WS-Security UsernameTokens (ONVIF Core §5.12.2) against one user.
type authenticator struct {
	user, pass string

	mu     sync.Mutex
	seen   map[string]acceptedToken // nonce and Created as sent -> their first acceptance
	order  []string                 // the nonces of seen, oldest first
	oldest int                      // index in order of the oldest nonce still in seen
}

// acceptedToken is when, and from which host, a token was first accepted.
type acceptedToken struct {
	at   time.Time
	host string
}

func newAuthenticator(user, pass string) *authenticator {
	return &authenticator{user: user, pass: pass, seen: make(map[string]acceptedToken)}
}

// check judges tok, sent by host at now. It returns "" when the token is good, or why it is
// not, in words for the log that hold nothing secret.
func (a *authenticator) check(tok *usernameToken, host string, now time.Time) string {
	if tok == nil {
		return "no UsernameToken"
	}
	userOK := constEq(tok.username, a.user)
	var passOK bool
	switch {
	case strings.HasSuffix(tok.passwordType, passwordDigestType):
		if tok.nonce == "" {
			// Without a nonce a digest never changes: it could be replayed forever.
			return "PasswordDigest without a Nonce"
		}
		nonce, err := base64.StdEncoding.DecodeString(tok.nonce)
		if err != nil {
			return "Nonce is not base64"
		}
		h := sha1.New()
		h.Write(nonce)
		h.Write([]byte(tok.created))
		h.Write([]byte(a.pass))
		want := base64.StdEncoding.EncodeToString(h.Sum(nil))
		passOK = constEq(tok.password, want)
	case tok.passwordType == "" || strings.HasSuffix(tok.passwordType, passwordTextType):
		// PasswordText (the default type) sends the password itself: accepted because some
		// NVRs use it, though anyone on the LAN can read it.
		passOK = constEq(tok.password, a.pass)
	default:
		return "unknown password type"
	}
	if !userOK || !passOK {
		return "wrong username or password"
	}
	created, err := parseCreated(tok.created)
	switch {
	case tok.created == "" && tok.nonce == "":
		// PasswordText with neither: nothing to judge freshness by, and nothing to protect
		// (the password itself crossed the network).
		return ""
	case err != nil:
		return "Created is not an xsd:dateTime"
	case created.Sub(now) > maxCreatedSkew || now.Sub(created) > maxCreatedSkew:
		return "Created is more than a day away from the camera's clock"
	}
	// A replay is the same nonce with the same Created. The nonce alone is not enough:
	// libonvif seeds rand() with the second it runs in, so its nonces repeat within a second
	// while Created (in milliseconds), and so the digest, changes; an attacker cannot pair an
	// old nonce with a new Created without the password. See also tokenReuse.
	if tok.nonce != "" && !a.remember(tok.nonce+" "+tok.created, host, now) {
		return "replayed nonce"
	}
	return ""
}

// remember records a token's nonce (with its Created) as used by host at now; false when it
// is a replay: used within nonceWindow, other than by the same host within tokenReuse.
func (a *authenticator) remember(nonce, host string, now time.Time) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	// Drop what has aged out (and, when full, the oldest), front first: order is the order
	// of acceptance, so the oldest are at the front.
	for a.oldest < len(a.order) {
		n := a.order[a.oldest]
		if t, ok := a.seen[n]; ok && now.Sub(t.at) <= nonceWindow && len(a.seen) < maxNonces {
			break
		}
		delete(a.seen, n)
		a.order[a.oldest] = ""
		a.oldest++
	}
	if a.oldest > len(a.order)/2 { // compact, so order does not grow without bound
		a.order = append(a.order[:0], a.order[a.oldest:]...)
		a.oldest = 0
	}
	if t, ok := a.seen[nonce]; ok && now.Sub(t.at) <= nonceWindow {
		return t.host == host && now.Sub(t.at) <= tokenReuse
	}
	a.seen[nonce] = acceptedToken{at: now, host: host}
	a.order = append(a.order, nonce)
	return true
}

// parseCreated reads wsu:Created: xsd:dateTime, which clients write with or without
// fractional seconds and with Z or an offset.
func parseCreated(s string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err == nil {
		return t, nil
	}
	// Without a zone (seen from some clients): read as UTC, which ONVIF asks for.
	if t2, err2 := time.Parse("2006-01-02T15:04:05.999999999", s); err2 == nil {
		return t2, nil
	}
	return time.Time{}, err
}

func constEq(a, b string) bool { return subtle.ConstantTimeCompare([]byte(a), []byte(b)) == 1 }
