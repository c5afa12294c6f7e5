package uapi

// FourCC builds a V4L2 pixel format code.
func FourCC(a, b, c, d byte) uint32 {
	return uint32(a) | uint32(b)<<8 | uint32(c)<<16 | uint32(d)<<24
}

// Pixel formats camerad understands.
var (
	PixFmtH264   = FourCC('H', '2', '6', '4')
	PixFmtMJPEG  = FourCC('M', 'J', 'P', 'G')
	PixFmtYUV420 = FourCC('Y', 'U', '1', '2')
	PixFmtNV12   = FourCC('N', 'V', '1', '2')
	PixFmtYUYV   = FourCC('Y', 'U', 'Y', 'V')
	PixFmtFWHT   = FourCC('F', 'W', 'H', 'T') // vicodec's codec: lets the M2M path run on a stock kernel
)

// FourCCString renders a pixel format code as its four characters.
func FourCCString(f uint32) string {
	b := []byte{byte(f), byte(f >> 8), byte(f >> 16), byte(f >> 24)}
	for i, c := range b {
		if c < ' ' || c > '~' {
			b[i] = '?'
		}
	}
	return string(b)
}
