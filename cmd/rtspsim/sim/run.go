package sim

import (
	"context"
	"io"
	"sync"
	"time"

	"github.com/camerad/camerad/cmd/rtspsim/internal/rtsp"
)

// Progress is a snapshot for the progress line of a long run.
type Progress struct {
	Elapsed    time.Duration
	Sessions   int // requested
	Active     int // playing now
	Finished   int
	Failed     int
	Packets    uint64
	Lost       uint64
	Frames     uint64
	Bytes      uint64
	Violations int
}

// Run plays cfg.URL with cfg.Sessions viewers and returns the report. The error is only for
// a config that cannot run; failed sessions and violations are in the report (see
// Report.Failed).
func Run(ctx context.Context, cfg Config) (*Report, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	clean, user, pass, _ := rtsp.SplitUserInfo(c.URL)
	if c.Dialog != nil {
		c.Dialog = &lockedWriter{w: c.Dialog}
	}
	start := time.Now()
	var stopAt time.Time
	if c.Duration > 0 {
		stopAt = start.Add(c.Ramp + c.Duration)
	}

	sessions := make([]*session, c.Sessions)
	for i := range sessions {
		sessions[i] = newSession(i+1, &c, clean, user, pass)
	}

	bgCtx, stopBg := context.WithCancel(context.Background())
	var bg sync.WaitGroup
	sampler := newSampler(c.PID, c.SampleEvery)
	bg.Go(func() { sampler.run(bgCtx) })
	if c.Progress != nil {
		bg.Go(func() { progressLoop(bgCtx, &c, start, sessions) })
	}

	results := make([]SessionResult, len(sessions))
	var wg sync.WaitGroup
	for i, s := range sessions {
		delay := time.Duration(0)
		if c.Sessions > 1 {
			delay = c.Ramp * time.Duration(i) / time.Duration(c.Sessions)
		}
		wg.Go(func() {
			if delay > 0 {
				t := time.NewTimer(delay)
				defer t.Stop()
				select {
				case <-t.C:
				case <-ctx.Done():
					results[i] = SessionResult{ID: s.id, Error: "not started: run stopped during the ramp"}
					return
				}
			}
			results[i] = s.run(ctx, stopAt)
		})
	}
	wg.Wait()
	end := time.Now()
	stopBg()
	bg.Wait()
	if c.Progress != nil {
		c.Progress(snapshot(&c, start, sessions))
	}
	return buildReport(&c, clean, start, end, results, sampler), nil
}

func progressLoop(ctx context.Context, c *Config, start time.Time, sessions []*session) {
	tk := time.NewTicker(c.ProgressEvery)
	defer tk.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tk.C:
			c.Progress(snapshot(c, start, sessions))
		}
	}
}

func snapshot(c *Config, start time.Time, sessions []*session) Progress {
	p := Progress{Elapsed: time.Since(start), Sessions: c.Sessions}
	for _, s := range sessions {
		switch s.state.Load() {
		case stateRunning:
			p.Active++
		case stateDone:
			p.Finished++
		case stateFailed:
			p.Finished++
			p.Failed++
		}
		if s.state.Load() == statePending {
			continue
		}
		p.Violations += s.findings.total()
		for _, t := range s.trackList() {
			sn := t.snapshot()
			p.Packets += sn.packets
			p.Lost += sn.lost
			p.Frames += sn.frames
			p.Bytes += sn.bytes
		}
	}
	return p
}

// lockedWriter keeps dialog messages of concurrent sessions whole.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
