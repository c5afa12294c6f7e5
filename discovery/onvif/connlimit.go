package onvif

import (
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/camerad/camerad/rtspsrv/warnlimit"
)

// Connection limits of the HTTP service. ONVIF clients use one or two connections at a time
// (libonvif one per request; Home Assistant's a keep-alive pair); an NVR polling a few
// cameras stays far below.
const (
	maxConns        = 64
	maxConnsPerHost = 8
)

// limitListener closes at once a connection beyond maxConns in all or maxConnsPerHost from
// one address. net/http has no such limit: one host opening connections and holding them
// (each for up to the idle timeout) would otherwise keep everyone else out, or eat the
// memory of a camera with little to spare.
type limitListener struct {
	net.Listener
	log *slog.Logger

	mu     sync.Mutex
	total  int
	byHost map[string]int
	warn   warnlimit.Limiter
}

func newLimitListener(ln net.Listener, log *slog.Logger) *limitListener {
	return &limitListener{Listener: ln, log: log, byHost: make(map[string]int), warn: warnlimit.Limiter{Interval: logInterval}}
}

// Accept returns the next connection within the limits; those beyond are closed here.
func (l *limitListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		host := c.RemoteAddr().String()
		if a, ok := c.RemoteAddr().(*net.TCPAddr); ok {
			host = a.IP.String()
		}
		if why := l.acquire(host); why != "" {
			c.Close()
			if ok, skipped := l.warn.Allow(time.Now()); ok {
				l.log.Warn("onvif: connection refused: "+why, "remote", host, "held_back", skipped)
			}
			continue
		}
		return &limitedConn{Conn: c, release: func() { l.release(host) }}, nil
	}
}

// acquire takes a slot for host; it says why not when none is left.
func (l *limitListener) acquire(host string) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	switch {
	case l.byHost[host] >= maxConnsPerHost:
		return "too many connections from this host"
	case l.total >= maxConns:
		return "too many connections"
	}
	l.byHost[host]++
	l.total++
	return ""
}

func (l *limitListener) release(host string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.total--
	if l.byHost[host]--; l.byHost[host] <= 0 {
		delete(l.byHost, host)
	}
}

// limitedConn gives its slot back when closed, once however often Close is called.
type limitedConn struct {
	net.Conn
	once    sync.Once
	release func()
}

func (c *limitedConn) Close() error {
	err := c.Conn.Close()
	c.once.Do(c.release)
	return err
}

// NetConn returns the connection underneath, as tls.Conn's does: a handler that takes the
// connection over (the live view) writes to it directly, with writev. Closing stays this
// wrapper's, so that the slot is given back.
func (c *limitedConn) NetConn() net.Conn { return c.Conn }
