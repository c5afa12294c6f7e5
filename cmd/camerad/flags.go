package main

import (
	"flag"
	"fmt"
	"io"
)

// cliOptions are the flags that are actions rather than settings.
type cliOptions struct {
	version     bool
	listCameras bool
}

// parseArgs reads flags over the config file (when -config is given) over the defaults: a
// flag given on the command line wins over the file.
func parseArgs(args []string, stderr io.Writer) (Config, cliOptions, error) {
	def := DefaultConfig()
	fs := flag.NewFlagSet("camerad", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var opts cliOptions
	configPath := fs.String("config", "", "YAML config file (camera.yml); flags override it")
	defaults := fs.String("defaults", string(StandardDefaults),
		"defaults under the config file and flags: standard, or image (the SD-card image's: listen :554)")
	fs.BoolVar(&opts.version, "version", false, "print the version and exit")
	fs.BoolVar(&opts.listCameras, "list-cameras", false, "list V4L2 cameras, their formats, sizes, rates and controls, and exit")
	flags := Config{}
	fs.StringVar(&flags.Listen, "listen", def.Listen, "RTSP listen address")
	fs.StringVar(&flags.RTSPSListen, "rtsps-listen", def.RTSPSListen, "RTSP over TLS (rtsps://) listen address, e.g. :8322 (default off)")
	fs.StringVar(&flags.TLSCert, "tls-cert", def.TLSCert, "PEM certificate for RTSPS (default: self-signed, made once and kept beside the config file, or in ~/.config/camerad)")
	fs.StringVar(&flags.TLSKey, "tls-key", def.TLSKey, "PEM private key for -tls-cert")
	fs.StringVar(&flags.ONVIFListen, "onvif-listen", def.ONVIFListen, "ONVIF (HTTP device service + WS-Discovery) and web page listen address; empty turns both off")
	fs.StringVar(&flags.Path, "path", def.Path, "stream path")
	fs.StringVar(&flags.Source, "source", def.Source, "auto | testsrc | clip | file:<path> | pipe:<command> | stdin | /dev/videoN")
	fs.IntVar(&flags.Width, "width", def.Width, "picture width")
	fs.IntVar(&flags.Height, "height", def.Height, "picture height")
	fs.IntVar(&flags.FPS, "fps", def.FPS, "frames per second")
	fs.IntVar(&flags.Bitrate, "bitrate", def.Bitrate, "hardware encoder bitrate in bit/s (0: the encoder's default)")
	fs.IntVar(&flags.GOP, "gop", def.GOP, "frames between keyframes (0 = one second)")
	fs.BoolVar(&flags.HFlip, "hflip", def.HFlip, "mirror the picture left-right (cameras)")
	fs.BoolVar(&flags.VFlip, "vflip", def.VFlip, "turn the picture upside down (cameras)")
	fs.IntVar(&flags.Rotation, "rotation", def.Rotation, "0 or 180, a half turn: both flips, combined with -hflip and -vflip (cameras)")
	fs.IntVar(&flags.UDPPort, "udp-port", def.UDPPort, "server RTP port for UDP viewers, even (0 = any free pair)")
	fs.StringVar(&flags.Multicast, "multicast", def.Multicast, "group for multicast viewers: auto | off | <group>:<even port>")
	fs.StringVar(&flags.Username, "username", def.Username, "require this user (Digest auth; Basic too over RTSPS)")
	fs.StringVar(&flags.Password, "password", def.Password, "password for -username")
	fs.IntVar(&flags.MaxViewers, "max-viewers", def.MaxViewers, "concurrent viewers; more are refused with 503")
	fs.StringVar(&flags.Hostname, "hostname", def.Hostname, "mDNS host name without .local (default camera-<serial>)")
	mdns := fs.Bool("mdns", true, "announce <hostname>.local and _rtsp._tcp with mDNS")
	fs.StringVar(&flags.LogLevel, "log-level", def.LogLevel, "debug | info | warn | error")
	if err := fs.Parse(args); err != nil {
		return def, opts, err
	}
	if fs.NArg() > 0 {
		return def, opts, fmt.Errorf("unexpected argument %q (flags only; see -h)", fs.Arg(0))
	}
	cfg, err := Defaults(*defaults).Config()
	if err != nil {
		return def, opts, err
	}
	if *configPath != "" {
		if cfg, err = LoadConfigOver(*configPath, cfg); err != nil {
			return def, opts, err
		}
	}
	fs.Visit(func(f *flag.Flag) {
		switch f.Name {
		case "listen":
			cfg.Listen = flags.Listen
		case "rtsps-listen":
			cfg.RTSPSListen = flags.RTSPSListen
		case "tls-cert":
			cfg.TLSCert = flags.TLSCert
		case "tls-key":
			cfg.TLSKey = flags.TLSKey
		case "onvif-listen":
			cfg.ONVIFListen = flags.ONVIFListen
		case "path":
			cfg.Path = flags.Path
		case "source":
			cfg.Source = flags.Source
		case "width":
			cfg.Width = flags.Width
		case "height":
			cfg.Height = flags.Height
		case "fps":
			cfg.FPS = flags.FPS
		case "bitrate":
			cfg.Bitrate = flags.Bitrate
		case "gop":
			cfg.GOP = flags.GOP
		case "hflip":
			cfg.HFlip = flags.HFlip
		case "vflip":
			cfg.VFlip = flags.VFlip
		case "rotation":
			cfg.Rotation = flags.Rotation
		case "udp-port":
			cfg.UDPPort = flags.UDPPort
		case "multicast":
			cfg.Multicast = flags.Multicast
		case "username":
			cfg.Username = flags.Username
		case "password":
			cfg.Password = flags.Password
		case "max-viewers":
			cfg.MaxViewers = flags.MaxViewers
		case "hostname":
			cfg.Hostname = flags.Hostname
		case "mdns":
			v := *mdns
			cfg.MDNS = &v
		case "log-level":
			cfg.LogLevel = flags.LogLevel
		case "config", "defaults", "version", "list-cameras":
		default:
			err = fmt.Errorf("flag -%s is not wired into the config (bug)", f.Name)
		}
	})
	if err != nil {
		return def, opts, err
	}
	if err := cfg.Validate(); err != nil {
		return def, opts, fmt.Errorf("invalid settings: %w", err)
	}
	return cfg, opts, nil
}
