package testsrc

import "bytes"

// plane is one colour component at block resolution: a luma sample per 4x4 block of pixels,
// or a chroma sample per 4x4 block of chroma (8x8 pixels in 4:2:0). The encoder never needs
// finer detail, because every block it codes reconstructs to a single value.
type plane struct {
	w, h int
	pix  []uint8
}

func newPlane(w, h int) plane { return plane{w: w, h: h, pix: make([]uint8, w*h)} }

func (p *plane) at(x, y int) uint8 { return p.pix[y*p.w+x] }

func (p *plane) set(x, y int, v uint8) { p.pix[y*p.w+x] = v }

// fill sets the rectangle [x0,x1)x[y0,y1), clipped to the plane. The first row is filled by
// doubling copies and the others copied from it: the background fill of a whole picture
// every frame is the largest part of drawing it.
func (p *plane) fill(x0, y0, x1, y1 int, v uint8) {
	x0, y0 = max(x0, 0), max(y0, 0)
	x1, y1 = min(x1, p.w), min(y1, p.h)
	if x0 >= x1 || y0 >= y1 {
		return
	}
	first := p.pix[y0*p.w+x0 : y0*p.w+x1]
	first[0] = v
	for n := 1; n < len(first); n *= 2 {
		copy(first[n:], first[:n])
	}
	for y := y0 + 1; y < y1; y++ {
		copy(p.pix[y*p.w+x0:y*p.w+x1], first)
	}
}

// picture is a frame at block resolution, padded to whole macroblocks.
type picture struct {
	y, cb, cr plane
}

func newPicture(mbW, mbH int) picture {
	return picture{
		y:  newPlane(mbW*4, mbH*4),
		cb: newPlane(mbW*2, mbH*2),
		cr: newPlane(mbW*2, mbH*2),
	}
}

// color is a Y'CbCr triple (BT.601, limited range).
type color struct{ y, cb, cr uint8 }

// fillRect paints luma blocks [x0,x1)x[y0,y1) (in 4x4-pixel units) with c. Chroma is painted
// for the chroma blocks whose top-left luma block lies inside the rectangle, so rectangles on
// even block coordinates get exact colour and others a colour edge half a block off.
func (p *picture) fillRect(x0, y0, x1, y1 int, c color) {
	p.y.fill(x0, y0, x1, y1, c.y)
	cx0, cy0 := (x0+1)/2, (y0+1)/2
	cx1, cy1 := (x1+1)/2, (y1+1)/2
	p.cb.fill(cx0, cy0, cx1, cy1, c.cb)
	p.cr.fill(cx0, cy0, cx1, cy1, c.cr)
}

func (p *picture) copyFrom(q *picture) {
	copy(p.y.pix, q.y.pix)
	copy(p.cb.pix, q.cb.pix)
	copy(p.cr.pix, q.cr.pix)
}

// changedMBs sets changed[mby*mbW+mbx] for every macroblock that differs between p and q
// and clears the others. Rows are compared whole first: most of them are equal.
func (p *picture) changedMBs(q *picture, mbW int, changed []bool) {
	clear(changed)
	mark := func(a, b *plane, blocksPerMB int) {
		for y := range a.h {
			ra, rb := a.pix[y*a.w:(y+1)*a.w], b.pix[y*b.w:(y+1)*b.w]
			if bytes.Equal(ra, rb) {
				continue
			}
			row := changed[(y/blocksPerMB)*mbW:]
			for x := range ra {
				if ra[x] != rb[x] {
					row[x/blocksPerMB] = true
				}
			}
		}
	}
	mark(&p.y, &q.y, 4)
	mark(&p.cb, &q.cb, 2)
	mark(&p.cr, &q.cr, 2)
}
