package sim

import (
	"slices"
	"sync"
)

// Kinds of protocol violations a session reports. These are the stable names used in the
// JSON output.
const (
	KindCSeq           = "cseq"            // response CSeq missing or not the request's
	KindStatus         = "status"          // a non-2xx answer to TEARDOWN or a keep-alive
	KindContentType    = "content_type"    // DESCRIBE answer is not application/sdp
	KindTransport      = "transport"       // SETUP answer's Transport unusable or not what was asked
	KindRTPInfoSeq     = "rtpinfo_seq"     // RTP-Info seq differs from the first packet's
	KindRTPInfoRTPTime = "rtpinfo_rtptime" // RTP-Info rtptime differs from the first packet's
	KindRTPInfoMissing = "rtpinfo_missing" // PLAY answer has no RTP-Info for a track
	KindSeqGap         = "seq_gap"         // sequence numbers skipped on TCP (over UDP a gap is loss, not a violation)
	KindRTPVersion     = "rtp_version"     // RTP version is not 2
	KindRTPMalformed   = "rtp_malformed"   // packet too short for its header
	KindPayloadType    = "payload_type"    // payload type not announced in the SDP
	KindSSRC           = "ssrc"            // more than one SSRC, or not the one SETUP named
	KindTimestamp      = "timestamp"       // RTP timestamp went backwards
	KindMarker         = "marker"          // marker bit missing at, or set before, an access unit's end
	KindH264           = "h264_payload"    // payload that is not valid RFC 6184
	KindRTCPSR         = "rtcp_sr"         // sender report whose NTP/RTP mapping does not follow the stream
	KindNoKeyframe     = "no_keyframe"     // no complete IDR access unit within the timeout
	KindServerRequest  = "server_request"  // the server sent a request we cannot honour
	KindUnsolicited    = "unsolicited_response"
)

// Finding is one kind of violation with how often it happened and the first occurrence.
type Finding struct {
	Kind  string `json:"kind"`
	Count int    `json:"count"`
	First string `json:"first"`
}

// findings collects violations from the session, its RTSP reader and its packet readers.
type findings struct {
	mu   sync.Mutex
	byID map[string]*Finding
}

func (f *findings) add(kind, detail string) { f.addN(kind, 1, detail) }

func (f *findings) addN(kind string, n int, detail string) {
	if n <= 0 {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.byID == nil {
		f.byID = map[string]*Finding{}
	}
	if e, ok := f.byID[kind]; ok {
		e.Count += n
		return
	}
	f.byID[kind] = &Finding{Kind: kind, Count: n, First: detail}
}

func (f *findings) total() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	n := 0
	for _, e := range f.byID {
		n += e.Count
	}
	return n
}

// list returns the findings sorted by kind, so output is stable.
func (f *findings) list() []Finding {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := make([]Finding, 0, len(f.byID))
	for _, e := range f.byID {
		out = append(out, *e)
	}
	slices.SortFunc(out, func(a, b Finding) int {
		if a.Kind < b.Kind {
			return -1
		}
		if a.Kind > b.Kind {
			return 1
		}
		return 0
	})
	return out
}
