package main

import (
	"context"
	"log/slog"

	"github.com/camerad/camerad/board"
	"github.com/camerad/camerad/discovery"
)

// cameraHostname is the camera's name on the LAN, without .local: the configured one, or
// camera-<serial>.
func cameraHostname(cfg Config, serial string) string {
	if cfg.Hostname != "" {
		return cfg.Hostname
	}
	return discovery.DefaultHostname(serial)
}

// cameraInstance is the name players browsing the LAN list the camera under: the configured
// hostname as the user wrote it ("garden-camera"), or "camerad ABCD" to go with the default
// camera-abcd.
func cameraInstance(cfg Config, serial string) string {
	if cfg.Hostname != "" {
		return cfg.Hostname
	}
	return discovery.DefaultInstance(serial)
}

// startDiscovery announces the camera with mDNS until ctx ends; the returned channel closes
// when the goodbye has been sent. A failure to start is logged, not fatal: the stream works
// without discovery.
func startDiscovery(ctx context.Context, cfg Config, port int, log *slog.Logger) <-chan struct{} {
	done := make(chan struct{})
	if !cfg.MDNSEnabled() {
		close(done)
		return done
	}
	serial, err := board.Serial()
	if err != nil {
		log.Debug("no board serial or machine id; mDNS name will be plain \"camera\" (renamed on conflict)", "err", err)
	}
	host := cameraHostname(cfg, serial)
	txt := map[string]string{"path": cfg.Path, "version": version}
	if model := board.Model(); model != "" {
		txt["model"] = model
	}
	r, err := discovery.New(discovery.Config{
		Hostname: host,
		Instance: cameraInstance(cfg, serial),
		Port:     port,
		TXT:      txt,
		Logger:   log.With("component", "mdns"),
	})
	if err != nil {
		log.Warn("mDNS disabled", "err", err)
		close(done)
		return done
	}
	log.Info("announcing on the LAN", "host", host+".local", "service", "_rtsp._tcp")
	go func() {
		defer close(done)
		if err := r.Run(ctx); err != nil {
			log.Warn("mDNS stopped", "err", err)
		}
	}()
	return done
}
