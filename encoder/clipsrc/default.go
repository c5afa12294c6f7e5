package clipsrc

import (
	_ "embed" // for the default clip
	"fmt"

	"github.com/camerad/camerad/encoder"
)

// defaultClip is the clip camerad streams when it has no camera: 4 s of ffmpeg's testsrc2 at
// 640x360, 30 fps, constrained baseline, an IDR with SPS/PPS every 30 frames. It is made by
// scripts/make-clip.sh, which documents every encoder option. A string, so nobody can
// modify the embedded bytes.
//
//go:embed clip.h264
var defaultClip string

// Default returns a copy of the embedded default clip (Annex-B).
func Default() []byte { return []byte(defaultClip) }

// NewDefault returns a source that loops the embedded default clip at its own frame rate.
func NewDefault(pool *encoder.Pool) (*Source, error) {
	s, err := New(Default(), 0, pool)
	if err != nil {
		return nil, fmt.Errorf("embedded clip: %w", err)
	}
	return s, nil
}
