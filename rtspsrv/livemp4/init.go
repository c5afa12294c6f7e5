package livemp4

import (
	"encoding/binary"
	"fmt"

	"github.com/camerad/camerad/encoder/h264"
)

// initSegment returns ftyp and moov for one H.264 track with these parameter sets (ISO/IEC
// 14496-12 and -15): a movie with no samples of its own, all of them to come in fragments.
//
// Written here like the fragments: a general MP4 library (go-mp4, under mediacommon) put
// 1.1 MB into the binary and half a megabyte of box tables into the heap at every start, for
// some 300 bytes sent once per view.
func initSegment(sps, pps []byte) ([]byte, error) {
	info, err := h264.ParseSPS(sps)
	if err != nil {
		return nil, fmt.Errorf("mp4 initialisation segment: %w", err)
	}
	if len(sps) > 0xffff || len(pps) == 0 || len(pps) > 0xffff {
		return nil, fmt.Errorf("mp4 initialisation segment: parameter sets of %d and %d bytes", len(sps), len(pps))
	}
	be := binary.BigEndian
	b := make([]byte, 0, 512+len(sps)+len(pps))

	ftyp, b := startBox(b, "ftyp")
	b = append(b, "isom"...)
	b = be.AppendUint32(b, 0x200)
	b = append(b, "isomiso6avc1mp41"...) // compatible brands; iso6 has fragments
	b = endBox(b, ftyp)

	moov, b := startBox(b, "moov")
	mvhd, b := startFullBox(b, "mvhd", 0, 0)
	b = append(b, make([]byte, 8)...)  // creation and modification times
	b = be.AppendUint32(b, 1000)       // timescale
	b = be.AppendUint32(b, 0)          // duration: unknown, live
	b = be.AppendUint32(b, 0x00010000) // rate 1.0
	b = be.AppendUint16(b, 0x0100)     // volume 1.0
	b = append(b, make([]byte, 10)...) // reserved
	b = appendUnityMatrix(b)
	b = append(b, make([]byte, 24)...) // pre_defined
	b = be.AppendUint32(b, trackID+1)  // next_track_ID
	b = endBox(b, mvhd)

	trak, b := startBox(b, "trak")
	tkhd, b := startFullBox(b, "tkhd", 0, 0x3) // enabled, in the movie
	b = append(b, make([]byte, 8)...)          // creation and modification times
	b = be.AppendUint32(b, trackID)
	b = append(b, make([]byte, 4+4+8+2+2+2+2)...) // reserved, duration, reserved, layer, group, volume, reserved
	b = appendUnityMatrix(b)
	b = be.AppendUint32(b, uint32(info.Width)<<16) // 16.16 fixed point
	b = be.AppendUint32(b, uint32(info.Height)<<16)
	b = endBox(b, tkhd)

	mdia, b := startBox(b, "mdia")
	mdhd, b := startFullBox(b, "mdhd", 0, 0)
	b = append(b, make([]byte, 8)...) // creation and modification times
	b = be.AppendUint32(b, timescale)
	b = be.AppendUint32(b, 0)      // duration
	b = be.AppendUint16(b, 0x55c4) // language "und", packed
	b = be.AppendUint16(b, 0)      // pre_defined
	b = endBox(b, mdhd)
	hdlr, b := startFullBox(b, "hdlr", 0, 0)
	b = be.AppendUint32(b, 0) // pre_defined
	b = append(b, "vide"...)
	b = append(b, make([]byte, 12)...) // reserved
	b = append(b, "VideoHandler\x00"...)
	b = endBox(b, hdlr)

	minf, b := startBox(b, "minf")
	vmhd, b := startFullBox(b, "vmhd", 0, 1)
	b = append(b, make([]byte, 8)...) // graphicsmode, opcolor
	b = endBox(b, vmhd)
	dinf, b := startBox(b, "dinf")
	dref, b := startFullBox(b, "dref", 0, 0)
	b = be.AppendUint32(b, 1)              // entry_count
	b = appendFullBox(b, 12, "url ", 0, 1) // the media is in this file
	b = endBox(b, dref)
	b = endBox(b, dinf)

	stbl, b := startBox(b, "stbl")
	stsd, b := startFullBox(b, "stsd", 0, 0)
	b = be.AppendUint32(b, 1) // entry_count
	b = appendAVC1(b, info, sps, pps)
	b = endBox(b, stsd)
	for _, typ := range []string{"stts", "stsc", "stco"} { // no samples outside fragments
		b = appendFullBox(b, 16, typ, 0, 0)
		b = be.AppendUint32(b, 0)
	}
	b = appendFullBox(b, 20, "stsz", 0, 0)
	b = append(b, make([]byte, 8)...) // sample_size, sample_count
	b = endBox(b, stbl)
	b = endBox(b, minf)
	b = endBox(b, mdia)
	b = endBox(b, trak)

	mvex, b := startBox(b, "mvex") // the track's samples come in fragments
	b = appendFullBox(b, 32, "trex", 0, 0)
	b = be.AppendUint32(b, trackID)
	b = be.AppendUint32(b, 1)          // default_sample_description_index
	b = append(b, make([]byte, 12)...) // default duration, size and flags: each trun says
	b = endBox(b, mvex)
	return endBox(b, moov), nil
}

// appendAVC1 appends the sample entry of an H.264 track whose samples carry 4-byte NAL unit
// lengths, with its decoder configuration (avcC).
func appendAVC1(b []byte, info h264.SPS, sps, pps []byte) []byte {
	be := binary.BigEndian
	avc1, b := startBox(b, "avc1")
	b = append(b, make([]byte, 6)...)  // reserved
	b = be.AppendUint16(b, 1)          // data_reference_index
	b = append(b, make([]byte, 16)...) // pre_defined, reserved
	b = be.AppendUint16(b, uint16(info.Width))
	b = be.AppendUint16(b, uint16(info.Height))
	b = be.AppendUint32(b, 0x00480000) // 72 dpi
	b = be.AppendUint32(b, 0x00480000)
	b = be.AppendUint32(b, 0)          // reserved
	b = be.AppendUint16(b, 1)          // frame_count
	b = append(b, make([]byte, 32)...) // compressorname
	b = be.AppendUint16(b, 0x0018)     // depth: colour
	b = be.AppendUint16(b, 0xffff)     // pre_defined = -1

	avcC, b := startBox(b, "avcC")
	b = append(b, 1, sps[1], sps[2], sps[3]) // version, profile, compatibility, level
	b = append(b, 0xfc|3, 0xe0|1)            // 4-byte lengths; one SPS
	b = be.AppendUint16(b, uint16(len(sps)))
	b = append(b, sps...)
	b = append(b, 1) // one PPS
	b = be.AppendUint16(b, uint16(len(pps)))
	b = append(b, pps...)
	switch info.ProfileIDC {
	case 100, 110, 122, 144: // ISO/IEC 14496-15 §5.3.3.1.2: these profiles say more
		// Masked to their fields: an SPS from a broken encoder must not set the reserved bits.
		b = append(b, 0xfc|info.ChromaFormatIDC&3, 0xf8|(info.BitDepthLuma-8)&7, 0xf8|(info.BitDepthChroma-8)&7, 0)
	}
	b = endBox(b, avcC)
	return endBox(b, avc1)
}

// appendUnityMatrix appends the identity transformation of mvhd and tkhd.
func appendUnityMatrix(b []byte) []byte {
	for _, v := range [9]uint32{0x00010000, 0, 0, 0, 0x00010000, 0, 0, 0, 0x40000000} {
		b = binary.BigEndian.AppendUint32(b, v)
	}
	return b
}

// startBox appends the header of a box whose size endBox fills in, and returns where the box
// starts.
func startBox(b []byte, typ string) (int, []byte) {
	return len(b), appendBox(b, 0, typ)
}

func startFullBox(b []byte, typ string, version byte, flags uint32) (int, []byte) {
	return len(b), appendFullBox(b, 0, typ, version, flags)
}

// endBox sets the size of the box that starts at start to end at the end of b.
func endBox(b []byte, start int) []byte {
	binary.BigEndian.PutUint32(b[start:], uint32(len(b)-start))
	return b
}
