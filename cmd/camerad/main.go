// Command camerad is IP-camera firmware: it serves the camera's H.264 over RTSP
// (rtsp://<host>:8554/stream), announces itself with mDNS, and without a camera serves a
// built-in test picture.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/camerad/camerad/board"
	"github.com/camerad/camerad/discovery/onvif"
	"github.com/camerad/camerad/encoder"
	"github.com/camerad/camerad/rtspsrv"
)

// version is set at build time (-ldflags "-X main.version=...").
var version = "dev"

// Exit codes.
const (
	exitOK      = 0
	exitFailure = 1
	exitUsage   = 2
)

func main() {
	if handled, code := runAsInit(slog.New(slog.NewTextHandler(os.Stderr, nil))); handled {
		os.Exit(code)
	}
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is main without the process: it parses args, serves until SIGINT/SIGTERM, and returns
// the exit code.
func run(args []string, stdout, stderr io.Writer) int {
	cfg, opts, err := parseArgs(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if err != nil {
		fmt.Fprintln(stderr, "camerad:", err)
		return exitUsage
	}
	if opts.version {
		fmt.Fprintln(stdout, "camerad", version)
		return exitOK
	}
	if opts.listCameras {
		if err := listCameras(stdout); err != nil {
			fmt.Fprintln(stderr, "camerad:", err)
			return exitFailure
		}
		return exitOK
	}
	level, _ := parseLogLevel(cfg.LogLevel)
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	tlsCfg, err := rtspsTLSConfig(cfg, log)
	if err != nil {
		fmt.Fprintln(stderr, "camerad:", err)
		return exitUsage
	}

	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	if err := serve(ctx, cfg, tlsCfg, log); err != nil {
		log.Error("camerad stopped", "err", err)
		return exitFailure
	}
	return exitOK
}

// serve wires source → stream → RTSP server → discovery (mDNS, ONVIF) and runs them until
// ctx ends. With tlsCfg the server also speaks RTSPS on cfg.RTSPSListen.
func serve(ctx context.Context, cfg Config, tlsCfg *tls.Config, log *slog.Logger) error {
	// The ports first: if one is taken, say so before a camera is opened for nothing.
	ln, err := listen(cfg.Listen, "listen")
	if err != nil {
		return err
	}
	defer ln.Close()
	var tlsLn net.Listener
	if tlsCfg != nil {
		if tlsLn, err = listen(cfg.RTSPSListen, "rtsps_listen"); err != nil {
			return err
		}
		defer tlsLn.Close()
	}
	var onvifLn net.Listener // nil: ONVIF off
	if cfg.ONVIFListen != "" {
		if onvifLn, err = listen(cfg.ONVIFListen, "onvif_listen"); err != nil {
			return err
		}
		defer onvifLn.Close()
	}
	port := ln.Addr().(*net.TCPAddr).Port

	pool := encoder.NewPool()
	src, desc, err := openSource(cfg, pool, log)
	if err != nil {
		return err
	}
	log.Info("source", "kind", desc)

	streamCfg := rtspsrv.StreamConfig{Logger: log}
	if kr, ok := src.(encoder.KeyframeRequester); ok {
		streamCfg.Keyframes = kr
	}
	stream := rtspsrv.NewStream(streamCfg)
	defer stream.Close()

	serial, _ := board.Serial() // without one, the name is plain "camera"
	srv, err := rtspsrv.NewServer(rtspsrv.Config{
		Path:       cfg.Path,
		UDPPort:    cfg.UDPPort,
		UDPHost:    listenHost(cfg.Listen),
		Multicast:  multicastGroup(cfg.Multicast, cameraHostname(cfg, serial), cfg.Listen, cfg.UDPPort),
		MaxViewers: cfg.MaxViewers,
		Username:   cfg.Username,
		Password:   cfg.Password,
		ServerName: "camerad/" + version,
		CNAME:      "camerad@" + cameraHostname(cfg, serial) + ".local",
		Logger:     log,
	}, stream)
	if err != nil {
		return fmt.Errorf("rtsp server: %w", err)
	}

	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	srcDone := make(chan error, 1)
	go func() { srcDone <- src.Run(ctx, stream.Publish) }()
	srvDone := make(chan error, 1)
	go func() { srvDone <- srv.Serve(ln) }()
	var tlsDone chan error // nil, never ready, without RTSPS
	serving := []any{"url", streamURL("rtsp", ln.Addr(), cfg.Path)}
	if tlsLn != nil {
		tlsDone = make(chan error, 1)
		go func() { tlsDone <- srv.ServeTLS(tlsLn, tlsCfg) }()
		serving = append(serving, "rtsps_url", streamURL("rtsps", tlsLn.Addr(), cfg.Path))
	}
	if onvifLn != nil {
		serving = append(serving, "onvif_url", streamURL("http", onvifLn.Addr(), onvif.DevicePath))
	}
	discDone := startDiscovery(ctx, cfg, port, log)
	dev := onvifDevice(cfg, serial)
	rtspsPort := 0
	if tlsLn != nil {
		rtspsPort = tlsLn.Addr().(*net.TCPAddr).Port
	}
	page := webPage(cfg, dev, desc, port, rtspsPort, stream, srv, log)
	onvifDone := startONVIF(ctx, cfg, dev, onvifLn, port, stream, srv.MulticastGroup().IsValid(), page, log)
	statusDone := make(chan struct{})
	go func() {
		defer close(statusDone)
		logViewerStatus(ctx, srv.Viewers, statusInterval, log)
	}()

	multicast := "off"
	if g := srv.MulticastGroup(); g.IsValid() {
		multicast = g.String()
	} else if cfg.Multicast == "auto" && onlyIPv6(cfg.Listen) {
		multicast = "off (listen is IPv6; the group would be IPv4)"
	}
	log.Info("serving", append(serving, "udp_ports", srv.UDPPorts(), "multicast", multicast)...)
	if srv.MulticastGroup().IsValid() && !srv.MulticastRoutable() {
		// Common at boot, before DHCP brings a default gateway; checked again at each SETUP.
		log.Info("multicast: no route to the group yet (no default gateway?); multicast requests get 461 until there is one",
			"group", multicast)
	}
	var runErr error
	select {
	case <-ctx.Done():
		log.Info("shutting down")
	case err := <-srcDone:
		// Sources retry faults themselves; returning means the fault is permanent, or, for
		// -source stdin, that the input has ended: a normal end (exit status 0), like a signal.
		if errors.Is(err, io.EOF) {
			log.Info("source input ended; shutting down")
		} else {
			runErr = fmt.Errorf("source: %w", err)
		}
		srcDone <- nil
	case err := <-srvDone:
		runErr = fmt.Errorf("rtsp server: %w", err)
		srvDone <- nil
	case err := <-tlsDone:
		runErr = fmt.Errorf("rtsps server: %w", err)
		tlsDone <- nil
	}
	cancel(runErr)
	srv.Close() // RTCP BYE to every viewer, sockets closed
	<-srvDone
	if tlsDone != nil {
		<-tlsDone
	}
	select {
	case <-srcDone:
	case <-time.After(5 * time.Second):
		log.Warn("source did not stop within 5 s")
	}
	<-discDone
	<-onvifDone
	<-statusDone
	return runErr
}

// listen opens a TCP listener for the config field named field; a port that is taken gets a
// hint on what to do.
func listen(addr, field string) (net.Listener, error) {
	ln, err := net.Listen("tcp", addr)
	if errors.Is(err, syscall.EADDRINUSE) {
		hint := "-" + strings.ReplaceAll(field, "_", "-")
		if field == "listen" {
			hint += " (make run LISTEN=:8555)"
		}
		return nil, fmt.Errorf("%s %s: the port is taken (another camerad or RTSP server?); choose another with %s: %w",
			field, addr, hint, err)
	}
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", field, addr, err)
	}
	return ln, nil
}

// streamURL is the URL to print for people: a loopback address when listening on all
// interfaces, since that is what works on the machine itself.
func streamURL(scheme string, addr net.Addr, path string) string {
	host, port, _ := net.SplitHostPort(addr.String())
	if ip := net.ParseIP(host); ip == nil || ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return scheme + "://" + net.JoinHostPort(host, port) + path
}

func parseLogLevel(s string) (slog.Level, error) {
	var l slog.Level
	if err := l.UnmarshalText([]byte(strings.ToLower(s))); err != nil {
		return l, fmt.Errorf("%q is not one of debug, info, warn, error", s)
	}
	return l, nil
}

// listenHost is the address part of a listen address ("" for ":8554"): the UDP media ports
// bind there too.
func listenHost(listen string) string {
	host, _, err := net.SplitHostPort(listen)
	if err != nil {
		return ""
	}
	return host
}
