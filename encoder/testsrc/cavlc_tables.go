package testsrc

// The CAVLC code tables this encoder needs, transcribed from ITU-T H.264 (tables 9-5, 9-7,
// 9-8, 9-9 and 9-10) as bit strings so that they can be checked against the standard by eye.
// Every luma block camerad writes has nC == 0 (no macroblock ever carries AC coefficients),
// so only the 0 <= nC < 2 column of table 9-5 is needed, plus the chroma DC column (nC == -1).

// code is one variable-length code: its bits right-aligned in bits, len of them.
type code struct {
	bits uint16
	len  uint8
}

// parseCode turns "0101" into a code; an empty string is the zero code (an impossible
// combination in the table).
func parseCode(s string) code {
	var c code
	for _, ch := range s {
		c.bits = c.bits<<1 | uint16(ch-'0')
		c.len++
	}
	return c
}

func parseTable[T ~[]string](rows T) []code {
	out := make([]code, len(rows))
	for i, r := range rows {
		out[i] = parseCode(r)
	}
	return out
}

// coeffTokenNC0 is table 9-5 for 0 <= nC < 2, indexed [TotalCoeff][TrailingOnes].
var coeffTokenNC0 = func() (t [17][4]code) {
	rows := [17][4]string{
		{"1", "", "", ""},
		{"000101", "01", "", ""},
		{"00000111", "000100", "001", ""},
		{"000000111", "00000110", "0000101", "00011"},
		{"0000000111", "000000110", "00000101", "000011"},
		{"00000000111", "0000000110", "000000101", "0000100"},
		{"0000000001111", "00000000110", "0000000101", "00000100"},
		{"0000000001011", "0000000001110", "00000000101", "000000100"},
		{"0000000001000", "0000000001010", "0000000001101", "0000000100"},
		{"00000000001111", "00000000001110", "0000000001001", "00000000100"},
		{"00000000001011", "00000000001010", "00000000001101", "0000000001100"},
		{"000000000001111", "000000000001110", "00000000001001", "00000000001100"},
		{"000000000001011", "000000000001010", "000000000001101", "00000000001000"},
		{"0000000000001111", "000000000000001", "000000000001001", "000000000001100"},
		{"0000000000001011", "0000000000001110", "0000000000001101", "000000000001000"},
		{"0000000000000111", "0000000000001010", "0000000000001001", "0000000000001100"},
		{"0000000000000100", "0000000000000110", "0000000000000101", "0000000000001000"},
	}
	for i := range rows {
		for j := range rows[i] {
			t[i][j] = parseCode(rows[i][j])
		}
	}
	return t
}()

// coeffTokenChromaDC is table 9-5 for nC == -1 (4:2:0 chroma DC), [TotalCoeff][TrailingOnes].
var coeffTokenChromaDC = func() (t [5][4]code) {
	rows := [5][4]string{
		{"01", "", "", ""},
		{"000111", "1", "", ""},
		{"000100", "000110", "001", ""},
		{"000011", "0000011", "0000010", "000101"},
		{"000010", "00000011", "00000010", "0000000"},
	}
	for i := range rows {
		for j := range rows[i] {
			t[i][j] = parseCode(rows[i][j])
		}
	}
	return t
}()

// totalZeros4x4 is tables 9-7 and 9-8: [TotalCoeff][total_zeros] for 4x4 blocks.
var totalZeros4x4 = [16][]code{
	nil,
	parseTable([]string{"1", "011", "010", "0011", "0010", "00011", "00010", "000011", "000010", "0000011", "0000010", "00000011", "00000010", "000000011", "000000010", "000000001"}),
	parseTable([]string{"111", "110", "101", "100", "011", "0101", "0100", "0011", "0010", "00011", "00010", "000011", "000010", "000001", "000000"}),
	parseTable([]string{"0101", "111", "110", "101", "0100", "0011", "100", "011", "0010", "00011", "00010", "000001", "00001", "000000"}),
	parseTable([]string{"00011", "111", "0101", "0100", "110", "101", "100", "0011", "011", "0010", "00010", "00001", "00000"}),
	parseTable([]string{"0101", "0100", "0011", "111", "110", "101", "100", "011", "0010", "00001", "0001", "00000"}),
	parseTable([]string{"000001", "00001", "111", "110", "101", "100", "011", "010", "0001", "001", "000000"}),
	parseTable([]string{"000001", "00001", "101", "100", "011", "11", "010", "0001", "001", "000000"}),
	parseTable([]string{"000001", "0001", "00001", "011", "11", "10", "010", "001", "000000"}),
	parseTable([]string{"000001", "000000", "0001", "11", "10", "001", "01", "00001"}),
	parseTable([]string{"00001", "00000", "001", "11", "10", "01", "0001"}),
	parseTable([]string{"0000", "0001", "001", "010", "1", "011"}),
	parseTable([]string{"0000", "0001", "01", "1", "001"}),
	parseTable([]string{"000", "001", "1", "01"}),
	parseTable([]string{"00", "01", "1"}),
	parseTable([]string{"0", "1"}),
}

// totalZerosChromaDC is table 9-9a: [TotalCoeff][total_zeros] for 4:2:0 chroma DC.
var totalZerosChromaDC = [4][]code{
	nil,
	parseTable([]string{"1", "01", "001", "000"}),
	parseTable([]string{"1", "01", "00"}),
	parseTable([]string{"1", "0"}),
}

// runBefore is table 9-10: [min(zerosLeft, 7)][run_before].
var runBefore = [8][]code{
	nil,
	parseTable([]string{"1", "0"}),
	parseTable([]string{"1", "01", "00"}),
	parseTable([]string{"11", "10", "01", "00"}),
	parseTable([]string{"11", "10", "01", "001", "000"}),
	parseTable([]string{"11", "10", "011", "010", "001", "000"}),
	parseTable([]string{"11", "000", "001", "011", "010", "101", "100"}),
	parseTable([]string{"111", "110", "101", "100", "011", "010", "001", "0001", "00001", "000001", "0000001", "00000001", "000000001", "0000000001", "00000000001"}),
}
