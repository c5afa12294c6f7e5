package livemp4

import (
	"fmt"

	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/fmp4/seekablebuffer"
	"github.com/bluenviron/mediacommon/v2/pkg/formats/mp4/codecs"
)

// initSegment returns ftyp and moov for one H.264 track with these parameter sets.
func initSegment(sps, pps []byte) ([]byte, error) {
	init := fmp4.Init{Tracks: []*fmp4.InitTrack{{
		ID:        trackID,
		TimeScale: timescale,
		Codec:     &codecs.H264{SPS: sps, PPS: pps},
	}}}
	var buf seekablebuffer.Buffer
	if err := init.Marshal(&buf); err != nil {
		return nil, fmt.Errorf("mp4 initialisation segment: %w", err)
	}
	return buf.Bytes(), nil
}
