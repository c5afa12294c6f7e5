// Package webpage is the page a browser gets from the camera, at http://<name>.local/ (the
// ONVIF listener's other paths): the camera's identity, the stream's address ready to paste
// into VLC, ffplay, Frigate or Home Assistant, the picture's settings and who is watching;
// and the same as JSON at /status.json for scripts and Home Assistant's REST sensors.
//
// With a username set, a visitor who has not logged in sees only the camera's name and
// addresses, which mDNS and WS-Discovery announce anyway: the rest would tell a stranger on
// the LAN who is watching. /login asks for the username and password (HTTP Digest, which
// browsers, curl and Home Assistant's REST sensors speak, and which does not send the
// password in clear), and /status.json asks for them at once: scripts have no use for the
// name alone.
package webpage

import (
	"embed"
	"encoding/json"
	"html/template"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/camerad/camerad/rtspsrv/digest"
	"github.com/camerad/camerad/rtspsrv/warnlimit"
)

// Config is what the page needs.
type Config struct {
	Status func() Status // called for each request
	// Login, when set, checks the camera's username and password: without them a visitor
	// sees only the name and addresses. nil: everyone sees everything.
	Login *digest.Verifier
	// Live serves /live.mp4, the picture in the page (rtspsrv/livemp4), to visitors who may
	// see everything; nil: no picture.
	Live   http.Handler
	Logger *slog.Logger // nil = slog.Default()
	Now    func() time.Time
}

//go:embed page.html
var pageFS embed.FS

var pageTemplate = template.Must(template.New("page.html").Funcs(template.FuncMap{
	"megabytes": func(b uint64) string { return strconv.FormatFloat(float64(b)/1e6, 'f', 1, 64) },
	"percent":   func(f float64) string { return strconv.FormatFloat(f*100, 'f', 1, 64) },
	"ms":        func(f float64) string { return strconv.FormatFloat(f, 'f', 1, 64) },
	"mbits":     func(b int) string { return strconv.FormatFloat(float64(b)/1e6, 'f', 1, 64) },
	// withLogin puts login after a URL's scheme.
	"withLogin": func(url, login string) string { return strings.Replace(url, "://", "://"+login, 1) },
}).ParseFS(pageFS, "page.html"))

// Handler serves the page and its JSON.
type Handler struct {
	cfg       Config
	log       *slog.Logger
	now       func() time.Time
	loginWarn warnlimit.Limiter // wrong passwords, at most one line per 10 s
}

// New makes the page's handler.
func New(cfg Config) *Handler {
	h := &Handler{cfg: cfg, log: cfg.Logger, now: cfg.Now, loginWarn: warnlimit.Limiter{Interval: 10 * time.Second}}
	if h.log == nil {
		h.log = slog.Default()
	}
	if h.now == nil {
		h.now = time.Now
	}
	return h
}

// ServeHTTP answers GET and HEAD of / (HTML), /status.json, /login and /live.mp4.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	live := r.URL.Path == "/live.mp4" && h.cfg.Live != nil
	if r.URL.Path != "/" && r.URL.Path != "/status.json" && r.URL.Path != "/login" && !live {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "this page is read-only: GET it", http.StatusMethodNotAllowed)
		return
	}
	verdict := h.login(r)
	// Credentials that do not pass are asked for again wherever they come: a browser retries
	// a stale nonce by itself, and asks its user after a wrong password. Without any, only
	// /login, /status.json and /live.mp4 ask.
	if verdict == digest.Wrong || verdict == digest.Stale ||
		verdict == digest.Missing && r.URL.Path != "/" {
		if verdict == digest.Wrong { // as for RTSP and ONVIF: a mistyped password shows in the log
			if ok, skipped := h.loginWarn.Allow(h.now()); ok {
				h.log.Warn("webpage: refused login", "remote", r.RemoteAddr, "user", loginUser(r), "held_back", skipped)
			}
		}
		w.Header().Set("WWW-Authenticate", h.cfg.Login.Challenge(h.now(), verdict == digest.Stale))
		http.Error(w, "log in with the camera's username and password", http.StatusUnauthorized)
		return
	}
	if r.URL.Path == "/login" {
		http.Redirect(w, r, "/", http.StatusSeeOther)
		return
	}
	if live {
		h.cfg.Live.ServeHTTP(w, r)
		return
	}
	v := h.view(r, verdict != digest.OK)
	w.Header().Set("Cache-Control", "no-store") // the figures change from one look to the next
	if r.URL.Path == "/status.json" {
		w.Header().Set("Content-Type", "application/json")
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		if err := enc.Encode(v.json()); err != nil {
			h.log.Debug("webpage: write", "remote", r.RemoteAddr, "err", err)
		}
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := pageTemplate.Execute(w, v); err != nil {
		h.log.Debug("webpage: write", "remote", r.RemoteAddr, "err", err)
	}
}

// view is one request's page: the status and the addresses as this browser reached the
// camera.
type view struct {
	Status
	Private bool
	Now     time.Time
	Uptime  time.Duration
	// RTSP is the stream's URL with the host the browser used; RTSPByIP the same with the
	// camera's address when that host is a name (.local names do not resolve everywhere,
	// inside Frigate's Docker container for one).
	RTSP, RTSPByIP, RTSPS, ONVIF string
	// Live is the picture's URL for the page's video and for ffplay; empty without one.
	Live string
	// Login is what a player's URL needs before the host: placeholders for the username and
	// password when the stream asks for them.
	Login string
}

// login judges r's credentials: OK when no login is needed.
func (h *Handler) login(r *http.Request) digest.Verdict {
	if h.cfg.Login == nil {
		return digest.OK
	}
	scheme, rest, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	if !strings.EqualFold(scheme, "Digest") {
		return digest.Missing
	}
	return h.cfg.Login.Check(r.Method, digest.ParseParams(rest), h.now())
}

// loginUser is the user r's Digest credentials claim, shortened for the log.
func loginUser(r *http.Request) string {
	_, rest, _ := strings.Cut(r.Header.Get("Authorization"), " ")
	user := digest.ParseParams(rest)["username"]
	if len(user) > 64 {
		user = user[:64] + "…"
	}
	return user
}

// view is the page for r; private: only what strangers may see.
func (h *Handler) view(r *http.Request, private bool) view {
	st := h.cfg.Status()
	now := h.now()
	v := view{Status: st, Private: private, Now: now}
	if !st.Started.IsZero() {
		v.Uptime = now.Sub(st.Started).Round(time.Second)
	}
	ip, port := localAddr(r)
	host := browserHost(r.Host, ip)
	v.RTSP = "rtsp://" + hostPort(host, st.RTSPPort, 554) + st.Path
	if host != ip {
		v.RTSPByIP = "rtsp://" + hostPort(ip, st.RTSPPort, 554) + st.Path
	}
	if st.RTSPSPort != 0 {
		v.RTSPS = "rtsps://" + hostPort(host, st.RTSPSPort, 322) + st.Path
	}
	v.ONVIF = "http://" + hostPort(host, port, 80) + "/onvif/device_service"
	if h.cfg.Live != nil {
		v.Live = "http://" + hostPort(host, port, 80) + "/live.mp4"
	}
	if h.cfg.Login != nil {
		v.Login = "USER:PASSWORD@"
	}
	if private {
		v.Status = Status{Name: st.Name, RTSPPort: st.RTSPPort, RTSPSPort: st.RTSPSPort, Path: st.Path}
		v.Uptime = 0
		v.Live = "" // the picture is for those logged in
	}
	return v
}

// statusJSON is /status.json. Its field names are kept from release to release.
type statusJSON struct {
	Name     string       `json:"name"`
	Model    string       `json:"model,omitempty"`
	Firmware string       `json:"firmware,omitempty"`
	Serial   string       `json:"serial,omitempty"`
	Source   string       `json:"source,omitempty"`
	Time     string       `json:"time,omitempty"`
	UptimeS  int64        `json:"uptime_s,omitempty"`
	Video    *videoJSON   `json:"video,omitempty"`
	URLs     urlsJSON     `json:"urls"`
	Viewers  []viewerJSON `json:"viewers"` // [] when nobody watches
}

type videoJSON struct {
	Codec   string `json:"codec"`
	Profile string `json:"profile,omitempty"`
	Width   int    `json:"width"`
	Height  int    `json:"height"`
	FPS     int    `json:"fps,omitempty"`
	Bitrate int    `json:"bitrate,omitempty"`
	GOP     int    `json:"gop,omitempty"`
}

type urlsJSON struct {
	RTSP      string `json:"rtsp"`
	RTSPByIP  string `json:"rtsp_by_ip,omitempty"`
	RTSPS     string `json:"rtsps,omitempty"`
	ONVIF     string `json:"onvif"`
	Live      string `json:"live,omitempty"`
	Multicast string `json:"multicast,omitempty"`
}

type viewerJSON struct {
	Remote       string  `json:"remote"`
	Transport    string  `json:"transport"`
	Frames       uint64  `json:"frames"`
	Bytes        uint64  `json:"bytes"`
	Dropped      uint64  `json:"dropped_frames"`
	FractionLost float64 `json:"fraction_lost"`
	JitterMS     float64 `json:"jitter_ms"`
}

func (v view) json() statusJSON {
	out := statusJSON{
		Name: v.Name, Model: v.Model, Firmware: v.Firmware, Serial: v.Serial, Source: v.Source,
		Time: v.Now.UTC().Format(time.RFC3339), UptimeS: int64(v.Uptime / time.Second),
		URLs: urlsJSON{RTSP: v.RTSP, RTSPByIP: v.RTSPByIP, RTSPS: v.RTSPS, ONVIF: v.ONVIF, Live: v.Live, Multicast: v.Multicast},
	}
	if v.Video.Width > 0 {
		out.Video = &videoJSON{Codec: "H264", Profile: v.Video.Profile, Width: v.Video.Width, Height: v.Video.Height,
			FPS: v.Video.FPS, Bitrate: v.Video.Bitrate, GOP: v.Video.GOP}
	}
	out.Viewers = []viewerJSON{} // [] rather than null: scripts count it
	for _, vw := range v.Viewers {
		out.Viewers = append(out.Viewers, viewerJSON(vw))
	}
	return out
}

// localAddr is the camera's address and port that the request came in on (IPv6 bracketed);
// "localhost" and 0 when unknown (a handler called without a server).
func localAddr(r *http.Request) (string, int) {
	a, ok := r.Context().Value(http.LocalAddrContextKey).(*net.TCPAddr)
	if !ok || a == nil || a.IP == nil {
		return "localhost", 0
	}
	if ip4 := a.IP.To4(); ip4 != nil {
		return ip4.String(), a.Port
	}
	if a.Zone != "" {
		return "[" + a.IP.String() + "%25" + a.Zone + "]", a.Port
	}
	return "[" + a.IP.String() + "]", a.Port
}

// browserHost is the host part of the request's Host header when it is a plain host name or
// address, which the page then uses in the URLs it shows: the name the user typed works for
// them. Anything else (a header a client made up) gives way to the camera's address.
func browserHost(hostHeader, fallback string) string {
	h := hostHeader
	if host, _, err := net.SplitHostPort(hostHeader); err == nil {
		h = host
	}
	h = strings.TrimSuffix(strings.Trim(h, "[]"), ".")
	if ip := net.ParseIP(h); ip != nil {
		if ip.To4() != nil {
			return ip.String()
		}
		return "[" + ip.String() + "]"
	}
	if !validHostname(h) {
		return fallback
	}
	return h
}

// validHostname: letters, digits and hyphens in dot-separated labels of 1 to 63 bytes, 253
// bytes at most (RFC 1123).
func validHostname(h string) bool {
	if h == "" || len(h) > 253 {
		return false
	}
	for label := range strings.SplitSeq(h, ".") {
		if label == "" || len(label) > 63 || label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
		for _, c := range []byte(label) {
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-') {
				return false
			}
		}
	}
	return true
}

// hostPort joins host and port, leaving out the scheme's default port (as browsers and
// players print URLs).
func hostPort(host string, port, defaultPort int) string {
	if port == 0 || port == defaultPort {
		return host
	}
	return host + ":" + strconv.Itoa(port)
}
