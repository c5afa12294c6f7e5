package m2m

import (
	"context"
	"errors"
	"testing"
	"time"
	"unsafe"

	"github.com/camerad/camerad/device"
	"github.com/camerad/camerad/device/uapi"
	"github.com/camerad/camerad/device/uapi/uapitest"
)

// oddEncoder is the fake kernel with a driver that answers oddly: edit changes what DQBUF on
// the CAPTURE (coded) queue returns, and with hung set, poll never reports a coded frame.
type oddEncoder struct {
	*uapitest.Fake
	edit func(*uapi.BufferMplane, *uapi.Plane)
	hung bool
}

func (o *oddEncoder) Ioctl(fd int, req uint, arg unsafe.Pointer) error {
	err := o.Fake.Ioctl(fd, req, arg)
	if err != nil || req != uapi.VIDIOC_DQBUF || o.edit == nil {
		return err
	}
	if b := (*uapi.BufferMplane)(arg); b.Type == uapi.BufTypeVideoCaptureMplane {
		o.edit(b, b.Planes)
	}
	return nil
}

func (o *oddEncoder) Poll(fd int, events int16, timeoutMS int) (int16, error) {
	if o.hung {
		time.Sleep(5 * time.Millisecond)
		return 0, nil
	}
	return o.Fake.Poll(fd, events, timeoutMS)
}

// drainWhileSubmitting submits frames until Drain returns (or 2 s pass) and returns its error
// and how many coded frames reached fn.
func drainWhileSubmitting(t *testing.T, sys *oddEncoder, stall time.Duration) (error, int) {
	t.Helper()
	cfg := testConfig(sys.Fake)
	cfg.Sys, cfg.StallTimeout = sys, stall
	e, err := Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		e.Close()
		assertNoLeaks(t, sys.Fake)
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	done := make(chan error, 1)
	coded := 0
	go func() {
		defer func() {
			if r := recover(); r != nil {
				t.Errorf("Drain panicked: %v", r)
				done <- nil
			}
		}()
		done <- e.Drain(ctx, func(Coded) error { coded++; return nil })
	}()
	for i := 0; ; i++ {
		select {
		case err := <-done:
			return err, coded
		case <-time.After(2 * time.Millisecond):
		}
		if err := e.Submit(make([]byte, 1000), time.Duration(i)*time.Millisecond); err != nil {
			t.Fatalf("Submit %d: %v", i, err)
		}
	}
}

// TestDrainMalformedCodedBuffers: coded buffers that carry nothing usable (flagged errored,
// data past their end, an offset past the data) are requeued without a panic and never
// reach fn; an encoder that returns nothing else is a fault for the caller to reopen.
func TestDrainMalformedCodedBuffers(t *testing.T) {
	for name, edit := range map[string]func(*uapi.BufferMplane, *uapi.Plane){
		"error flag":                 func(b *uapi.BufferMplane, _ *uapi.Plane) { b.Flags |= uapi.BufFlagError },
		"bytesused past the buffer":  func(_ *uapi.BufferMplane, p *uapi.Plane) { p.BytesUsed = 1 << 30 },
		"data_offset past bytesused": func(_ *uapi.BufferMplane, p *uapi.Plane) { p.DataOffset = p.BytesUsed + 1 },
	} {
		t.Run(name, func(t *testing.T) {
			fake := uapitest.New(map[string]*uapitest.Node{DefaultPath: codecNode()})
			err, coded := drainWhileSubmitting(t, &oddEncoder{Fake: fake, edit: edit}, time.Second)
			if !errors.Is(err, device.ErrErroredBuffers) || coded != 0 {
				t.Errorf("Drain = %v with %d frames passed on; want ErrErroredBuffers and none", err, coded)
			}
		})
	}
}

// TestDrainHungEncoder: an encoder that takes raw frames and returns no coded ones is a
// stall, reported after StallTimeout (the camera streams on, so only the encoder can tell).
func TestDrainHungEncoder(t *testing.T) {
	fake := uapitest.New(map[string]*uapitest.Node{DefaultPath: codecNode()})
	start := time.Now()
	err, _ := drainWhileSubmitting(t, &oddEncoder{Fake: fake, hung: true}, 100*time.Millisecond)
	if !errors.Is(err, device.ErrStalled) {
		t.Fatalf("Drain = %v, want ErrStalled", err)
	}
	if d := time.Since(start); d < 100*time.Millisecond {
		t.Errorf("stall reported after %v, before the 100ms StallTimeout", d)
	}
}
