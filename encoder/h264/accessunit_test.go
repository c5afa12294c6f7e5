package h264

import "testing"

func TestStartsAccessUnit(t *testing.T) {
	tests := []struct {
		name   string
		nalu   []byte
		sawVCL bool
		want   bool
	}{
		{"anything before a picture", []byte{0x65, 0x88}, false, false},
		{"SPS before a picture", []byte{0x67, 0x42}, false, false},
		{"AUD after a slice", []byte{0x09, 0xf0}, true, true},
		{"SPS after a slice", []byte{0x67, 0x42}, true, true},
		{"PPS after a slice", []byte{0x68, 0xce}, true, true},
		{"SEI after a slice", []byte{0x06, 0x05}, true, true},
		{"IDR first_mb 0 after a slice", []byte{0x65, 0x88}, true, true},
		{"non-IDR first_mb 0 after a slice", []byte{0x41, 0x9a}, true, true},
		{"second slice of the same picture", []byte{0x41, 0x3c}, true, false},
		{"second IDR slice (first_mb 1)", []byte{0x65, 0x40}, true, false},
		{"slice with header byte only", []byte{0x41}, true, false},
		{"end of sequence after a slice", []byte{0x0a}, true, false},
		{"filler after a slice", []byte{0x0c, 0xff}, true, false},
		{"empty", nil, true, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := StartsAccessUnit(tt.nalu, tt.sawVCL); got != tt.want {
				t.Errorf("StartsAccessUnit(%x, %v) = %v, want %v", tt.nalu, tt.sawVCL, got, tt.want)
			}
		})
	}
}

func TestIsKeyframe(t *testing.T) {
	if IsKeyframe([][]byte{{0x67}, {0x68}, {0x41, 0x9a}}) {
		t.Error("P frame with parameter sets reported as keyframe")
	}
	if !IsKeyframe([][]byte{{0x09, 0xf0}, {0x67}, {0x68}, {0x06}, {0x65, 0x88}}) {
		t.Error("IDR unit not reported as keyframe")
	}
	if IsKeyframe(nil) {
		t.Error("empty unit reported as keyframe")
	}
}

func TestNALTypeString(t *testing.T) {
	for typ, want := range map[NALType]string{NALIDR: "IDR", NALSPS: "SPS", NALFUA: "FU-A", 0: "NAL(0)", 31: "NAL(31)", 14: "NAL(14)"} {
		if got := typ.String(); got != want {
			t.Errorf("NALType(%d).String() = %q, want %q", typ, got, want)
		}
	}
	if TypeOf([]byte{0x65}) != NALIDR || TypeOf(nil) != 0 || !NALSlice.IsVCL() || NALSEI.IsVCL() {
		t.Error("TypeOf/IsVCL disagree with table 7-1")
	}
}
