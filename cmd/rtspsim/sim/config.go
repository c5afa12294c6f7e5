// Package sim plays an RTSP URL the way real players do, with one or many concurrent
// sessions, and measures what a viewer experiences: time to first packet and first
// keyframe, frame rate, bitrate, loss, jitter, glass-to-glass latency, and every protocol
// slip it sees on the way. cmd/rtspsim is a thin command line around Run; scripts and tests
// can call Run directly.
package sim

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/camerad/camerad/cmd/rtspsim/internal/rtsp"
)

// Transport is how media reaches the client.
type Transport string

// Transports a session can ask for in SETUP.
const (
	UDP       Transport = "udp"       // RTP/AVP;unicast;client_port=a-b
	TCP       Transport = "tcp"       // RTP/AVP/TCP;unicast;interleaved=a-b
	Multicast Transport = "multicast" // RTP/AVP;multicast
)

// ParseTransport accepts the names of the -transport flag.
func ParseTransport(s string) (Transport, error) {
	switch t := Transport(s); t {
	case UDP, TCP, Multicast:
		return t, nil
	}
	return "", fmt.Errorf("transport %q: want udp, tcp or multicast", s)
}

// Config describes a run. The zero values of optional fields pick the defaults noted.
type Config struct {
	// URL to play, rtsp://[user:pass@]host[:port]/path.
	URL string
	// Sessions is the number of concurrent viewers (default 1).
	Sessions int
	// Transport is the media transport (default UDP).
	Transport Transport
	// Ramp spreads session starts evenly over this duration (0: all at once).
	Ramp time.Duration
	// Duration is how long every session keeps playing after the ramp; all sessions stop
	// together at Ramp+Duration. 0 plays until the context is canceled.
	Duration time.Duration
	// Timeout bounds each RTSP exchange, the wait for the first RTP packet, and the wait for
	// the first keyframe (default 10s).
	Timeout time.Duration
	// KeepAlive overrides the keep-alive interval (default: half the session timeout the
	// server announces, 30s when it announces none).
	KeepAlive time.Duration
	// ReceiverReports is the RTCP receiver report interval (default 5s; negative: never).
	ReceiverReports time.Duration
	// RTPTimeSlack is how far RTP-Info's rtptime may lie before the first packet's
	// timestamp. RFC 2326 maps rtptime to the start of the play range, and a live server
	// may start the range a moment before the first frame it sends (gortsplib and mediamtx
	// do); camerad promises an exact match, which a negative value demands. A rtptime after
	// the first packet is always a violation. Default 500ms.
	RTPTimeSlack time.Duration
	// PID, when non-zero, is a local server process whose CPU and memory are sampled.
	PID int
	// SampleEvery is the CPU/RSS sampling interval (default 1s).
	SampleEvery time.Duration
	// Dialog receives the RTSP dialog of every session as text (the -v output).
	Dialog io.Writer
	// Progress, when set, is called every ProgressEvery (default 1s) during the run.
	Progress      func(Progress)
	ProgressEvery time.Duration
	// UserAgent is sent with every request (default "rtspsim").
	UserAgent string
	// Logger receives debug logs (default: discarded).
	Logger *slog.Logger
}

func (c *Config) withDefaults() (Config, error) {
	out := *c
	if out.Sessions == 0 {
		out.Sessions = 1
	}
	if out.Sessions < 0 {
		return out, errors.New("sessions must be positive")
	}
	if out.Transport == "" {
		out.Transport = UDP
	}
	if _, err := ParseTransport(string(out.Transport)); err != nil {
		return out, err
	}
	if out.Ramp < 0 || out.Duration < 0 {
		return out, errors.New("ramp and duration must not be negative")
	}
	if out.Timeout <= 0 {
		out.Timeout = 10 * time.Second
	}
	if out.RTPTimeSlack == 0 {
		out.RTPTimeSlack = 500 * time.Millisecond
	}
	if out.ReceiverReports == 0 {
		out.ReceiverReports = 5 * time.Second
	}
	if out.SampleEvery <= 0 {
		out.SampleEvery = time.Second
	}
	if out.ProgressEvery <= 0 {
		out.ProgressEvery = time.Second
	}
	if out.UserAgent == "" {
		out.UserAgent = "rtspsim"
	}
	if out.Logger == nil {
		out.Logger = slog.New(slog.DiscardHandler)
	}
	if _, _, _, err := rtsp.SplitUserInfo(out.URL); err != nil {
		return out, err
	}
	return out, nil
}
