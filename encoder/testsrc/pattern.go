package testsrc

import "time"

// The test card, in 4x4-pixel blocks: colour bars across the top (static, so they cost bits
// only in IDR pictures), a white bar sweeping across the band below them, and two lines of
// text: the wall-clock capture time (UTC, to the millisecond) and the frame counter. Only
// the sweeping bar and the digits that change touch macroblocks from one frame to the next.

var (
	background = color{32, 128, 128}
	white      = color{235, 128, 128}
	// 75% colour bars (BT.601): white, yellow, cyan, green, magenta, red, blue.
	colorBars = [...]color{
		{180, 128, 128}, {162, 44, 142}, {131, 156, 44}, {112, 72, 58},
		{84, 184, 198}, {65, 100, 212}, {35, 212, 114},
	}
)

// counterDigits is the width of the frame counter; it wraps after 10^6 frames (9 hours at
// 30 fps), which is plenty for reading latency and spotting stalls.
const counterDigits = 6

// layout is where the test card's parts are, in blocks, for one picture size.
type layout struct {
	w, h           int // displayed blocks (the coded picture may have more, never shown)
	barsH          int // colour bars: rows [0, barsH)
	bandY, bandH   int // sweeping bar band: rows [bandY, bandY+bandH)
	sweepW, stepW  int // sweeping bar width and advance per frame
	scale          int // blocks per font dot
	clockX, clockY int
	countX, countY int
	utc            bool // room for the " UTC" suffix
}

func newLayout(width, height, fps int) layout {
	l := layout{w: width / 4, h: height / 4}
	round4 := func(v int) int { return v / 4 * 4 } // to whole macroblocks: cheaper edges
	l.barsH = round4(l.h / 4)
	l.bandY = l.barsH
	l.bandH = max(round4(l.h/4), min(4, l.h-l.barsH))
	l.sweepW = max(2, l.w/16)
	// Cross the picture in about four seconds, at least one block per frame.
	l.stepW = max(1, l.w/(4*fps))
	// The largest font that fits the clock line across and both lines below the band.
	const clockChars = len("00:00:00.000 UTC")
	textTop := l.bandY + l.bandH + 1
	l.scale = max(1, min((l.w-4)/(clockChars*(glyphW+1)), (l.h-textTop)/(2*(glyphH+2))))
	lineH := (glyphH + 2) * l.scale
	l.clockX = 2 * l.scale
	l.clockY = textTop
	if free := l.h - l.clockY - 2*lineH; free > 0 {
		l.clockY += free / 2 // centre the two lines in the space left
	}
	l.countX, l.countY = l.clockX, l.clockY+lineH
	l.utc = l.clockX+clockChars*(glyphW+1)*l.scale <= l.w
	return l
}

// sweepX is the left edge of the sweeping bar in frame n: it goes back and forth across the
// picture in whole steps, so consecutive frames always differ there, turning points
// included.
func (l *layout) sweepX(n int) int {
	span := l.w - l.sweepW // > 0: MinSize leaves room for two bar widths
	step := min(l.stepW, span)
	k := span / step // steps from one side to the other
	i := n % (2 * k)
	if i < 0 { // negative frame numbers run the sweep backwards
		i += 2 * k
	}
	if i > k {
		i = 2*k - i
	}
	return i * step
}

// text buffers for the two lines, reused from frame to frame.
type cardText struct {
	clock [len("00:00:00.000 UTC")]byte
	count [1 + counterDigits]byte
}

// render draws frame n, captured at t, into p.
func (l *layout) render(p *picture, txt *cardText, n int, t time.Time) {
	p.fillRect(0, 0, p.y.w, p.y.h, background)
	if l.barsH > 0 {
		bw := max(1, l.w/len(colorBars))
		if bw >= 4 {
			bw = bw / 4 * 4
		}
		for i, c := range colorBars {
			x1 := (i + 1) * bw
			if i == len(colorBars)-1 {
				x1 = l.w
			}
			p.fillRect(i*bw, 0, x1, l.barsH, c)
		}
	}
	x := l.sweepX(n)
	p.fillRect(x, l.bandY, x+l.sweepW, l.bandY+l.bandH, white)

	clock := formatClock(&txt.clock, t)
	if !l.utc {
		clock = clock[:len("00:00:00.000")]
	}
	p.drawText(l.clockX, l.clockY, l.scale, clock, white)
	p.drawText(l.countX, l.countY, l.scale, formatCounter(&txt.count, n), white)
}

// formatClock writes "hh:mm:ss.mmm UTC" without allocating.
func formatClock(b *[len("00:00:00.000 UTC")]byte, t time.Time) []byte {
	t = t.UTC()
	h, m, s := t.Clock()
	ms := t.Nanosecond() / int(time.Millisecond)
	put2 := func(i, v int) { b[i], b[i+1] = byte('0'+v/10), byte('0'+v%10) }
	put2(0, h)
	b[2] = ':'
	put2(3, m)
	b[5] = ':'
	put2(6, s)
	b[8] = '.'
	b[9], b[10], b[11] = byte('0'+ms/100), byte('0'+ms/10%10), byte('0'+ms%10)
	copy(b[12:], " UTC")
	return b[:]
}

// formatCounter writes "#nnnnnn": the frame number modulo 10^counterDigits.
func formatCounter(b *[1 + counterDigits]byte, n int) []byte {
	b[0] = '#'
	if n < 0 {
		n = -n
	}
	for i := counterDigits; i >= 1; i-- {
		b[i] = byte('0' + n%10)
		n /= 10
	}
	return b[:]
}
