package pipesrc

import (
	"bytes"
	"fmt"
	"io"
	"log/slog"

	"github.com/camerad/camerad/encoder/h264"
)

// initialBuffer is where the read buffer starts; it doubles up to the unit size limit while
// the stream's largest access units (IDRs) show how much it needs.
const initialBuffer = 256 << 10

var startCode = []byte{0, 0, 1}

// span locates a NAL unit in the read buffer by offsets, which survive compaction.
type span struct{ start, end int }

// unit is one complete access unit: NAL units that alias the reader's buffer, valid until the
// next call to next, and the arrival time of its first bytes.
type unit struct {
	nalus [][]byte
	at    instant
}

// unitReader cuts an Annex-B byte stream into access units without copying: NAL units stay
// in one bounded buffer until their unit is complete, which it is when the next one starts.
// Its memory is bounded by limit whatever the input: bytes outside NAL units are discarded
// as they come, and a unit that outgrows limit is dropped (and reported through lost) rather
// than buffered.
type unitReader struct {
	r     io.Reader
	now   func() instant
	log   *slog.Logger
	limit int

	buf    []byte
	n      int     // bytes of buf holding data
	scan   int     // where the next start-code search begins
	nal    int     // start of the NAL unit being read; -1 outside any
	nals   []span  // complete NAL units of the unit being assembled
	sawVCL bool    // nals holds a slice
	at     instant // arrival of the unit being assembled
	readAt instant // time of the last read that returned data
	eof    bool

	skipping bool // the NAL unit being read belongs to a dropped unit
	lost     bool // a unit was dropped since takeLost; decoding must restart at an IDR

	out [][]byte // scratch for the unit handed out

	garbage   int64 // bytes thrown away outside any NAL unit
	oversized int64 // units dropped for exceeding limit
}

func newUnitReader(r io.Reader, limit int, now func() instant, log *slog.Logger) *unitReader {
	return &unitReader{
		r: r, now: now, log: log, limit: limit,
		buf: make([]byte, min(initialBuffer, limit)),
		nal: -1,
	}
}

// takeLost reports whether a unit was dropped since the last call.
func (u *unitReader) takeLost() bool {
	lost := u.lost
	u.lost = false
	return lost
}

// next returns the next complete access unit (one holding at least one slice). At the end of
// the input it returns the last unit, then io.EOF; read errors are returned as they are.
func (u *unitReader) next() (unit, error) {
	for {
		if au, ok := u.scanUnits(); ok {
			return au, nil
		}
		if u.eof {
			return u.finish()
		}
		if err := u.fill(); err != nil {
			return unit{}, err
		}
	}
}

// scanUnits walks the start codes in the buffered bytes, closing NAL units, until one opens
// the next access unit; then it hands out the unit that is complete.
func (u *unitReader) scanUnits() (unit, bool) {
	for {
		i := bytes.Index(u.buf[u.scan:u.n], startCode)
		if i < 0 {
			// Keep two bytes: a start code may be split across reads.
			u.scan = max(u.scan, u.n-2)
			return unit{}, false
		}
		i += u.scan
		j := i + len(startCode)
		// StartsAccessUnit needs the header and the first byte of a slice.
		if j+2 > u.n && !u.eof {
			u.scan = i
			return unit{}, false
		}
		if u.nal < 0 && !u.skipping {
			g := i
			for g > 0 && u.buf[g-1] == 0 {
				g-- // the zero of a 4-byte start code is not garbage
			}
			u.garbage += int64(g)
		}
		if u.nal >= 0 && !u.skipping {
			u.closeNAL(i)
		}
		u.skipping = false
		u.nal, u.scan = j, j

		var done unit
		complete := len(u.nals) > 0 && h264.StartsAccessUnit(u.buf[j:min(j+2, u.n)], u.sawVCL)
		if complete {
			done = u.take()
		}
		if len(u.nals) == 0 {
			u.at = u.readAt
		}
		if complete {
			return done, true
		}
	}
}

// closeNAL ends the NAL unit being read at end, less the zero bytes that belong to the next
// (4-byte) start code or are trailing_zero_8bits.
func (u *unitReader) closeNAL(end int) {
	for end > u.nal && u.buf[end-1] == 0 {
		end--
	}
	if end == u.nal {
		return
	}
	u.nals = append(u.nals, span{u.nal, end})
	if h264.TypeOf(u.buf[u.nal:end]).IsVCL() {
		u.sawVCL = true
	}
}

// take hands out the unit assembled so far and starts an empty one.
func (u *unitReader) take() unit {
	u.out = u.out[:0]
	for _, s := range u.nals {
		u.out = append(u.out, u.buf[s.start:s.end:s.end])
	}
	au := unit{nalus: u.out, at: u.at}
	u.nals, u.sawVCL = u.nals[:0], false
	return au
}

// finish hands out the last unit at the end of the input.
func (u *unitReader) finish() (unit, error) {
	if u.nal >= 0 && !u.skipping {
		u.closeNAL(u.n)
		u.nal = -1
	}
	if u.sawVCL {
		return u.take(), nil
	}
	u.nals = u.nals[:0]
	return unit{}, io.EOF
}

// fill reads more input, first making room by discarding what is no longer needed, growing
// the buffer, or, at the limit, dropping the unit that does not fit.
func (u *unitReader) fill() error {
	if u.n == len(u.buf) {
		u.makeRoom()
	}
	m, err := u.r.Read(u.buf[u.n:])
	if m > 0 {
		u.n += m
		u.readAt = u.now()
	}
	switch {
	case err == io.EOF:
		u.eof = true
	case err != nil:
		return fmt.Errorf("read: %w", err)
	}
	return nil
}

func (u *unitReader) makeRoom() {
	keep := u.n - 2 // outside any NAL unit only a possible split start code matters
	switch {
	case len(u.nals) > 0:
		keep = u.nals[0].start
	case u.nal >= 0 && !u.skipping:
		keep = u.nal
	case u.nal < 0:
		u.garbage += int64(keep)
	}
	// keep is at least u.scan-relative safe: scan never precedes the unit's first NAL.
	if keep > 0 {
		u.shift(keep)
		return
	}
	if len(u.buf) < u.limit {
		nb := make([]byte, min(2*len(u.buf), u.limit))
		copy(nb, u.buf[:u.n])
		u.buf = nb
		return
	}
	u.oversized++
	u.lost = true
	u.log.Warn("pipe source: access unit larger than the limit dropped", "limit", u.limit, "dropped_units", u.oversized)
	u.nals, u.sawVCL = u.nals[:0], false
	u.skipping = true
	u.shift(u.n - 2)
}

// shift discards the first k bytes of the buffer, moving offsets along.
func (u *unitReader) shift(k int) {
	copy(u.buf, u.buf[k:u.n])
	u.n -= k
	u.scan = max(u.scan-k, 0)
	if u.nal >= 0 {
		u.nal = max(u.nal-k, 0)
	}
	for i := range u.nals {
		u.nals[i].start -= k
		u.nals[i].end -= k
	}
}
