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
