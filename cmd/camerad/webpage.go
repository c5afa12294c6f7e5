package main

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/camerad/camerad/discovery/onvif"
	"github.com/camerad/camerad/discovery/webpage"
	"github.com/camerad/camerad/rtspsrv"
	"github.com/camerad/camerad/rtspsrv/digest"
	"github.com/camerad/camerad/rtspsrv/livemp4"
)

// rtpClockRate is H.264's RTP clock, the unit of the jitter viewers report.
const rtpClockRate = 90000

// webPage is the page a browser gets from the ONVIF listener (http://<name>.local/ on the
// image): the camera, its stream's address, the live picture (/live.mp4) and the viewers.
func webPage(cfg Config, dev onvif.Device, source string, rtspPort, rtspsPort int, stream *rtspsrv.Stream,
	srv *rtspsrv.Server, log *slog.Logger) http.Handler {
	started := time.Now()
	multicast := ""
	if g := srv.MulticastGroup(); g.IsValid() {
		multicast = g.String()
	}
	var login *digest.Verifier // nil: no login, everyone sees everything
	if cfg.Username != "" {
		login = digest.New(cfg.Username, cfg.Password, "camerad")
	}
	live := livemp4.New(livemp4.Config{Stream: stream, Logger: log})
	return webpage.New(webpage.Config{
		Login:  login,
		Live:   live,
		Logger: log,
		Status: func() webpage.Status {
			info := onvifStreamInfo(cfg, stream)
			st := webpage.Status{
				Name: dev.Name, Model: dev.Model, Firmware: dev.FirmwareVersion, Serial: dev.SerialNumber,
				Source: source, Started: started,
				Video: webpage.Video{Width: info.Width, Height: info.Height, FPS: info.FPS, Profile: info.Profile,
					Bitrate: info.Bitrate, GOP: info.GOP},
				RTSPPort: rtspPort, RTSPSPort: rtspsPort, Path: cfg.Path, Multicast: multicast,
			}
			for _, v := range srv.Viewers() {
				st.Viewers = append(st.Viewers, webpage.Viewer{
					Remote: v.Remote, Transport: v.Transport.String(),
					Frames: v.Frames, Bytes: v.Bytes, Dropped: v.Dropped,
					FractionLost: v.FractionLost, JitterMS: float64(v.Jitter) * 1000 / rtpClockRate,
				})
			}
			for _, v := range live.Views() {
				st.Viewers = append(st.Viewers, webpage.Viewer{
					Remote: v.Remote, Transport: "HTTP (MP4)", Frames: v.Frames, Bytes: v.Bytes, Dropped: v.Dropped,
				})
			}
			return st
		},
	})
}
