package webpage

import "time"

// Status is what the page shows: a snapshot taken for each request.
type Status struct {
	Name     string // the camera's network name, as in <name>.local
	Model    string
	Firmware string // camerad's version
	Serial   string
	Source   string // where the picture comes from, e.g. "test source 1280x720@30"
	Started  time.Time
	Video    Video
	// Ports of the RTSP and RTSPS listeners (RTSPS 0: off) and the stream's path: the page
	// builds URLs from them with the host the browser used.
	RTSPPort, RTSPSPort int
	Path                string
	Multicast           string // the group, or "" when multicast is off
	Viewers             []Viewer
}

// Video describes the stream being served.
type Video struct {
	Width, Height int
	FPS           int    // 0: unknown
	Profile       string // H.264 profile ("Baseline", "Main", "High"); "" unknown
	Bitrate       int    // bit/s as set for the encoder; 0 when the source decides
	GOP           int    // frames between keyframes as set; 0 when the source decides
}

// Viewer is one player being served, with its counters since it started.
type Viewer struct {
	Remote    string // address:port of its RTSP connection
	Transport string // "udp", "tcp" or "multicast"
	Frames    uint64
	Bytes     uint64
	Dropped   uint64 // frames skipped because it fell behind
	// From its RTCP receiver reports; zero until it sends one.
	FractionLost float64 // 0 to 1, over the last report's interval
	JitterMS     float64
}
