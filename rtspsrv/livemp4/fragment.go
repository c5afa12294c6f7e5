// Package livemp4 serves the live stream over HTTP as fragmented MP4 (ISO/IEC 14496-12), one
// fragment per frame, which browsers play in a plain <video> element and ffmpeg, ffplay and
// VLC open as a URL. The boxes are written here: the initialisation segment (ftyp, moov) once
// per view, and each fragment's (moof, mdat header) around the frame's own NAL units, which go
// out by writev without being copied.
package livemp4

import (
	"encoding/binary"

	"github.com/camerad/camerad/encoder/h264"
)

// timescale is the track's clock: 90 kHz, as RTP's, so that rtspsrv.RTPTicks converts PTS.
const timescale = 90000

// trackID is the only track's.
const trackID = 1

// Sample flags (ISO/IEC 14496-12 §8.8.3.1): a sync sample depends on no other; any other
// depends on others and is not a sync sample.
const (
	flagsSync    = 0x02000000
	flagsNonSync = 0x01010000
)

// moofSize is the size of the moof box written by appendFragmentHeader: mfhd 16, traf 76
// (tfhd 16, tfdt 20, trun 32), plus its own header.
const moofSize = 8 + 16 + 8 + 16 + 20 + 32

// fragmentHeaderSize is moof plus mdat's header.
const fragmentHeaderSize = moofSize + 8

// fragment is one frame as a fragment: its header and the length prefixes of its NAL units
// (scratch), and the iovecs that interleave them with the NAL units themselves.
type fragment struct {
	scratch []byte
	iov     [][]byte
}

// build lays out the fragment for one sample of the given NAL units. Parameter sets and access
// unit delimiters are left out: the initialisation segment carries the parameter sets, and MP4
// samples have no delimiters. decodeTime and duration are in timescale units.
func (fr *fragment) build(seq uint32, decodeTime uint64, duration uint32, keyframe bool, nalus [][]byte) {
	size := 0
	n := 0
	for _, nal := range nalus {
		if keep(nal) {
			size += 4 + len(nal)
			n++
		}
	}
	flags := uint32(flagsNonSync)
	if keyframe {
		flags = flagsSync
	}
	b := appendFragmentHeader(fr.scratch[:0], seq, decodeTime, duration, uint32(size), flags)
	headerEnd := len(b)
	for _, nal := range nalus {
		if keep(nal) {
			b = binary.BigEndian.AppendUint32(b, uint32(len(nal)))
		}
	}
	fr.scratch = b
	fr.iov = append(fr.iov[:0], b[:headerEnd])
	p := headerEnd
	for _, nal := range nalus {
		if keep(nal) {
			fr.iov = append(fr.iov, b[p:p+4], nal)
			p += 4
		}
	}
}

// keep reports whether a NAL unit belongs in a sample.
func keep(nal []byte) bool {
	if len(nal) == 0 {
		return false
	}
	switch h264.TypeOf(nal) {
	case h264.NALSPS, h264.NALPPS, h264.NALAUD:
		return false
	}
	return true
}

// appendFragmentHeader appends a moof for one sample of sampleSize bytes and the header of the
// mdat that holds it.
func appendFragmentHeader(b []byte, seq uint32, decodeTime uint64, duration, sampleSize, flags uint32) []byte {
	be := binary.BigEndian
	b = appendBox(b, moofSize, "moof")
	b = appendFullBox(b, 16, "mfhd", 0, 0)
	b = be.AppendUint32(b, seq)
	b = appendBox(b, 76, "traf")
	// tfhd: default-base-is-moof (0x020000): data offsets count from this moof.
	b = appendFullBox(b, 16, "tfhd", 0, 0x020000)
	b = be.AppendUint32(b, trackID)
	b = appendFullBox(b, 20, "tfdt", 1, 0)
	b = be.AppendUint64(b, decodeTime)
	// trun: data-offset, sample-duration, sample-size and sample-flags present.
	b = appendFullBox(b, 32, "trun", 0, 0x000001|0x000100|0x000200|0x000400)
	b = be.AppendUint32(b, 1) // sample_count
	b = be.AppendUint32(b, fragmentHeaderSize)
	b = be.AppendUint32(b, duration)
	b = be.AppendUint32(b, sampleSize)
	b = be.AppendUint32(b, flags)
	b = appendBox(b, 8+sampleSize, "mdat")
	return b
}

func appendBox(b []byte, size uint32, typ string) []byte {
	b = binary.BigEndian.AppendUint32(b, size)
	return append(b, typ...)
}

func appendFullBox(b []byte, size uint32, typ string, version byte, flags uint32) []byte {
	b = appendBox(b, size, typ)
	return binary.BigEndian.AppendUint32(b, uint32(version)<<24|flags&0xffffff)
}
