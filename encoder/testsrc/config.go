package testsrc

import (
	"fmt"
	"log/slog"
)

// Defaults for zero Config fields.
const (
	DefaultWidth  = 1280
	DefaultHeight = 720
	DefaultFPS    = 30
)

// Limits on Config. MinSize is one macroblock (the clock needs about 300x100 pixels to show
// in full; smaller pictures show part of it). Sizes and rates must also fit H.264 level 5.2:
// 36864 macroblocks a frame, 2073600 a second.
const (
	MinSize = 16
	MaxSize = 4096
	MaxFPS  = 120
	MaxGOP  = 3600
)

// Config chooses the stream's shape. Zero values select the defaults: 1280x720, 30 fps, one
// IDR a second (GOP = FPS).
type Config struct {
	Width, Height int // pixels; even, MinSize..MaxSize; not multiples of 16 are cropped
	FPS           int // frames per second, 1..MaxFPS
	GOP           int // frames from one IDR to the next, 1..MaxGOP
	// Logger receives the source's log lines; nil means slog.Default().
	Logger *slog.Logger
}

// withDefaults fills zero fields.
func (c Config) withDefaults() Config {
	if c.Width == 0 {
		c.Width = DefaultWidth
	}
	if c.Height == 0 {
		c.Height = DefaultHeight
	}
	if c.FPS == 0 {
		c.FPS = DefaultFPS
	}
	if c.GOP == 0 {
		c.GOP = c.FPS
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return c
}

func (c Config) validate() error {
	for _, d := range [...]struct {
		name string
		v    int
	}{{"Width", c.Width}, {"Height", c.Height}} {
		if d.v < MinSize || d.v > MaxSize {
			return fmt.Errorf("testsrc: %s %d out of range %d..%d", d.name, d.v, MinSize, MaxSize)
		}
		if d.v%2 != 0 {
			// 4:2:0 cropping works in units of two pixels.
			return fmt.Errorf("testsrc: %s %d is odd; H.264 4:2:0 needs an even size", d.name, d.v)
		}
	}
	if c.FPS < 1 || c.FPS > MaxFPS {
		return fmt.Errorf("testsrc: FPS %d out of range 1..%d", c.FPS, MaxFPS)
	}
	if c.GOP < 1 || c.GOP > MaxGOP {
		return fmt.Errorf("testsrc: GOP %d out of range 1..%d", c.GOP, MaxGOP)
	}
	return nil
}
