package sim

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"github.com/camerad/camerad/cmd/rtspsim/internal/stats"
)

// Report is the outcome of a run; its JSON field names are stable (scripts parse them).
type Report struct {
	URL                string    `json:"url"`
	Transport          Transport `json:"transport"`
	SessionsRequested  int       `json:"sessions_requested"`
	RampMS             float64   `json:"ramp_ms"`
	DurationMS         float64   `json:"duration_ms"`
	StartedAt          time.Time `json:"started_at"`
	ElapsedMS          float64   `json:"elapsed_ms"`
	SessionsStarted    int       `json:"sessions_started"`
	SessionsOK         int       `json:"sessions_ok"`
	SessionsFailed     int       `json:"sessions_failed"`
	SessionsWithIssues int       `json:"sessions_with_violations"`
	Aggregate          Aggregate `json:"aggregate"`
	// Violations sums the findings of all sessions by kind.
	Violations []Finding       `json:"violations"`
	Server     *ProcessReport  `json:"server,omitempty"`
	Self       *ProcessReport  `json:"self"`
	Sessions   []SessionResult `json:"sessions"`
}

// Aggregate holds distributions across sessions (one sample per session that measured
// the figure) and totals. Latency is across all frames of all sessions.
type Aggregate struct {
	SetupMS               stats.Summary `json:"setup_ms"`
	TimeToFirstPacketMS   stats.Summary `json:"time_to_first_packet_ms"`
	TimeToFirstKeyframeMS stats.Summary `json:"time_to_first_keyframe_ms"`
	FPS                   stats.Summary `json:"fps"`
	BitrateKbps           stats.Summary `json:"bitrate_kbps"`
	LossPercent           stats.Summary `json:"loss_percent"`
	JitterMS              stats.Summary `json:"jitter_ms"`
	AUsBeforeKeyframe     stats.Summary `json:"aus_before_keyframe"`
	LatencyMS             stats.Summary `json:"latency_ms"`
	Packets               uint64        `json:"packets"`
	PacketsLost           uint64        `json:"packets_lost"`
	Frames                uint64        `json:"frames"`
	DamagedFrames         uint64        `json:"damaged_frames"`
	TotalBitrateKbps      float64       `json:"total_bitrate_kbps"`
}

// Failed reports whether the run should exit non-zero: a session failed or a check was
// violated.
func (r *Report) Failed() bool { return r.SessionsFailed > 0 || len(r.Violations) > 0 }

func buildReport(c *Config, url string, start, end time.Time, results []SessionResult, smp *sampler) *Report {
	r := &Report{
		URL: url, Transport: c.Transport, SessionsRequested: c.Sessions,
		RampMS: ms(c.Ramp), DurationMS: ms(c.Duration), StartedAt: start, ElapsedMS: ms(end.Sub(start)),
		Sessions: results,
	}
	var setup, ttfp, ttfk, fps, rate, loss, jitter, before, latency []float64
	byKind := map[string]*Finding{}
	for _, s := range results {
		if !s.Started {
			continue
		}
		r.SessionsStarted++
		if s.OK {
			r.SessionsOK++
		} else {
			r.SessionsFailed++
		}
		if len(s.Violations) > 0 {
			r.SessionsWithIssues++
		}
		for _, f := range s.Violations {
			if e, ok := byKind[f.Kind]; ok {
				e.Count += f.Count
			} else {
				first := fmt.Sprintf("session %d: %s", s.ID, f.First)
				byKind[f.Kind] = &Finding{Kind: f.Kind, Count: f.Count, First: first}
			}
		}
		if s.SetupMS != nil {
			setup = append(setup, *s.SetupMS)
		}
		if s.TimeToFirstPacketMS != nil {
			ttfp = append(ttfp, *s.TimeToFirstPacketMS)
			fps = append(fps, s.FPS)
			rate = append(rate, s.BitrateKbps)
			loss = append(loss, s.LossPercent)
			jitter = append(jitter, s.JitterMS)
		}
		if s.TimeToFirstKeyframeMS != nil {
			ttfk = append(ttfk, *s.TimeToFirstKeyframeMS)
			before = append(before, float64(s.AUsBeforeKeyframe))
		}
		latency = append(latency, s.latency...)
		r.Aggregate.Packets += s.Packets
		r.Aggregate.PacketsLost += s.PacketsLost
		r.Aggregate.Frames += s.Frames
		r.Aggregate.DamagedFrames += s.DamagedFrames
		r.Aggregate.TotalBitrateKbps += s.BitrateKbps
	}
	a := &r.Aggregate
	a.SetupMS, a.TimeToFirstPacketMS, a.TimeToFirstKeyframeMS = stats.Summarize(setup), stats.Summarize(ttfp), stats.Summarize(ttfk)
	a.FPS, a.BitrateKbps, a.LossPercent = stats.Summarize(fps), stats.Summarize(rate), stats.Summarize(loss)
	a.JitterMS, a.AUsBeforeKeyframe, a.LatencyMS = stats.Summarize(jitter), stats.Summarize(before), stats.Summarize(latency)
	r.Violations = []Finding{}
	for _, f := range byKind {
		r.Violations = append(r.Violations, *f)
	}
	slices.SortFunc(r.Violations, func(a, b Finding) int { return strings.Compare(a.Kind, b.Kind) })
	smp.mu.Lock()
	defer smp.mu.Unlock()
	if smp.server != nil {
		r.Server = smp.server.report()
	}
	r.Self = smp.self.report()
	return r
}

// WriteText writes the human summary.
func (r *Report) WriteText(w io.Writer) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	dur := "until stopped"
	if r.DurationMS > 0 {
		dur = time.Duration(r.DurationMS * float64(time.Millisecond)).String()
	}
	p("rtspsim %s  transport=%s  sessions=%d  ramp=%v  duration=%s  elapsed=%.1fs\n",
		r.URL, r.Transport, r.SessionsRequested, time.Duration(r.RampMS*float64(time.Millisecond)), dur, r.ElapsedMS/1000)
	p("sessions: %d started, %d ok, %d failed, %d with violations\n\n", r.SessionsStarted, r.SessionsOK, r.SessionsFailed, r.SessionsWithIssues)

	a := &r.Aggregate
	p("%-28s %6s %10s %10s %10s %10s\n", "", "n", "p50", "p95", "max", "mean")
	row := func(name string, s stats.Summary) {
		if s.N == 0 {
			p("%-28s %6d %10s %10s %10s %10s\n", name, 0, "-", "-", "-", "-")
			return
		}
		p("%-28s %6d %10.1f %10.1f %10.1f %10.1f\n", name, s.N, s.P50, s.P95, s.Max, s.Mean)
	}
	row("setup (connect->PLAY ok) ms", a.SetupMS)
	row("first packet ms", a.TimeToFirstPacketMS)
	row("first keyframe ms", a.TimeToFirstKeyframeMS)
	row("units before keyframe", a.AUsBeforeKeyframe)
	row("frames/s", a.FPS)
	row("bitrate kbit/s", a.BitrateKbps)
	row("loss %", a.LossPercent)
	row("jitter ms", a.JitterMS)
	row("glass-to-glass latency ms", a.LatencyMS)
	p("\ntotals: %d packets, %d lost, %d frames (%d damaged), %.1f Mbit/s across sessions\n",
		a.Packets, a.PacketsLost, a.Frames, a.DamagedFrames, a.TotalBitrateKbps/1000)
	proc := func(name string, pr *ProcessReport) {
		if pr == nil {
			return
		}
		p("%s pid %d: cpu p50 %.0f%% p95 %.0f%% max %.0f%% (%.1f cpu-s), rss max %.1f MiB",
			name, pr.PID, pr.CPUPercent.P50, pr.CPUPercent.P95, pr.CPUPercent.Max, pr.CPUSeconds, pr.RSSBytes.Max/(1<<20))
		if pr.Error != "" {
			p(" (sampling stopped: %s)", pr.Error)
		}
		p("\n")
	}
	proc("server ", r.Server)
	proc("rtspsim", r.Self)

	if len(r.Violations) == 0 {
		p("\nviolations: none\n")
	} else {
		p("\nviolations:\n")
		for _, f := range r.Violations {
			p("  %-20s x%-6d first: %s\n", f.Kind, f.Count, f.First)
		}
	}
	shown := 0
	for _, s := range r.Sessions {
		if s.Started && !s.OK {
			if shown == 0 {
				p("\nfailed sessions:\n")
			}
			if shown++; shown > 10 {
				p("  ... and %d more\n", r.SessionsFailed-10)
				break
			}
			p("  session %d: %s\n", s.ID, s.Error)
		}
	}
	if len(r.Sessions) <= 4 {
		for _, s := range r.Sessions {
			r.writeSession(w, s)
		}
	}
}

func (r *Report) writeSession(w io.Writer, s SessionResult) {
	p := func(format string, args ...any) { fmt.Fprintf(w, format, args...) }
	opt := func(v *float64) string {
		if v == nil {
			return "-"
		}
		return fmt.Sprintf("%.1f ms", *v)
	}
	p("\nsession %d: setup %s, first packet %s, first keyframe %s (%d units before)\n",
		s.ID, opt(s.SetupMS), opt(s.TimeToFirstPacketMS), opt(s.TimeToFirstKeyframeMS), s.AUsBeforeKeyframe)
	p("  %d frames (%.1f/s, %d damaged), %.0f kbit/s, %d packets, %d lost (%.2f%%), jitter %.2f ms, %d RTCP SR\n",
		s.Frames, s.FPS, s.DamagedFrames, s.BitrateKbps, s.Packets, s.PacketsLost, s.LossPercent, s.JitterMS, s.SenderReports)
	if s.LatencyMS != nil {
		p("  latency p50 %.1f ms, p95 %.1f ms, max %.1f ms over %d frames\n", s.LatencyMS.P50, s.LatencyMS.P95, s.LatencyMS.Max, s.LatencyMS.N)
	}
	for _, t := range s.Tracks {
		p("  track %s: %s %s/%d ssrc %s, %d packets, %d lost, %d reordered\n", t.URL, t.Media, t.Encoding, t.ClockRate, t.SSRC, t.Packets, t.PacketsLost, t.Reordered)
	}
}
