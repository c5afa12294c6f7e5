package rtspsrv

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/camerad/camerad/encoder"
)

// TestReaderStartsAtKeyframe: a reader that joins mid-GOP gets nothing until the next
// keyframe, then every frame in order, each the stream's own access unit.
func TestReaderStartsAtKeyframe(t *testing.T) {
	pool := encoder.NewPool()
	stream := NewStream(StreamConfig{})
	units := benchGOPUnits()
	for i := range 5 { // a keyframe and four P frames before the reader
		stream.Publish(benchAU(pool, units, i))
	}
	r := stream.NewReader()
	for i := 5; i < benchGOP+3; i++ {
		stream.Publish(benchAU(pool, units, i))
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	for i := benchGOP; i < benchGOP+3; i++ {
		f, err := r.Next(ctx)
		if err != nil {
			t.Fatalf("frame %d: %v", i, err)
		}
		want := time.Duration(i) * time.Second / benchFPS
		if f.PTS != want || f.Keyframe != (i == benchGOP) || len(f.NALUs) != len(units[i%benchGOP]) {
			t.Fatalf("frame %d: PTS %v keyframe %v %d NAL units; want PTS %v, the GOP's frame %d",
				i, f.PTS, f.Keyframe, len(f.NALUs), want, i%benchGOP)
		}
	}
	short, cancelShort := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancelShort()
	if _, err := r.Next(short); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Next when caught up: %v, want the context's deadline", err)
	}
	stream.Publish(benchAU(pool, units, benchGOP+3))
	if _, err := r.Next(ctx); err != nil { // held by the reader until Close
		t.Fatal(err)
	}
	r.Close()
	r.Close() // again: nothing
	stream.Close()
	if n := pool.Outstanding(); n != 0 {
		t.Fatalf("%d access units not returned to the pool after the reader and stream closed", n)
	}
}

// TestReaderSkipsWhenBehind: a reader more than MaxLagFrames behind is moved to the next
// keyframe, the frames it missed counted, instead of being handed stale frames.
func TestReaderSkipsWhenBehind(t *testing.T) {
	pool := encoder.NewPool()
	stream := NewStream(StreamConfig{RingFrames: 16, MaxLagFrames: 8})
	defer stream.Close()
	units := benchGOPUnits()
	r := stream.NewReader()
	defer r.Close()
	stream.Publish(benchAU(pool, units, 0))
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if f, err := r.Next(ctx); err != nil || !f.Keyframe {
		t.Fatalf("first frame: %+v %v", f.Keyframe, err)
	}
	for i := 1; i <= 20; i++ { // P frames the reader does not read: 20 behind
		stream.Publish(benchAU(pool, units, i))
	}
	go func() { // the rest of the GOP, then the next keyframe (frame 30)
		time.Sleep(20 * time.Millisecond)
		for i := 21; i <= benchGOP+1; i++ {
			stream.Publish(benchAU(pool, units, i))
		}
	}()
	f, err := r.Next(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if want := time.Duration(benchGOP) * time.Second / benchFPS; f.PTS != want || !f.Keyframe || r.Dropped() < 20 {
		t.Fatalf("after falling behind: PTS %v keyframe %v, %d dropped; want the next keyframe (PTS %v) and 20 or more drops",
			f.PTS, f.Keyframe, r.Dropped(), want)
	}
}

// TestReaderStreamClosed: a reader waiting for a frame learns that the stream has closed, and
// so does one with frames still unread.
func TestReaderStreamClosed(t *testing.T) {
	t.Run("behind", func(t *testing.T) {
		pool := encoder.NewPool()
		stream := NewStream(StreamConfig{})
		r := stream.NewReader()
		defer r.Close()
		units := benchGOPUnits()
		for i := range 3 {
			stream.Publish(benchAU(pool, units, i))
		}
		stream.Close()
		if _, err := r.Next(context.Background()); !errors.Is(err, ErrStreamClosed) {
			t.Fatalf("Next with frames unread after Close: %v", err)
		}
	})
	stream := NewStream(StreamConfig{})
	r := stream.NewReader()
	defer r.Close()
	errc := make(chan error, 1)
	go func() {
		_, err := r.Next(context.Background())
		errc <- err
	}()
	time.Sleep(20 * time.Millisecond)
	stream.Close()
	select {
	case err := <-errc:
		if !errors.Is(err, ErrStreamClosed) {
			t.Fatalf("Next after Close: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("Next still waiting after the stream closed")
	}
}
