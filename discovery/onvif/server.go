package onvif

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/camerad/camerad/rtspsrv/digest"
	"github.com/camerad/camerad/rtspsrv/warnlimit"
)

// MediaPath is where the media service answers; GetCapabilities and GetServices point there.
const MediaPath = "/onvif/media_service"

// StreamInfo is what the RTSP server is serving now, as the media service describes it.
type StreamInfo struct {
	Width, Height int
	FPS           int    // frames per second, 0 unknown
	Bitrate       int    // bit/s, 0 unknown
	GOP           int    // frames between keyframes, 0 unknown
	Profile       string // H.264 profile as ONVIF names it: "Baseline", "Main", "Extended" or "High"; "" unknown
}

// Config is what the ONVIF services need to know.
type Config struct {
	Device    Device
	RTSPPort  int               // port in stream URIs
	RTSPPath  string            // e.g. "/stream"
	Stream    func() StreamInfo // what is being served now; called per request
	Multicast bool              // the RTSP server serves RTP/AVP;multicast
	// Username and Password, when both are set, are required (by HTTP Digest or in a
	// WS-Security UsernameToken, see login.go) by every operation except the few that
	// clients need before they can authenticate.
	Username, Password string
	// Page answers requests for other paths (the camera's web page); nil: 404. It shares
	// the services' connection limits and timeouts.
	Page   http.Handler
	Logger *slog.Logger     // nil = slog.Default()
	Now    func() time.Time // nil = time.Now (tests set it)
}

// Limits and timeouts of the HTTP server. ONVIF requests and answers are a few KB and come
// from the LAN: anything slower is a stuck or hostile client holding a connection.
const (
	readHeaderTimeout = 5 * time.Second
	readTimeout       = 10 * time.Second
	writeTimeout      = 10 * time.Second
	idleTimeout       = 60 * time.Second
	maxHeaderBytes    = 16 << 10
	shutdownTimeout   = 2 * time.Second
	logInterval       = 10 * time.Second
)

// Server answers the ONVIF device and media services over HTTP.
type Server struct {
	cfg    Config
	log    *slog.Logger
	now    func() time.Time
	auth   *authenticator   // nil: no credentials required
	digest *digest.Verifier // HTTP Digest, with auth

	ops map[opKey]operation

	// interfaces lists the network interfaces for GetNetworkInterfaces (tests replace it).
	interfaces func() ([]netInterface, error)

	authWarn    warnlimit.Limiter // refused credentials
	refusedWarn warnlimit.Limiter // refused or unknown operations
}

// opKey names an operation by its namespace and local name, as the Body's element does.
type opKey struct{ ns, name string }

type operation func(c *call) (string, *soapFault)

// call is one request on its way through an operation.
type call struct {
	s   *Server
	r   *http.Request
	env *envelope
}

// NewServer checks cfg and makes a Server.
func NewServer(cfg Config) (*Server, error) {
	if cfg.RTSPPort <= 0 || cfg.RTSPPort > 65535 {
		return nil, fmt.Errorf("onvif: Config.RTSPPort %d: want 1-65535", cfg.RTSPPort)
	}
	if !strings.HasPrefix(cfg.RTSPPath, "/") {
		return nil, fmt.Errorf("onvif: Config.RTSPPath %q: want an absolute path such as /stream", cfg.RTSPPath)
	}
	if cfg.Stream == nil {
		return nil, errors.New("onvif: Config.Stream is nil")
	}
	if (cfg.Username == "") != (cfg.Password == "") {
		return nil, errors.New("onvif: Config.Username and Config.Password: set both or neither")
	}
	s := &Server{
		cfg:         cfg,
		log:         cfg.Logger,
		now:         cfg.Now,
		interfaces:  systemInterfaces,
		authWarn:    warnlimit.Limiter{Interval: logInterval},
		refusedWarn: warnlimit.Limiter{Interval: logInterval},
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	if s.now == nil {
		s.now = time.Now
	}
	if cfg.Username != "" {
		s.auth = newAuthenticator(cfg.Username, cfg.Password)
		s.digest = digest.New(cfg.Username, cfg.Password, digestRealm)
	}
	s.ops = make(map[opKey]operation)
	for name, op := range deviceOps() {
		s.ops[opKey{nsDevice, name}] = op
	}
	for name, op := range mediaOps() {
		s.ops[opKey{nsMedia, name}] = op
	}
	return s, nil
}

// Serve answers HTTP on ln until ctx ends, then shuts down gracefully (briefly: ONVIF
// requests are short) and returns nil.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{
		Handler:           s,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelDebug),
		BaseContext:       func(net.Listener) context.Context { return ctx },
	}
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(newLimitListener(ln, s.log)) }()
	select {
	case err := <-errc:
		return fmt.Errorf("onvif: serve http on %s: %w", ln.Addr(), err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := hs.Shutdown(sctx); err != nil {
		hs.Close()
	}
	<-errc
	return nil
}

// ServeHTTP answers one SOAP request, or hands another path to Config.Page.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	isDevice := strings.HasSuffix(r.URL.Path, "/device_service")
	isMedia := strings.HasSuffix(r.URL.Path, "/media_service")
	if !isDevice && !isMedia {
		if s.cfg.Page != nil {
			s.cfg.Page.ServeHTTP(w, r)
			return
		}
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		http.Error(w, "ONVIF services take SOAP requests by POST", http.StatusMethodNotAllowed)
		return
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxEnvelope))
	if err != nil {
		soapNS := sniffSOAPVersion(data)
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			f := senderFault(fmt.Sprintf("request larger than %d bytes", maxEnvelope))
			f.status = http.StatusRequestEntityTooLarge
			s.writeFault(w, soapNS, f)
			return
		}
		s.log.Debug("onvif: read request", "remote", r.RemoteAddr, "err", err)
		s.writeFault(w, soapNS, senderFault("cannot read the request"))
		return
	}
	if len(data) == 0 && s.auth != nil {
		// curl and other Digest clients post nothing until challenged, so as not to send the
		// body twice: they need the 401, not a complaint about the empty body.
		if ref := s.login(r, &envelope{}); ref != nil {
			s.refuse(w, r, sniffSOAPVersion(data), "", ref)
			return
		}
	}
	env, err := parseEnvelope(data)
	if err != nil {
		s.log.Debug("onvif: bad request", "remote", r.RemoteAddr, "err", err)
		s.writeFault(w, sniffSOAPVersion(data), senderFault("not a SOAP envelope: "+truncate(err.Error(), 200)))
		return
	}
	name := env.body.XMLName.Local
	op := s.lookup(env.body.XMLName.Space, name, isMedia)
	if s.auth != nil && !preAuth(name) {
		if ref := s.login(r, env); ref != nil {
			s.refuse(w, r, env.soapNS, name, ref)
			return
		}
	}
	if op == nil {
		if ok, skipped := s.refusedWarn.Allow(s.now()); ok {
			s.log.Info("onvif: refused operation", "remote", r.RemoteAddr,
				"operation", truncate(env.body.XMLName.Space+" "+name, 160), "held_back", skipped)
		}
		s.writeFault(w, env.soapNS, errActionNotSupported(truncate(name, 64)))
		return
	}
	body, f := op(&call{s: s, r: r, env: env})
	if f != nil {
		s.log.Debug("onvif: fault", "remote", r.RemoteAddr, "operation", name, "reason", f.reason)
		s.writeFault(w, env.soapNS, f)
		return
	}
	s.log.Debug("onvif: answered", "remote", r.RemoteAddr, "operation", name)
	s.write(w, env.soapNS, http.StatusOK, body)
}

// lookup finds the operation for the Body's element. The namespace decides, not the path:
// some clients post every operation to the device service's address. An element in no
// known namespace is looked up in the service of the path it was posted to.
func (s *Server) lookup(ns, name string, mediaPath bool) operation {
	if op, ok := s.ops[opKey{ns, name}]; ok {
		return op
	}
	if ns == nsDevice || ns == nsMedia {
		return nil
	}
	if ns == "" {
		if mediaPath {
			return s.ops[opKey{nsMedia, name}]
		}
		return s.ops[opKey{nsDevice, name}]
	}
	return nil
}

func tokenUser(tok *usernameToken) string {
	if tok == nil {
		return ""
	}
	return tok.username
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "..."
	}
	return s
}

// sniffSOAPVersion guesses the SOAP version of a request that could not be parsed, so that
// even its fault comes in a version the client reads.
func sniffSOAPVersion(data []byte) string {
	if bytes.Contains(data, []byte(nsSOAP11)) && !bytes.Contains(data, []byte(nsSOAP12)) {
		return nsSOAP11
	}
	return nsSOAP12
}

func (s *Server) writeFault(w http.ResponseWriter, soapNS string, f *soapFault) {
	s.write(w, soapNS, f.httpStatus(soapNS), f.body(soapNS))
}

// write sends an envelope with body. Content-Length is always set: libonvif reads the answer
// by its Content-Length and cannot read a chunked one.
func (s *Server) write(w http.ResponseWriter, soapNS string, status int, body string) {
	var buf bytes.Buffer
	_ = writeEnvelope(&buf, soapNS, "", body) // a bytes.Buffer does not fail
	ct := "application/soap+xml; charset=utf-8"
	if soapNS == nsSOAP11 {
		ct = "text/xml; charset=utf-8"
	}
	h := w.Header()
	h.Set("Content-Type", ct)
	h.Set("Content-Length", strconv.Itoa(buf.Len()))
	w.WriteHeader(status)
	if _, err := w.Write(buf.Bytes()); err != nil {
		s.log.Debug("onvif: write answer", "err", err)
	}
}

// localHostPort is the address the request arrived on: the host (IPv6 in brackets, zone
// escaped for a URL) and port that URIs given back to the client use, so that they work on
// whichever network the client reached the camera by. Without it (a handler called
// directly), the Host header stands in.
func (c *call) localHostPort() (host string, port int) {
	if a, ok := c.r.Context().Value(http.LocalAddrContextKey).(*net.TCPAddr); ok && a != nil && a.IP != nil {
		return urlHost(a.IP, a.Zone), a.Port
	}
	h, p, err := net.SplitHostPort(c.r.Host)
	if err != nil {
		h, p = c.r.Host, "80"
	}
	port, _ = strconv.Atoi(p)
	h = strings.Trim(h, "[]")
	if ip := net.ParseIP(h); ip != nil {
		return urlHost(ip, ""), port
	}
	if h == "" {
		h = "localhost"
	}
	return h, port
}

func urlHost(ip net.IP, zone string) string {
	if ip4 := ip.To4(); ip4 != nil {
		return ip4.String()
	}
	if zone != "" {
		return "[" + ip.String() + "%25" + zone + "]"
	}
	return "[" + ip.String() + "]"
}

// xaddr is the http:// address of the service at path, as the client reached the camera.
func (c *call) xaddr(path string) string {
	host, port := c.localHostPort()
	return "http://" + host + ":" + strconv.Itoa(port) + path
}

// remoteHost is the address of the request's client, without its port: a client opens a new
// connection, from a new port, for each request.
func remoteHost(r *http.Request) string {
	if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
		return host
	}
	return r.RemoteAddr
}
