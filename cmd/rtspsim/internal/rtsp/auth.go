package rtsp

import (
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"hash"
	"strings"
)

// Authenticator answers WWW-Authenticate challenges with the credentials from the URL.
// Digest (RFC 2617/7616, MD5 and SHA-256, with or without qop=auth) is preferred over Basic
// when a server offers both, as players do.
type Authenticator struct {
	User, Pass string

	scheme    string // "Basic" or "Digest", empty before a challenge
	realm     string
	nonce     string
	opaque    string
	algorithm string
	qop       string
	nc        int
}

// Challenge takes the WWW-Authenticate values of a 401 answer. It fails when no offered
// scheme is supported.
func (a *Authenticator) Challenge(values []string) error {
	var basic, digest map[string]string
	for _, v := range values {
		scheme, params, _ := strings.Cut(strings.TrimSpace(v), " ")
		switch {
		case strings.EqualFold(scheme, "Digest"):
			digest = parseAuthParams(params)
		case strings.EqualFold(scheme, "Basic"):
			basic = parseAuthParams(params)
		}
	}
	switch {
	case digest != nil:
		alg := digest["algorithm"]
		if alg == "" {
			alg = "MD5"
		}
		if !strings.EqualFold(alg, "MD5") && !strings.EqualFold(alg, "SHA-256") {
			return fmt.Errorf("digest algorithm %q not supported", alg)
		}
		a.scheme, a.realm, a.nonce, a.opaque, a.algorithm = "Digest", digest["realm"], digest["nonce"], digest["opaque"], alg
		a.qop = ""
		for q := range strings.SplitSeq(digest["qop"], ",") {
			if strings.TrimSpace(q) == "auth" {
				a.qop = "auth"
			}
		}
		a.nc = 0
	case basic != nil:
		a.scheme, a.realm = "Basic", basic["realm"]
	default:
		return fmt.Errorf("no supported scheme in WWW-Authenticate %q", values)
	}
	return nil
}

// Ready reports whether a challenge has been accepted, so requests carry Authorization.
func (a *Authenticator) Ready() bool { return a.scheme != "" }

// Authorization returns the Authorization header value for a request.
func (a *Authenticator) Authorization(method, uri string) string {
	if a.scheme == "Basic" {
		return "Basic " + base64.StdEncoding.EncodeToString([]byte(a.User+":"+a.Pass))
	}
	h := func(s string) string {
		var hh hash.Hash
		if strings.EqualFold(a.algorithm, "SHA-256") {
			hh = sha256.New()
		} else {
			hh = md5.New()
		}
		hh.Write([]byte(s))
		return hex.EncodeToString(hh.Sum(nil))
	}
	ha1 := h(a.User + ":" + a.realm + ":" + a.Pass)
	ha2 := h(method + ":" + uri)
	var b strings.Builder
	fmt.Fprintf(&b, `Digest username="%s", realm="%s", nonce="%s", uri="%s"`, a.User, a.realm, a.nonce, uri)
	if a.qop == "auth" {
		a.nc++
		var c [8]byte
		_, _ = rand.Read(c[:])
		cnonce := hex.EncodeToString(c[:])
		nc := fmt.Sprintf("%08x", a.nc)
		resp := h(ha1 + ":" + a.nonce + ":" + nc + ":" + cnonce + ":auth:" + ha2)
		fmt.Fprintf(&b, `, response="%s", qop=auth, nc=%s, cnonce="%s"`, resp, nc, cnonce)
	} else {
		fmt.Fprintf(&b, `, response="%s"`, h(ha1+":"+a.nonce+":"+ha2))
	}
	if a.opaque != "" {
		fmt.Fprintf(&b, `, opaque="%s"`, a.opaque)
	}
	if !strings.EqualFold(a.algorithm, "MD5") {
		fmt.Fprintf(&b, `, algorithm=%s`, a.algorithm)
	}
	return b.String()
}

// parseAuthParams parses `k=v, k="v, with comma"` lists.
func parseAuthParams(s string) map[string]string {
	out := map[string]string{}
	for len(s) > 0 {
		s = strings.TrimLeft(s, " ,\t")
		k, rest, ok := strings.Cut(s, "=")
		if !ok {
			break
		}
		k = strings.ToLower(strings.TrimSpace(k))
		rest = strings.TrimLeft(rest, " ")
		var v string
		if strings.HasPrefix(rest, `"`) {
			end := strings.IndexByte(rest[1:], '"')
			if end < 0 {
				v, s = rest[1:], ""
			} else {
				v, s = rest[1:1+end], rest[2+end:]
			}
		} else {
			v, s, _ = strings.Cut(rest, ",")
			v = strings.TrimSpace(v)
		}
		out[k] = v
	}
	return out
}
