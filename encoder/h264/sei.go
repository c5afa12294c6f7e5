package h264

import (
	"bytes"
	"encoding/binary"
	"time"
)

// CaptureTimeUUID identifies camerad's capture-time SEI: a user_data_unregistered message
// (payloadType 5) whose 16-byte UUID is the ASCII text "cameradtimestamp", followed by the
// capture time as a big-endian int64 count of microseconds since the Unix epoch. A client that
// knows the format subtracts it from its own clock to measure glass-to-glass latency; every
// other decoder ignores it.
//
// Sources put it in keyframes only. In any other frame it would cost a datagram of its own
// per viewer (it cannot share a packet with a fragmented slice), and it is not needed there:
// RTP timestamps count from the same capture clock, so a receiver gets every later frame's
// capture time from the keyframe's plus the timestamp difference.
var CaptureTimeUUID = [16]byte{'c', 'a', 'm', 'e', 'r', 'a', 'd', 't', 'i', 'm', 'e', 's', 't', 'a', 'm', 'p'}

const seiUserDataUnregistered = 5

// captureTimeSEILen is the size of the SEI NAL: header, payload type, payload size, UUID,
// timestamp, rbsp trailing bits; before emulation prevention.
const captureTimeSEILen = 1 + 1 + 1 + 16 + 8 + 1

// AppendCaptureTimeSEI appends a capture-time SEI NAL unit (no start code) to dst.
func AppendCaptureTimeSEI(dst []byte, t time.Time) []byte {
	var raw [captureTimeSEILen]byte
	raw[0] = byte(NALSEI) // nal_ref_idc 0
	raw[1] = seiUserDataUnregistered
	raw[2] = 16 + 8
	copy(raw[3:19], CaptureTimeUUID[:])
	binary.BigEndian.PutUint64(raw[19:27], uint64(t.UnixMicro()))
	raw[27] = 0x80 // rbsp_stop_one_bit
	return AppendEmulationPrevention(dst, raw[:])
}

// ParseCaptureTimeSEI returns the capture time carried by a camerad SEI NAL unit as it is on
// the wire (with emulation-prevention bytes). ok is false for any other NAL unit.
func ParseCaptureTimeSEI(nalu []byte) (t time.Time, ok bool) {
	if TypeOf(nalu) != NALSEI || len(nalu) < captureTimeSEILen {
		return time.Time{}, false
	}
	var raw [captureTimeSEILen + 8]byte
	rbsp := RemoveEmulationPrevention(raw[:0], nalu)
	if len(rbsp) < captureTimeSEILen-1 || rbsp[1] != seiUserDataUnregistered || rbsp[2] != 24 {
		return time.Time{}, false
	}
	if !bytes.Equal(rbsp[3:19], CaptureTimeUUID[:]) {
		return time.Time{}, false
	}
	return time.UnixMicro(int64(binary.BigEndian.Uint64(rbsp[19:27]))), true
}

// AppendEmulationPrevention appends rbsp to dst, inserting 0x03 after every two zero bytes
// that precede a byte <= 3, so the result cannot contain a start code.
func AppendEmulationPrevention(dst, rbsp []byte) []byte {
	zeros := 0
	for _, c := range rbsp {
		if zeros >= 2 && c <= 3 {
			dst = append(dst, 3)
			zeros = 0
		}
		dst = append(dst, c)
		if c == 0 {
			zeros++
		} else {
			zeros = 0
		}
	}
	return dst
}

// RemoveEmulationPrevention appends the RBSP of a NAL unit to dst, dropping the 0x03 bytes
// inserted after two zeros.
func RemoveEmulationPrevention(dst, nalu []byte) []byte {
	zeros := 0
	for _, c := range nalu {
		if zeros >= 2 && c == 3 {
			zeros = 0
			continue
		}
		dst = append(dst, c)
		if c == 0 {
			zeros++
		} else {
			zeros = 0
		}
	}
	return dst
}
