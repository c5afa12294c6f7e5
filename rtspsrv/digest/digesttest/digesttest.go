// Package digesttest is the client's side of Digest authentication, for tests of servers that
// use package digest: computed apart from that package, so that a mistake there does not cancel
// out.
package digesttest

import (
	"crypto/md5"
	"encoding/hex"
	"fmt"
)

// cnonce and nc are the client nonce and nonce count that answers with qop carry.
const (
	cnonce = "0a4f113b"
	nc     = "00000001"
)

// Response is a client's response (RFC 7616 §3.4.1) for user and pass, realm and nonce, to a
// request of method for uri; qop "" is RFC 2069's form, which RTSP players send.
func Response(user, realm, pass, method, uri, nonce, qop string) string {
	h := func(s string) string { sum := md5.Sum([]byte(s)); return hex.EncodeToString(sum[:]) }
	ha1, ha2 := h(user+":"+realm+":"+pass), h(method+":"+uri)
	if qop == "" {
		return h(ha1 + ":" + nonce + ":" + ha2)
	}
	return h(ha1 + ":" + nonce + ":" + nc + ":" + cnonce + ":" + qop + ":" + ha2)
}

// Authorization is the whole Authorization header value with that response.
func Authorization(user, realm, pass, method, uri, nonce, qop string) string {
	if qop == "" {
		return fmt.Sprintf(`Digest username="%s", realm="%s", nonce="%s", uri="%s", response="%s"`,
			user, realm, nonce, uri, Response(user, realm, pass, method, uri, nonce, ""))
	}
	return fmt.Sprintf(`Digest username="%s", realm="%s", nonce="%s", uri="%s", qop=%s, nc=%s, cnonce="%s", response="%s", algorithm=MD5`,
		user, realm, nonce, uri, qop, nc, cnonce, Response(user, realm, pass, method, uri, nonce, qop))
}
