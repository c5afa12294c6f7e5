package encoder

import "context"

// Publish hands an access unit on; the callee takes over the caller's reference.
type Publish func(au *AccessUnit)

// Source produces access units until ctx ends. Run retries transient faults itself (a
// camera that disappears is reopened, a child process restarted) and returns only when ctx
// is done or the fault is permanent.
type Source interface {
	Run(ctx context.Context, publish Publish) error
}

// KeyframeRequester is implemented by sources that can make the next frame an IDR on demand
// (the test source, the M2M encoder, cameras with a force-keyframe control). The RTSP server
// calls it when a viewer joins so that its first picture comes within a frame or two.
type KeyframeRequester interface {
	RequestKeyframe()
}

// KeyframeSkipper is a KeyframeRequester whose keyframe on demand is no new picture but a skip
// ahead in its material (a file source jumps to its next IDR). Every viewer sees that jump, so
// the server asks for one only when nobody else is watching.
type KeyframeSkipper interface {
	KeyframeRequester
	KeyframeSkipsAhead() bool
}
