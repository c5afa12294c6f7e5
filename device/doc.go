// Package device is camerad's side of V4L2 cameras: it lists the cameras and what they can
// do, opens one and negotiates the configured size and rate (preferring H.264 when the camera
// encodes), runs its own DQBUF/QBUF loop that hands each frame on while it still sits in the
// driver's mmap buffer, sets the camera's controls, and reopens the camera with backoff when
// it disappears, stalls or returns errored buffers.
//
// Everything goes through uapi.Sys (pure Go on golang.org/x/sys/unix, no cgo), so the ioctl
// sequences are unit-tested against uapitest.Fake and camera support works in every build,
// cgo or not. go4vl v0.5.0 is not used: it does not compile against Debian bookworm's kernel
// headers (no V4L2_PIX_FMT_AV1_FRAME/P012 in linux-libc-dev 6.1), and it cannot be faked.
package device
