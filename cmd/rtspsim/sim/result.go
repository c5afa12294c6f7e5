package sim

import (
	"fmt"
	"time"

	"github.com/camerad/camerad/cmd/rtspsim/internal/stats"
)

// SessionResult is what one viewer saw. Durations are in milliseconds; a pointer field is
// absent from JSON when the event never happened (no packet, no keyframe).
type SessionResult struct {
	ID      int    `json:"id"`
	Started bool   `json:"started"`
	OK      bool   `json:"ok"`
	Error   string `json:"error,omitempty"`
	// SetupMS is from connecting to the PLAY answer (the whole RTSP dialog).
	SetupMS *float64 `json:"setup_ms,omitempty"`
	// TimeToFirstPacketMS and TimeToFirstKeyframeMS are from sending PLAY to the first RTP
	// packet and to the last packet of the first complete IDR access unit.
	TimeToFirstPacketMS   *float64 `json:"time_to_first_packet_ms,omitempty"`
	TimeToFirstKeyframeMS *float64 `json:"time_to_first_keyframe_ms,omitempty"`
	// PlayedMS is from the first packet to the end of the session.
	PlayedMS          float64 `json:"played_ms"`
	Frames            uint64  `json:"frames"`
	DamagedFrames     uint64  `json:"damaged_frames"`
	FPS               float64 `json:"fps"`
	BitrateKbps       float64 `json:"bitrate_kbps"`
	Packets           uint64  `json:"packets"`
	PacketsLost       uint64  `json:"packets_lost"`
	LossPercent       float64 `json:"loss_percent"`
	JitterMS          float64 `json:"jitter_ms"`
	AUsBeforeKeyframe int     `json:"aus_before_keyframe"`
	SenderReports     int     `json:"rtcp_sender_reports"`
	// LatencyMS summarizes glass-to-glass latency over the frames from the first one with a
	// capture-time SEI on: later frames' capture times follow from their RTP timestamps
	// (absent when no frame had the SEI).
	LatencyMS  *stats.Summary `json:"latency_ms,omitempty"`
	Violations []Finding      `json:"violations"`
	Tracks     []TrackResult  `json:"tracks"`

	latency []float64
}

// TrackResult is per SETUP.
type TrackResult struct {
	URL         string  `json:"url"`
	Media       string  `json:"media"`
	Encoding    string  `json:"encoding"`
	ClockRate   int     `json:"clock_rate"`
	SSRC        string  `json:"ssrc,omitempty"`
	Packets     uint64  `json:"packets"`
	PacketsLost uint64  `json:"packets_lost"`
	Reordered   uint64  `json:"packets_reordered"`
	Bytes       uint64  `json:"bytes"`
	BitrateKbps float64 `json:"bitrate_kbps"`
	JitterMS    float64 `json:"jitter_ms"`
	Frames      uint64  `json:"frames"`
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func msPtr(d time.Duration) *float64 { v := ms(d); return &v }

// result gathers the session's figures after its readers have stopped.
func (s *session) result(err error, end time.Time) SessionResult {
	r := SessionResult{ID: s.id, Started: true, OK: err == nil}
	if err != nil {
		r.Error = err.Error()
	}
	if !s.playDone.IsZero() {
		r.SetupMS = msPtr(s.playDone.Sub(s.startedAt))
	}
	var video *track
	for _, t := range s.tracks {
		if t.depay != nil {
			video = t
			break
		}
	}
	if video == nil && len(s.tracks) > 0 {
		video = s.tracks[0]
	}
	var firstAt time.Time
	for _, t := range s.tracks {
		// Readers have stopped; the lock only keeps the race detector's view simple.
		t.mu.Lock()
		tr := TrackResult{
			URL: t.desc.URL, Media: t.desc.Media, Encoding: t.desc.Encoding, ClockRate: t.desc.ClockRate,
			Packets: t.packets, PacketsLost: t.seq.Lost(), Reordered: t.seq.Reordered, Bytes: t.bytes,
			JitterMS: ms(t.jitter.Duration()), Frames: t.frames,
		}
		if t.packets > 0 {
			tr.SSRC = fmt.Sprintf("%08X", t.ssrc)
			if d := end.Sub(t.firstAt); d > 0 {
				tr.BitrateKbps = float64(t.bytes) * 8 / d.Seconds() / 1000
			}
			if firstAt.IsZero() || t.firstAt.Before(firstAt) {
				firstAt = t.firstAt
			}
		}
		r.Packets += tr.Packets
		r.PacketsLost += tr.PacketsLost
		r.BitrateKbps += tr.BitrateKbps
		if t.depay != nil {
			d := t.depay
			s.findings.addN(KindMarker, int(d.MarkerMissing), fmt.Sprintf("%s: %d access units ended without the marker bit", t.desc.URL, d.MarkerMissing))
			s.findings.addN(KindMarker, int(d.MarkerEarly), fmt.Sprintf("%s: %d packets followed a marker bit with the same timestamp", t.desc.URL, d.MarkerEarly))
			s.findings.addN(KindH264, int(d.Malformed+d.Unsupported), fmt.Sprintf("%s: %d malformed and %d unsupported RFC 6184 payloads", t.desc.URL, d.Malformed, d.Unsupported))
		}
		if t.srCount > 0 {
			r.SenderReports += t.srCount
		}
		if t == video {
			r.Frames, r.DamagedFrames, r.AUsBeforeKeyframe = t.frames, t.damaged, t.beforeKey
			r.JitterMS = tr.JitterMS
			if !t.keyframeAt.IsZero() {
				r.TimeToFirstKeyframeMS = msPtr(t.keyframeAt.Sub(s.playSent))
			} else if t.depay != nil && t.packets > 0 && end.Sub(s.playSent) >= s.cfg.Timeout {
				s.findings.add(KindNoKeyframe, fmt.Sprintf("%s: no complete IDR access unit in %v of playing (%d units received)", t.desc.URL, end.Sub(s.playSent).Round(time.Millisecond), t.frames))
			}
			if t.packets > 0 {
				if played := end.Sub(t.firstAt); played > 0 {
					r.PlayedMS = ms(played)
					r.FPS = float64(t.frames) / played.Seconds()
				}
			}
			if len(t.latencies) > 0 {
				r.latency = t.latencies
				sum := stats.Summarize(t.latencies)
				r.LatencyMS = &sum
			}
		}
		t.mu.Unlock()
		r.Tracks = append(r.Tracks, tr)
	}
	if !firstAt.IsZero() {
		r.TimeToFirstPacketMS = msPtr(firstAt.Sub(s.playSent))
	}
	if expected := r.Packets + r.PacketsLost; expected > 0 {
		r.LossPercent = float64(r.PacketsLost) / float64(expected) * 100
	}
	r.Violations = s.findings.list()
	return r
}
