package rtspsrv

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"time"
)

// RTSP over TLS ("rtsps://"). A TLS listener feeds the same handler, stream, auth, session
// table and viewer limits as the plain one; what differs is kept here:
//
//   - the handshake runs on the connection's own goroutine, bounded by RequestTimeout, so a
//     client that stops mid-handshake (or a port scanner) holds nothing for long and never
//     delays Accept;
//   - a tls.Conn is not a syscall.Conn: the non-blocking writev path (writevOnce) does not
//     apply, and every frame goes through the session's writer goroutine as one blocking
//     Write under WriteTimeout, which still drops a stuck viewer (see writeGathered);
//   - media is TCP-interleaved only (see setup): RTP over UDP beside an encrypted control
//     connection would send the picture in the clear while the URL promises otherwise.

// ServeTLS accepts connections on ln and speaks RTSP over TLS with cfg (which must hold a
// certificate) until Close. It returns nil after Close. Call it beside Serve to offer both.
func (s *Server) ServeTLS(ln net.Listener, cfg *tls.Config) error {
	if cfg == nil || len(cfg.Certificates) == 0 && cfg.GetCertificate == nil && cfg.GetConfigForClient == nil {
		ln.Close()
		return errors.New("serve rtsps: TLS config has no certificate")
	}
	cfg = cfg.Clone()
	if cfg.MinVersion < tls.VersionTLS12 {
		cfg.MinVersion = tls.VersionTLS12
	}
	return s.serve(ln, cfg)
}

// handshake completes the TLS handshake within RequestTimeout, the time a plain connection
// gets for its first request. Both directions are bounded: a client that never reads the
// server's flight must not hold the goroutine either.
func (c *conn) handshake() error {
	_ = c.raw.SetDeadline(time.Now().Add(c.srv.cfg.RequestTimeout))
	err := c.tls.Handshake()
	_ = c.raw.SetDeadline(time.Time{})
	if err != nil {
		return fmt.Errorf("tls handshake: %w", err)
	}
	st := c.tls.ConnectionState()
	c.log.Debug("tls handshake done", "version", tls.VersionName(st.Version), "cipher", tls.CipherSuiteName(st.CipherSuite))
	return nil
}

// tlsGatherSize bounds the buffer a TLS connection gathers a frame's packets in: 64 KB makes
// four full records per Write, and a keyframe bigger than that takes a few Writes rather than
// a per-connection buffer as big as the largest frame ever sent.
const tlsGatherSize = 64 << 10

// writeGathered writes bufs (consumed) through a TLS connection. net.Buffers.WriteTo would
// call Write once per buffer, and tls.Conn makes at least one record per Write: one for each
// 4-byte '$' header and each packet. Copying the frame into one buffer makes full records
// instead; the buffer is the connection's and is reused, so steady state allocates nothing.
// The caller holds writeMu and has set the write deadline.
func (c *conn) writeGathered(bufs *net.Buffers) error {
	if c.gather == nil {
		c.gather = make([]byte, 0, tlsGatherSize)
	}
	for len(*bufs) > 0 {
		g := c.gather[:0]
		n := 0
		for _, b := range *bufs {
			if len(g) > 0 && len(g)+len(b) > cap(g) {
				break
			}
			g = append(g, b...) // a single buffer above the cap grows g once; it is kept
			n++
		}
		c.gather = g[:0]
		if _, err := c.nc.Write(g); err != nil {
			return err
		}
		clear((*bufs)[:n]) // no references into the frame kept
		*bufs = (*bufs)[n:]
	}
	return nil
}
