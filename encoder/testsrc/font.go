package testsrc

// glyphW x glyphH is the built-in bitmap font's cell; characters advance by glyphW+1.
const (
	glyphW = 5
	glyphH = 7
)

// glyph is one character: row r, column c is lit when bit (glyphW-1-c) of rows[r] is set.
type glyph [glyphH]uint8

// fontRunes lists the characters the font draws; the picture needs only the clock, the frame
// counter and their labels.
const fontRunes = "0123456789:.#UTC "

// font holds the glyphs of fontRunes, in the same order. They are drawn for this package in the
// classic 5x7 style, one block per dot.
var font = [len(fontRunes)]glyph{
	rowsOf(".###.", "#...#", "#...#", "#...#", "#...#", "#...#", ".###."), // 0
	rowsOf("..#..", ".##..", "..#..", "..#..", "..#..", "..#..", ".###."), // 1
	rowsOf(".###.", "#...#", "....#", "...#.", "..#..", ".#...", "#####"), // 2
	rowsOf("#####", "...#.", "..#..", "...#.", "....#", "#...#", ".###."), // 3
	rowsOf("...#.", "..##.", ".#.#.", "#..#.", "#####", "...#.", "...#."), // 4
	rowsOf("#####", "#....", "####.", "....#", "....#", "#...#", ".###."), // 5
	rowsOf("..##.", ".#...", "#....", "####.", "#...#", "#...#", ".###."), // 6
	rowsOf("#####", "....#", "...#.", "..#..", ".#...", ".#...", ".#..."), // 7
	rowsOf(".###.", "#...#", "#...#", ".###.", "#...#", "#...#", ".###."), // 8
	rowsOf(".###.", "#...#", "#...#", ".####", "....#", "...#.", ".##.."), // 9
	rowsOf(".....", ".##..", ".##..", ".....", ".##..", ".##..", "....."), // :
	rowsOf(".....", ".....", ".....", ".....", ".....", ".##..", ".##.."), // .
	rowsOf(".#.#.", ".#.#.", "#####", ".#.#.", "#####", ".#.#.", ".#.#."), // #
	rowsOf("#...#", "#...#", "#...#", "#...#", "#...#", "#...#", ".###."), // U
	rowsOf("#####", "..#..", "..#..", "..#..", "..#..", "..#..", "..#.."), // T
	rowsOf(".###.", "#...#", "#....", "#....", "#....", "#...#", ".###."), // C
	rowsOf(".....", ".....", ".....", ".....", ".....", ".....", "....."), // space
}

func rowsOf(rows ...string) glyph {
	var g glyph
	for r, s := range rows {
		for c := range glyphW {
			if s[c] == '#' {
				g[r] |= 1 << (glyphW - 1 - c)
			}
		}
	}
	return g
}

// glyphFor returns the glyph of b; characters outside the font draw as blanks.
func glyphFor(b byte) *glyph {
	for i := range len(fontRunes) {
		if fontRunes[i] == b {
			return &font[i]
		}
	}
	return &font[len(font)-1]
}

// lit reports whether dot (c, r) of g is on.
func (g *glyph) lit(c, r int) bool { return g[r]>>(glyphW-1-c)&1 != 0 }

// drawText paints text with its top-left corner at block (x, y), each font dot scale x scale
// blocks, in fg; unlit dots are left as they are.
func (p *picture) drawText(x, y, scale int, text []byte, fg color) {
	for i, b := range text {
		g := glyphFor(b)
		ox := x + i*(glyphW+1)*scale
		for r := range glyphH {
			for c := range glyphW {
				if g.lit(c, r) {
					p.fillRect(ox+c*scale, y+r*scale, ox+(c+1)*scale, y+(r+1)*scale, fg)
				}
			}
		}
	}
}
