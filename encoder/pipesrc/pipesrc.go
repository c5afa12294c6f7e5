// Package pipesrc reads H.264 (Annex-B) from a child process's stdout, such as
// `rpicam-vid -t 0 --inline -o -` on Raspberry Pi OS, or from camerad's own stdin, and
// publishes it as access units. The child is supervised: restarted with exponential backoff
// when it exits, its process group killed when the source stops.
package pipesrc

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"os/exec"
	"time"

	"github.com/camerad/camerad/encoder"
)

// Defaults for the zero values of Config.
const (
	DefaultMinBackoff  = 500 * time.Millisecond
	DefaultMaxBackoff  = 30 * time.Second
	DefaultMaxUnitSize = 4 << 20
	DefaultSilence     = 10 * time.Second
)

// Config describes where the stream comes from.
type Config struct {
	// Command is the child's argv; nil reads Stdin instead.
	Command []string
	// Stdin is the input when Command is nil; nil means os.Stdin. Run can only interrupt a
	// blocked read on inputs with SetReadDeadline (pipes, sockets); on others it returns at
	// the next read.
	Stdin io.Reader
	// FPS is the nominal frame rate, used to space PTS evenly when the stream carries no
	// timing of its own; 0 stamps each unit with its arrival time.
	FPS float64
	// MinBackoff and MaxBackoff bound the delay before restarting a child that exited.
	MinBackoff, MaxBackoff time.Duration
	// MaxUnitSize bounds the bytes one access unit may take; larger units are dropped (and
	// the stream resumes at the next keyframe), so garbage cannot grow memory.
	MaxUnitSize int
	// Silence is how long a child may write nothing before it is ended and restarted
	// (default DefaultSilence); it covers a camera's start-up and the slowest frame rates.
	Silence time.Duration
}

// Source publishes the access units of a pipe. Run must not be called twice at the same time.
type Source struct {
	cfg  Config
	pool *encoder.Pool
	log  *slog.Logger
	now  func() instant
	// killGrace is how long a child gets to exit after SIGTERM; tests shorten it.
	killGrace time.Duration
}

// New checks cfg and fills in its defaults. A command that cannot be found is an error here,
// not a restart loop later.
func New(cfg Config, pool *encoder.Pool, log *slog.Logger) (*Source, error) {
	if pool == nil {
		return nil, errors.New("pipesrc: nil pool")
	}
	if log == nil {
		log = slog.Default()
	}
	if cfg.Command != nil {
		if len(cfg.Command) == 0 || cfg.Command[0] == "" {
			return nil, errors.New("pipesrc: empty command")
		}
		if _, err := exec.LookPath(cfg.Command[0]); err != nil {
			return nil, fmt.Errorf("pipesrc: %w", err)
		}
	} else if cfg.Stdin == nil {
		cfg.Stdin = os.Stdin
	}
	if cfg.FPS < 0 || cfg.FPS > 1000 || math.IsNaN(cfg.FPS) {
		return nil, fmt.Errorf("pipesrc: frame rate %g out of range [0, 1000]", cfg.FPS)
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = DefaultMinBackoff
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = DefaultMaxBackoff
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		return nil, fmt.Errorf("pipesrc: max backoff %v below min backoff %v", cfg.MaxBackoff, cfg.MinBackoff)
	}
	if cfg.MaxUnitSize <= 0 {
		cfg.MaxUnitSize = DefaultMaxUnitSize
	}
	if cfg.Silence <= 0 {
		cfg.Silence = DefaultSilence
	}
	if cfg.MaxUnitSize < 1024 {
		return nil, fmt.Errorf("pipesrc: max unit size %d too small", cfg.MaxUnitSize)
	}
	return &Source{cfg: cfg, pool: pool, log: log, now: systemNow, killGrace: defaultKillGrace}, nil
}

// Run publishes access units until ctx ends (then it returns nil). With a command it
// restarts the child whenever it exits; with stdin, the end of the input is the end of the
// source and Run returns an error wrapping io.EOF.
func (s *Source) Run(ctx context.Context, publish encoder.Publish) error {
	st := newStamper(s.cfg.FPS)
	if s.cfg.Command == nil {
		return s.runStdin(ctx, st, publish)
	}
	b := backoff{min: s.cfg.MinBackoff, max: s.cfg.MaxBackoff}
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	for {
		started := time.Now()
		st.reset()
		s.log.Debug("pipe source: starting child", "command", s.cfg.Command)
		published := false
		res := runChild(ctx, s.cfg.Command, s.killGrace, s.cfg.Silence, func(r io.Reader) error {
			return s.pump(ctx, r, st, func(au *encoder.AccessUnit) {
				published = true
				publish(au)
			})
		})
		if ctx.Err() != nil {
			return nil
		}
		ran := time.Since(started)
		delay := b.after(ran, published)
		attrs := []any{"command", s.cfg.Command, "status", res.status, "ran", ran.Round(time.Millisecond),
			"stderr", res.stderr, "restart_in", delay}
		if res.err != nil {
			attrs = append(attrs, "err", res.err)
		}
		s.log.Warn("pipe source: child exited; restarting", attrs...)
		timer.Reset(delay)
		select {
		case <-ctx.Done():
			timer.Stop()
			return nil
		case <-timer.C:
		}
	}
}

func (s *Source) runStdin(ctx context.Context, st *stamper, publish encoder.Publish) error {
	if d, ok := s.cfg.Stdin.(interface{ SetReadDeadline(time.Time) error }); ok {
		stop := context.AfterFunc(ctx, func() { _ = d.SetReadDeadline(time.Now()) })
		defer stop()
	}
	err := s.pump(ctx, s.cfg.Stdin, st, publish)
	if ctx.Err() != nil {
		return nil
	}
	if err == nil {
		err = io.EOF
	}
	return fmt.Errorf("pipesrc: stdin: %w", err)
}

// pump publishes the units read from r until r ends (io.EOF), fails, or ctx ends.
func (s *Source) pump(ctx context.Context, r io.Reader, st *stamper, publish encoder.Publish) error {
	ur := newUnitReader(r, s.cfg.MaxUnitSize, s.now, s.log)
	p := newPublisher(s.pool, s.log, st)
	defer func() {
		if ur.garbage > 0 || ur.oversized > 0 {
			s.log.Warn("pipe source: input had bytes that were not H.264", "garbage_bytes", ur.garbage, "oversized_units", ur.oversized)
		}
	}()
	for {
		u, err := ur.next()
		if err != nil {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if ur.takeLost() {
			p.resync()
		}
		p.publish(u, publish)
	}
}

var _ encoder.Source = (*Source)(nil)
