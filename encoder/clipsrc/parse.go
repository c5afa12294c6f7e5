package clipsrc

import (
	"errors"
	"fmt"

	"github.com/camerad/camerad/encoder/h264"
)

// frame is one access unit of the clip: NAL units aliasing the clip's bytes.
type frame struct {
	nalus    [][]byte
	keyframe bool
	size     int // payload bytes in nalus
	// shown is how many frame periods after its turn in decode order the frame is shown: 0
	// in a clip without B-frames (see h264.DisplayOrder).
	shown int
}

// clip is a parsed Annex-B stream, ready to be replayed.
type clip struct {
	frames []frame
	sps    h264.SPS
}

// parseClip splits data into access units once, so that Run only copies. It makes every
// keyframe a complete entry point (SPS, PPS, IDR) by repeating the last parameter sets where
// the stream did not, and drops what cannot be replayed in a loop: end-of-sequence and
// end-of-stream markers, filler, and capture-time SEIs left over from a recorded camerad
// stream (Run stamps fresh ones).
func parseClip(data []byte) (clip, error) {
	var (
		c      clip
		cur    [][]byte
		sawVCL bool
		sps    []byte
		pps    []byte
		ok     bool
	)
	finish := func() error {
		if !sawVCL {
			return nil // parameter sets or SEI with no picture after them (end of file)
		}
		f, err := makeFrame(cur, sps, pps)
		if err != nil {
			return fmt.Errorf("access unit %d: %w", len(c.frames), err)
		}
		c.frames = append(c.frames, f)
		cur, sawVCL = nil, false
		return nil
	}
	var err error
	h264.ForEachNALU(data, func(nalu []byte) {
		if err != nil {
			return
		}
		if h264.StartsAccessUnit(nalu, sawVCL) {
			err = finish()
		}
		switch t := h264.TypeOf(nalu); {
		case t == h264.NALEndSeq, t == h264.NALEndStrm, t == h264.NALFiller:
			return
		case t == h264.NALSEI:
			if _, camerad := h264.ParseCaptureTimeSEI(nalu); camerad {
				return
			}
		case t == h264.NALSPS:
			sps = nalu
			if !ok {
				if c.sps, err = h264.ParseSPS(nalu); err != nil {
					err = fmt.Errorf("first SPS: %w", err)
				}
				ok = err == nil
			}
		case t == h264.NALPPS:
			pps = nalu
		case t.IsVCL():
			sawVCL = true
		}
		cur = append(cur, nalu)
	})
	if err == nil {
		err = finish()
	}
	switch {
	case err != nil:
	case len(c.frames) == 0:
		err = errors.New("no access units: not an Annex-B H.264 stream " +
			"(for an MP4 or MKV file: ffmpeg -i in.mp4 -c copy -f h264 out.h264)")
	case !c.frames[0].keyframe || !hasType(c.frames[0].nalus, h264.NALSPS) || !hasType(c.frames[0].nalus, h264.NALPPS):
		err = errors.New("first access unit is not a keyframe with SPS and PPS: a looped clip must start at an entry point")
	}
	if err != nil && looksLikeHEVC(data) { // whatever went wrong, this is what to say
		err = errors.New("this is H.265/HEVC, and camerad serves H.264: re-encode it " +
			"(ffmpeg -i in -c:v libx264 -f h264 out.h264)")
	}
	if err != nil {
		return clip{}, err
	}
	c.placeInDisplayOrder()
	return c, nil
}

// looksLikeHEVC reports whether data starts as an Annex-B H.265 stream does: with a video
// parameter set, maybe after an access unit delimiter.
func looksLikeHEVC(data []byte) bool {
	seen, hevc := 0, false
	h264.ForEachNALU(data, func(nalu []byte) {
		if seen < 2 && h264.IsHEVCVPS(nalu) {
			hevc = true
		}
		seen++
	})
	return hevc
}

// placeInDisplayOrder sets each frame's shown. The clip is read twice, so that its first
// frames get the reorder delay that the whole clip needs, not only what it has shown so far.
func (c *clip) placeInDisplayOrder() {
	learn := h264.NewDisplayOrder(0)
	for _, f := range c.frames {
		learn.Next(f.nalus, c.sps)
	}
	order := h264.NewDisplayOrder(learn.Delay())
	for i := range c.frames {
		c.frames[i].shown = order.Next(c.frames[i].nalus, c.sps)
	}
}

// makeFrame builds a frame from one unit's NAL units; keyframes without their own parameter
// sets get the last ones seen (sps, pps) put in front of their first slice.
func makeFrame(nalus [][]byte, sps, pps []byte) (frame, error) {
	f := frame{keyframe: h264.IsKeyframe(nalus)}
	if f.keyframe && !(hasType(nalus, h264.NALSPS) && hasType(nalus, h264.NALPPS)) {
		if sps == nil || pps == nil {
			return frame{}, errors.New("keyframe without SPS/PPS and none before it")
		}
		withSets := make([][]byte, 0, len(nalus)+2)
		inserted := false
		for _, n := range nalus {
			if !inserted && h264.TypeOf(n).IsVCL() {
				withSets = append(withSets, sps, pps)
				inserted = true
			}
			if t := h264.TypeOf(n); t != h264.NALSPS && t != h264.NALPPS {
				withSets = append(withSets, n)
			}
		}
		nalus = withSets
	}
	f.nalus = nalus
	for _, n := range nalus {
		f.size += len(n)
	}
	return f, nil
}

func hasType(nalus [][]byte, t h264.NALType) bool {
	for _, n := range nalus {
		if h264.TypeOf(n) == t {
			return true
		}
	}
	return false
}
