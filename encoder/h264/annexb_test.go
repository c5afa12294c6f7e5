package h264

import (
	"bytes"
	"fmt"
	"testing"
)

func TestForEachNALU(t *testing.T) {
	tests := []struct {
		name string
		in   []byte
		want [][]byte
	}{
		{"empty", nil, nil},
		{"no start code", []byte{0x65, 1, 2, 3}, nil},
		{"only zeros", make([]byte, 9), nil},
		{"3-byte start codes", []byte{0, 0, 1, 0x67, 1, 0, 0, 1, 0x68, 2}, [][]byte{{0x67, 1}, {0x68, 2}}},
		{"4-byte start codes", []byte{0, 0, 0, 1, 0x67, 1, 0, 0, 0, 1, 0x68, 2}, [][]byte{{0x67, 1}, {0x68, 2}}},
		{"mixed start codes", []byte{0, 0, 0, 1, 0x09, 0xf0, 0, 0, 1, 0x65, 7, 0, 0, 0, 1, 0x41, 9}, [][]byte{{0x09, 0xf0}, {0x65, 7}, {0x41, 9}}},
		{"trailing zeros", []byte{0, 0, 1, 0x65, 1, 2, 0, 0, 0, 0, 0, 0, 1, 0x41, 3, 0, 0}, [][]byte{{0x65, 1, 2}, {0x41, 3}}},
		{"garbage prefix", []byte{0xff, 0x12, 0, 7, 0, 0, 1, 0x67, 0x42}, [][]byte{{0x67, 0x42}}},
		{"garbage prefix ending in zeros", []byte{0x33, 0, 0, 0, 0, 0, 1, 0x67}, [][]byte{{0x67}}},
		{"empty units skipped", []byte{0, 0, 1, 0, 0, 1, 0x67, 0, 0, 1}, [][]byte{{0x67}}},
		{"start code at the end", []byte{0, 0, 1, 0x41, 5, 0, 0, 1}, [][]byte{{0x41, 5}}},
		{"emulation prevention kept", []byte{0, 0, 1, 0x06, 0, 0, 3, 1, 0x80}, [][]byte{{0x06, 0, 0, 3, 1, 0x80}}},
		{"00 00 02 is not a start code", []byte{0, 0, 1, 0x41, 0, 0, 2, 7}, [][]byte{{0x41, 0, 0, 2, 7}}},
		{"start code split over the fast skip", []byte{0, 0, 1, 0x41, 9, 9, 9, 9, 0, 0, 1, 0x01}, [][]byte{{0x41, 9, 9, 9, 9}, {0x01}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := SplitAnnexB(tt.in)
			if fmt.Sprint(got) != fmt.Sprint(tt.want) {
				t.Errorf("SplitAnnexB(%x) = %x, want %x", tt.in, got, tt.want)
			}
		})
	}
}

// TestForEachNALUAliases checks the zero-copy promise: every unit is a window into the input.
func TestForEachNALUAliases(t *testing.T) {
	in := []byte{0, 0, 0, 1, 0x67, 1, 2, 0, 0, 1, 0x68, 3}
	ForEachNALU(in, func(n []byte) {
		n[0] |= 0x80 // visible in the input only if n aliases it
	})
	if in[4] != 0xe7 || in[10] != 0xe8 {
		t.Errorf("NAL units do not alias the input: %x", in)
	}
}

func TestAppendAnnexBRoundTrip(t *testing.T) {
	nalus := [][]byte{{0x67, 0x42, 0, 0x1e}, {0x68, 0xce}, {0x65, 0, 0, 3, 0, 0x88}}
	b := AppendAnnexB([]byte{0xaa}, nalus...)
	if !bytes.HasPrefix(b, []byte{0xaa, 0, 0, 0, 1, 0x67}) {
		t.Fatalf("AppendAnnexB did not append after dst with a 4-byte start code: %x", b)
	}
	got := SplitAnnexB(b)
	if fmt.Sprint(got) != fmt.Sprint(nalus) {
		t.Errorf("round trip = %x, want %x", got, nalus)
	}
}

func FuzzForEachNALU(f *testing.F) {
	f.Add([]byte{0, 0, 0, 1, 0x67, 1, 0, 0, 1, 0x68, 0, 0, 0})
	f.Add([]byte{1, 2, 0, 0, 1, 0, 0, 0, 1, 0x65})
	f.Add([]byte{0, 0, 3, 0, 0, 1, 1})
	f.Fuzz(func(t *testing.T, in []byte) {
		total := 0
		ForEachNALU(in, func(n []byte) {
			if len(n) == 0 {
				t.Fatal("empty NAL unit")
			}
			if n[len(n)-1] == 0 {
				t.Fatalf("NAL unit %x ends in a zero byte", n)
			}
			if bytes.Contains(n, []byte{0, 0, 1}) {
				t.Fatalf("NAL unit %x contains a start code", n)
			}
			if !aliases(in, n) {
				t.Fatal("NAL unit is not a sub-slice of the input")
			}
			total += len(n)
		})
		if total > len(in) {
			t.Fatalf("%d NAL bytes from %d input bytes", total, len(in))
		}
		// What ForEachNALU returns, written back as Annex-B, splits into the same units.
		units := SplitAnnexB(in)
		again := SplitAnnexB(AppendAnnexB(nil, units...))
		if fmt.Sprint(units) != fmt.Sprint(again) {
			t.Fatalf("re-split %x != %x", again, units)
		}
	})
}

// aliases reports whether sub lies within b's memory.
func aliases(b, sub []byte) bool {
	if len(sub) == 0 || len(b) == 0 {
		return false
	}
	for i := range b {
		if &b[i] == &sub[0] {
			return i+len(sub) <= len(b)
		}
	}
	return false
}
