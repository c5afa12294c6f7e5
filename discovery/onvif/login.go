package onvif

import (
	"net/http"
	"strings"
	"time"

	"github.com/camerad/camerad/rtspsrv/digest"
)

// A device takes two logins (ONVIF Core §5.9.1): HTTP Digest on the request, and a
// WS-Security UsernameToken in the SOAP header (auth.go). Home Assistant, go2rtc, libonvif
// and most NVRs send a token; other clients (EdgeX's ONVIF service, scripts on curl or
// Python's requests) send Digest, and only after a 401 challenge. So a request with neither
// is answered 401 with a Digest challenge (and the NotAuthorized fault as its body, which
// token clients read); a wrong token keeps its 400 fault.
const digestRealm = "camerad"

// refusal is how a request that needs a login is turned away.
type refusal struct {
	fault     *soapFault
	challenge string // the WWW-Authenticate header of a 401; "" for a wrong token
	// why is the reason for the log, "" when nothing failed: the client has yet to log in, or
	// its Digest nonce expired.
	why  string
	user string // the user the credentials claim
}

// login checks r, whose body is env, for an operation that needs a login: nil lets it pass.
func (s *Server) login(r *http.Request, env *envelope) *refusal {
	now := s.now()
	if scheme, rest, _ := strings.Cut(r.Header.Get("Authorization"), " "); strings.EqualFold(scheme, "Digest") {
		params := digest.ParseParams(rest)
		switch s.digest.Check(r.Method, params, now) {
		case digest.OK:
			return nil
		case digest.Stale:
			return s.askDigest(now, true, "", params["username"])
		case digest.Wrong:
			return s.askDigest(now, false, "wrong HTTP Digest username or password", params["username"])
		}
		// A nonce of ours from before a restart: judged as no Digest at all.
	}
	if env.token == nil {
		return s.askDigest(now, false, "", "")
	}
	if why := s.auth.check(env.token, remoteHost(r), now); why != "" {
		return &refusal{fault: errNotAuthorized(), why: why, user: tokenUser(env.token)}
	}
	return nil
}

// askDigest is a 401 with a fresh Digest challenge.
func (s *Server) askDigest(now time.Time, stale bool, why, user string) *refusal {
	f := errNotAuthorized()
	f.status = http.StatusUnauthorized
	return &refusal{fault: f, challenge: s.digest.Challenge(now, stale), why: why, user: user}
}

// refuse answers a request for operation that login turned away, and logs a failed login.
func (s *Server) refuse(w http.ResponseWriter, r *http.Request, soapNS, operation string, ref *refusal) {
	if ref.why == "" {
		s.log.Debug("onvif: login asked for", "remote", r.RemoteAddr, "operation", truncate(operation, 64))
	} else if ok, skipped := s.authWarn.Allow(s.now()); ok {
		s.log.Warn("onvif: refused credentials", "remote", r.RemoteAddr, "operation", truncate(operation, 64),
			"user", truncate(ref.user, 64), "reason", ref.why, "held_back", skipped)
	}
	if ref.challenge != "" {
		w.Header().Set("WWW-Authenticate", ref.challenge)
	}
	s.writeFault(w, soapNS, ref.fault)
}
