package h264

import (
	"bytes"
	"encoding/hex"
	"math"
	"os"
	"testing"
)

func mustHex(s string) []byte {
	b, err := hex.DecodeString(s)
	if err != nil {
		panic(err)
	}
	return b
}

// SPSs written by x264 (ffmpeg 5.1, libx264 164), cut from their Annex-B output.
var (
	// 1920x1080 High 4.0, 25 fps: coded 1088 lines, cropped by 8; emulation prevention in VUI.
	x264HD = mustHex("67640028acd940780227e5c044000003000400000300c83c60c658")
	// 1280x720 High 4:2:2 3.1, 30000/1001 fps.
	x264HD422 = mustHex("677a001fbcd9405005bb011000003e90000ea600f1831960")
)

func TestParseSPS(t *testing.T) {
	hd := spsFields{profile: 100, level: 40, chromaFormat: 1, widthMBs: 120, heightMapUnits: 68,
		frameMBsOnly: true, crop: [4]uint32{0, 0, 0, 4}}
	with := func(f spsFields, change func(*spsFields)) spsFields {
		change(&f)
		return f
	}
	tests := []struct {
		name          string
		nalu          []byte
		width, height int
		profile       uint8
		level         uint8
		fps           float64
		plid          string
	}{
		{"x264 1080p high", x264HD, 1920, 1080, 100, 40, 25, "640028"},
		{"x264 720p high 4:2:2", x264HD422, 1280, 720, 122, 31, 30000.0 / 1001, "7a001f"},
		{"1080p high cropped", makeSPS(hd), 1920, 1080, 100, 40, 0, "640028"},
		{"1080p constrained baseline", makeSPS(with(hd, func(f *spsFields) { f.profile, f.constraints, f.level = 66, 0xc0, 41 })),
			1920, 1080, 66, 41, 0, "42c029"},
		{"1080i field pairs", makeSPS(with(hd, func(f *spsFields) { f.frameMBsOnly, f.heightMapUnits, f.crop[3] = false, 34, 2 })),
			1920, 1080, 100, 40, 0, "640028"},
		{"4:2:2 crop unit is one line", makeSPS(with(hd, func(f *spsFields) { f.profile, f.chromaFormat, f.crop[3] = 122, 2, 8 })),
			1920, 1080, 122, 40, 0, "7a0028"},
		{"4:4:4 crop unit is one pixel", makeSPS(with(hd, func(f *spsFields) {
			f.profile, f.chromaFormat, f.crop = 244, 3, [4]uint32{1, 1, 0, 8}
		})), 1918, 1080, 244, 40, 0, "f40028"},
		{"4:4:4 separate planes", makeSPS(with(hd, func(f *spsFields) {
			f.profile, f.chromaFormat, f.separatePlanes, f.crop = 244, 3, true, [4]uint32{1, 1, 0, 8}
		})), 1918, 1080, 244, 40, 0, "f40028"},
		{"monochrome", makeSPS(with(hd, func(f *spsFields) { f.chromaFormat, f.crop[3] = 0, 8 })), 1920, 1080, 100, 40, 0, "640028"},
		{"scaling matrices", makeSPS(with(hd, func(f *spsFields) { f.scalingMatrix = true })), 1920, 1080, 100, 40, 0, "640028"},
		{"scaling matrices 4:4:4", makeSPS(with(hd, func(f *spsFields) { f.profile, f.chromaFormat, f.scalingMatrix, f.crop[3] = 244, 3, true, 8 })),
			1920, 1080, 244, 40, 0, "f40028"},
		{"poc type 1", makeSPS(with(hd, func(f *spsFields) { f.pocType = 1 })), 1920, 1080, 100, 40, 0, "640028"},
		{"poc type 2", makeSPS(with(hd, func(f *spsFields) { f.pocType = 2 })), 1920, 1080, 100, 40, 0, "640028"},
		{"VUI without timing", makeSPS(with(hd, func(f *spsFields) { f.vui = true })), 1920, 1080, 100, 40, 0, "640028"},
		{"VUI 30 fps", makeSPS(with(hd, func(f *spsFields) { f.vui, f.timing, f.unitsInTick, f.timeScale = true, true, 1, 60 })),
			1920, 1080, 100, 40, 30, "640028"},
		{"VUI 29.97 fps, extended SAR, colour", makeSPS(with(hd, func(f *spsFields) {
			f.vui, f.extendedSAR, f.videoSignal, f.timing, f.unitsInTick, f.timeScale = true, true, true, true, 1001, 60000
		})), 1920, 1080, 100, 40, 60000.0 / 2002, "640028"},
		{"VUI zero units in tick", makeSPS(with(hd, func(f *spsFields) { f.vui, f.timing, f.unitsInTick, f.timeScale = true, true, 0, 60 })),
			1920, 1080, 100, 40, 0, "640028"},
		{"VUI units in tick 2^31 (2*units overflows 32 bits)", makeSPS(with(hd, func(f *spsFields) { f.vui, f.timing, f.unitsInTick, f.timeScale = true, true, 1<<31, 1 })),
			1920, 1080, 100, 40, 1 / float64(1<<32), "640028"},
		{"big SPS id", makeSPS(with(hd, func(f *spsFields) { f.id = 31 })), 1920, 1080, 100, 40, 0, "640028"},
		{"640x360 baseline", makeSPS(spsFields{profile: 66, constraints: 0xc0, level: 30, widthMBs: 40, heightMapUnits: 23,
			frameMBsOnly: true, crop: [4]uint32{0, 0, 0, 4}}), 640, 360, 66, 30, 0, "42c01e"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := ParseSPS(tt.nalu)
			if err != nil {
				t.Fatalf("ParseSPS(%x): %v", tt.nalu, err)
			}
			if s.Width != tt.width || s.Height != tt.height {
				t.Errorf("size = %dx%d, want %dx%d", s.Width, s.Height, tt.width, tt.height)
			}
			if s.ProfileIDC != tt.profile || s.LevelIDC != tt.level {
				t.Errorf("profile/level = %d/%d, want %d/%d", s.ProfileIDC, s.LevelIDC, tt.profile, tt.level)
			}
			if math.Abs(s.FrameRate-tt.fps) > 1e-9 {
				t.Errorf("frame rate = %v, want %v", s.FrameRate, tt.fps)
			}
			if got := s.ProfileLevelID(); got != tt.plid {
				t.Errorf("profile-level-id = %s, want %s", got, tt.plid)
			}
		})
	}
}

// TestParseSPSClip parses the SPS of the embedded default clip, as x264 wrote it.
func TestParseSPSClip(t *testing.T) {
	data, err := os.ReadFile("../clipsrc/clip.h264")
	if err != nil {
		t.Skipf("default clip not present: %v", err)
	}
	var spss [][]byte
	ForEachNALU(data, func(n []byte) {
		if TypeOf(n) == NALSPS {
			spss = append(spss, n)
		}
	})
	if len(spss) != 4 {
		t.Fatalf("clip has %d SPSs, want one per GOP (4)", len(spss))
	}
	for _, n := range spss {
		if !bytes.Equal(n, spss[0]) {
			t.Fatalf("repeated SPS differs: %x vs %x", n, spss[0])
		}
	}
	s, err := ParseSPS(spss[0])
	if err != nil {
		t.Fatal(err)
	}
	want := SPS{ProfileIDC: 66, ConstraintFlags: 0xc0, LevelIDC: 30, Width: 640, Height: 360, FrameRate: 30,
		ChromaFormatIDC: 1, BitDepthLuma: 8, BitDepthChroma: 8, Log2MaxFrameNum: 4, POCType: 2, FrameMBsOnly: true, MaxNumReorderFrames: 0}
	if s != want {
		t.Errorf("ParseSPS = %+v, want %+v", s, want)
	}
}

// TestParseSPSChromaAndDepth: the chroma format and bit depths that MP4's avcC repeats for the
// high profiles; other profiles imply 4:2:0 at 8 bits.
func TestParseSPSChromaAndDepth(t *testing.T) {
	tests := []struct {
		name          string
		fields        spsFields
		chroma, depth uint8
	}{
		{"baseline", spsFields{profile: 66, widthMBs: 10, heightMapUnits: 10, frameMBsOnly: true}, 1, 8},
		{"high 4:2:0", spsFields{profile: 100, chromaFormat: 1, widthMBs: 10, heightMapUnits: 10, frameMBsOnly: true}, 1, 8},
		{"high 4:2:2 10-bit", spsFields{profile: 122, chromaFormat: 2, extraBitDepth: 2, widthMBs: 10, heightMapUnits: 10, frameMBsOnly: true}, 2, 10},
		{"monochrome", spsFields{profile: 100, chromaFormat: 0, widthMBs: 10, heightMapUnits: 10, frameMBsOnly: true}, 0, 8},
	}
	for _, tt := range tests {
		s, err := ParseSPS(makeSPS(tt.fields))
		if err != nil || s.ChromaFormatIDC != tt.chroma || s.BitDepthLuma != tt.depth || s.BitDepthChroma != tt.depth {
			t.Errorf("%s: %+v, %v; want chroma format %d, %d bits", tt.name, s, err, tt.chroma, tt.depth)
		}
	}
}

func TestParseSPSErrors(t *testing.T) {
	hd := makeSPS(spsFields{profile: 100, level: 40, chromaFormat: 1, widthMBs: 120, heightMapUnits: 68, frameMBsOnly: true})
	tests := []struct {
		name string
		nalu []byte
	}{
		{"empty", nil},
		{"PPS", []byte{0x68, 0xce, 0x38, 0x80}},
		{"header only", []byte{0x67, 0x64, 0x00}},
		{"truncated", hd[:8]},
		{"width over 16384", makeSPS(spsFields{profile: 66, widthMBs: 1100, heightMapUnits: 10, frameMBsOnly: true})},
		{"cropped to nothing", makeSPS(spsFields{profile: 66, widthMBs: 10, heightMapUnits: 10, frameMBsOnly: true, crop: [4]uint32{40, 40, 0, 0}})},
		{"huge crop", makeSPS(spsFields{profile: 66, widthMBs: 10, heightMapUnits: 10, frameMBsOnly: true, crop: [4]uint32{1 << 31, 1 << 31, 0, 0}})},
		{"long Exp-Golomb", append([]byte{0x67, 0x42, 0, 0x1e}, make([]byte, 10)...)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if s, err := ParseSPS(tt.nalu); err == nil {
				t.Errorf("ParseSPS(%x) = %+v, want an error", tt.nalu, s)
			}
		})
	}
	// A truncated VUI is not a reason to reject a stream: the frame rate is a hint.
	vui := makeSPS(spsFields{profile: 66, widthMBs: 40, heightMapUnits: 30, frameMBsOnly: true, vui: true, timing: true, unitsInTick: 1, timeScale: 50})
	s, err := ParseSPS(vui[:len(vui)-5])
	if err != nil || s.Width != 640 || s.Height != 480 || s.FrameRate != 0 {
		t.Errorf("SPS with truncated VUI = %+v, %v; want 640x480 without frame rate", s, err)
	}
}

func FuzzParseSPS(f *testing.F) {
	f.Add(x264HD)
	f.Add(x264HD422)
	f.Add(makeSPS(spsFields{profile: 244, chromaFormat: 3, scalingMatrix: true, pocType: 1, widthMBs: 3, heightMapUnits: 2, vui: true, timing: true, unitsInTick: 1, timeScale: 2}))
	f.Add([]byte{0x67, 0x42, 0xc0, 0x1e})
	f.Fuzz(func(t *testing.T, nalu []byte) {
		s, err := ParseSPS(nalu)
		if err != nil {
			return
		}
		if s.Width <= 0 || s.Height <= 0 || s.Width > 16384 || s.Height > 32768 {
			t.Errorf("accepted picture size %dx%d", s.Width, s.Height)
		}
		if math.IsNaN(s.FrameRate) || math.IsInf(s.FrameRate, 0) || s.FrameRate < 0 {
			t.Errorf("frame rate %v", s.FrameRate)
		}
	})
}
