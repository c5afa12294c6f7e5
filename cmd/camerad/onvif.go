package main

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"time"

	"github.com/camerad/camerad/board"
	"github.com/camerad/camerad/discovery/onvif"
	"github.com/camerad/camerad/rtspsrv"
)

// onvifDevice is what the camera says about itself over ONVIF.
func onvifDevice(cfg Config, serial string) onvif.Device {
	model := board.Model() // e.g. "Raspberry Pi 4 Model B Rev 1.4"
	hardware := model
	if model == "" { // a PC: NVRs show "<manufacturer> <model>", so not "camerad camerad"
		model = "Linux " + runtime.GOARCH
		hardware = runtime.GOOS + "/" + runtime.GOARCH
	}
	return onvif.Device{
		Name:            cameraHostname(cfg, serial),
		Manufacturer:    "camerad",
		Model:           model,
		FirmwareVersion: version,
		SerialNumber:    serial,
		HardwareID:      hardware,
	}
}

// startONVIF serves the ONVIF device and media services on ln, with page at its other paths,
// and answers WS-Discovery probes until ctx ends; the returned channel closes when both have
// stopped (WS-Discovery's Bye sent). ln is nil when ONVIF is off. WS-Discovery failing to
// start is logged, not fatal: NVRs can still be given the device service's address by hand.
func startONVIF(ctx context.Context, cfg Config, dev onvif.Device, ln net.Listener, rtspPort int, stream *rtspsrv.Stream,
	multicast bool, page http.Handler, log *slog.Logger) <-chan struct{} {
	done := make(chan struct{})
	if ln == nil {
		close(done)
		return done
	}
	log = log.With("component", "onvif")
	srv, err := onvif.NewServer(onvif.Config{
		Device:    dev,
		RTSPPort:  rtspPort,
		RTSPPath:  cfg.Path,
		Stream:    func() onvif.StreamInfo { return onvifStreamInfo(cfg, stream) },
		Multicast: multicast,
		Username:  cfg.Username,
		Password:  cfg.Password,
		Page:      page,
		Logger:    log,
	})
	if err != nil { // the settings were validated: this is a bug, but not worth the stream
		log.Error("ONVIF off", "err", err)
		ln.Close()
		close(done)
		return done
	}
	httpPort := ln.Addr().(*net.TCPAddr).Port
	httpDone := make(chan struct{})
	go func() {
		defer close(httpDone)
		if err := srv.Serve(ctx, ln); err != nil {
			log.Warn("ONVIF device service stopped", "err", err)
		}
	}()
	wsdDone := make(chan struct{})
	if ifaces, why := onvifDiscoveryInterfaces(ln.Addr()); why != "" {
		log.Info("ONVIF discovery off: "+why, "device_service", streamURL("http", ln.Addr(), onvif.DevicePath))
		close(wsdDone)
	} else {
		go func() {
			defer close(wsdDone)
			r, err := onvif.NewResponder(onvif.DiscoveryConfig{Device: dev, HTTPPort: httpPort, Interfaces: ifaces, Logger: log})
			if err == nil {
				err = r.Run(ctx)
			}
			if err != nil {
				log.Warn("ONVIF discovery off: NVRs must be given the device service's address", "err", err,
					"device_service", streamURL("http", ln.Addr(), onvif.DevicePath))
			}
		}()
	}
	go func() {
		<-httpDone
		<-wsdDone
		close(done)
	}()
	return done
}

// onvifDiscoveryInterfaces is where WS-Discovery may announce the device service at addr:
// every interface when it listens on all addresses; only the interface that has its address
// otherwise, since elsewhere the announced address would not answer. why says why discovery
// is off: a loopback address, or one no interface has.
func onvifDiscoveryInterfaces(addr net.Addr) (ifaces []string, why string) {
	tcp, ok := addr.(*net.TCPAddr)
	if !ok || tcp.IP == nil || tcp.IP.IsUnspecified() {
		return nil, ""
	}
	if tcp.IP.IsLoopback() {
		return nil, "onvif_listen is a loopback address, which nothing on the LAN can reach"
	}
	all, err := net.Interfaces()
	if err != nil {
		return nil, fmt.Sprintf("list interfaces: %v", err)
	}
	for _, ifc := range all {
		addrs, _ := ifc.Addrs()
		for _, a := range addrs {
			if n, ok := a.(*net.IPNet); ok && n.IP.Equal(tcp.IP) {
				return []string{ifc.Name}, ""
			}
		}
	}
	return nil, fmt.Sprintf("no interface has onvif_listen's address %s", tcp.IP)
}

// onvifStreamInfo describes the stream from its SPS when the source has sent one (the clip,
// files and pipes have their own size and rate), else from the settings.
func onvifStreamInfo(cfg Config, stream *rtspsrv.Stream) onvif.StreamInfo {
	info := onvif.StreamInfo{Width: cfg.Width, Height: cfg.Height, FPS: cfg.FPS}
	if spec, err := parseSourceSpec(cfg.Source); err == nil && spec.encodesToSettings() {
		info.Bitrate, info.GOP = cfg.Bitrate, cfg.GOP
		if info.GOP == 0 {
			info.GOP = cfg.FPS // one keyframe a second
		}
	}
	// An ONVIF request must not wait long for a source that is still starting.
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	ps, err := stream.ParameterSets(ctx)
	if err == nil {
		info.Width, info.Height = ps.Info.Width, ps.Info.Height
		if ps.Info.FrameRate > 0 {
			info.FPS = int(ps.Info.FrameRate + 0.5)
		}
		info.Profile = h264ProfileName(ps.Info.ProfileIDC)
	}
	return info
}

// h264ProfileName is ONVIF's name (tt:H264Profile) for an SPS's profile_idc; the profiles
// above High (High 10, 4:2:2, ...) are High's extensions, the closest ONVIF has.
func h264ProfileName(idc uint8) string {
	switch idc {
	case 66:
		return "Baseline"
	case 77:
		return "Main"
	case 88:
		return "Extended"
	case 0:
		return ""
	default:
		return "High"
	}
}
