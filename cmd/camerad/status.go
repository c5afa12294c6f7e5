package main

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/camerad/camerad/rtspsrv"
)

// statusInterval is how often camerad says how its viewers fare while anyone watches.
const statusInterval = time.Minute

// logViewerStatus logs one line per interval while anyone watches: how many viewers, over
// what, the rate sent, the frames skipped because a viewer fell behind, and the worst loss a
// viewer reported. It is what someone reading camerad.log after a stutter needs to tell a
// weak link from a busy camera. Nothing is logged while nobody watches. It returns when ctx
// ends.
func logViewerStatus(ctx context.Context, viewers func() []rtspsrv.ViewerStats, interval time.Duration, log *slog.Logger) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	var st viewerStatus
	last := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			level, attrs := st.summarize(viewers(), now.Sub(last))
			last = now
			if attrs != nil {
				log.Log(ctx, level, "viewers", attrs...)
			}
		}
	}
}

// viewerStatus turns snapshots of the viewers' counters into interval figures.
type viewerStatus struct {
	// prev is each session's counters when last seen, and how many snapshots ago. A session
	// missing from a snapshot may come back with the same counters (paused and played
	// again, or held while its viewer was silent): they must not count twice.
	prev map[string]seenStats
	// The multicast group's bytes and dropped frames when last seen (they only grow).
	prevGroup, prevGroupDropped uint64
}

type seenStats struct {
	rtspsrv.ViewerStats
	ago int
}

// forgetAfter is how many snapshots a missing session's counters are kept: longer than a
// session can stay paused or held without keep-alives (the session timeout).
const forgetAfter = 10

// summarize compares a snapshot with the previous one, taken elapsed before, and returns the
// status line's level and attributes; nil attributes when there is nobody to report on.
// Frames skipped make it a warning: some viewer's link or player cannot keep up.
func (s *viewerStatus) summarize(now []rtspsrv.ViewerStats, elapsed time.Duration) (slog.Level, []any) {
	if s.prev == nil {
		s.prev = map[string]seenStats{}
	}
	prev := s.prev
	for id, p := range prev {
		if p.ago++; p.ago > forgetAfter {
			delete(prev, id)
		} else {
			prev[id] = p
		}
	}
	if len(now) == 0 {
		return slog.LevelInfo, nil
	}
	var (
		byLower        = map[rtspsrv.Lower]int{}
		sent, dropped  uint64
		group          uint64 // a multicast viewer's counters are its group's: count them once
		groupDropped   uint64
		reported       bool // some viewer's receiver report is recent
		worst          float64
		worstRemote    string
		staleReportAge = 3 * elapsed
	)
	for _, v := range now {
		p := prev[v.Session] // zero for a viewer new since the last line
		prev[v.Session] = seenStats{ViewerStats: v}
		byLower[v.Transport]++
		if v.Transport == rtspsrv.LowerMulticast {
			group, groupDropped = max(group, v.Bytes), max(groupDropped, v.Dropped)
		} else {
			sent += v.Bytes - min(p.Bytes, v.Bytes)
			dropped += v.Dropped - min(p.Dropped, v.Dropped)
		}
		if !v.LastReport.IsZero() && time.Since(v.LastReport) < staleReportAge {
			reported = true
			if v.FractionLost > worst {
				worst, worstRemote = v.FractionLost, v.Remote
			}
		}
	}
	if group > 0 {
		// The group's counter runs since the server started, across the times nobody
		// watched it: only what it grew by since it was last seen was sent meanwhile.
		sent += group - min(s.prevGroup, group)
		dropped += groupDropped - min(s.prevGroupDropped, groupDropped)
		s.prevGroup, s.prevGroupDropped = group, groupDropped
	}

	attrs := []any{"count", len(now)}
	for _, l := range []rtspsrv.Lower{rtspsrv.LowerUDP, rtspsrv.LowerTCP, rtspsrv.LowerMulticast} {
		if byLower[l] > 0 {
			attrs = append(attrs, l.String(), byLower[l])
		}
	}
	attrs = append(attrs, "sent_mbit_s", fmt.Sprintf("%.2f", float64(sent)*8/elapsed.Seconds()/1e6),
		"frames_skipped", dropped)
	if reported {
		attrs = append(attrs, "worst_reported_loss", fmt.Sprintf("%.1f%%", worst*100))
	}
	if worstRemote != "" {
		attrs = append(attrs, "worst_remote", worstRemote)
	}
	if dropped > 0 {
		return slog.LevelWarn, attrs
	}
	return slog.LevelInfo, attrs
}
