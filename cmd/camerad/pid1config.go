package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"time"
)

// initConfig is camera.yml as PID 1 reads it for its own duties (the network, the RTSPS
// certificate), over the image's defaults, as the service will.
type initConfig struct {
	Path   string
	Exists bool   // the file is there: the service gets -config
	Config Config // the service's settings
	Err    error  // why the file is not usable; nil when it is, or is absent
}

// readInitConfig reads path over the image's defaults.
func readInitConfig(path string) initConfig {
	defaults, _ := ImageDefaults.Config()
	ic := initConfig{Path: path, Config: defaults}
	if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
		return ic
	}
	ic.Exists = true
	ic.Config, ic.Err = LoadConfigOver(path, defaults)
	return ic
}

// serviceArgs are the service's arguments under PID 1: the image's defaults, under
// camera.yml when there is one. No setting is passed as a flag, since a flag would override
// the file.
func serviceArgs(ic initConfig) []string {
	args := []string{"-defaults", string(ImageDefaults)}
	if ic.Exists {
		args = append(args, "-config", ic.Path)
	}
	return args
}

// bootWriter is the boot partition's Write (board.BootFS): the partition is writable only
// inside it.
type bootWriter interface {
	Write(fn func(dir string) error) error
}

// prepareRTSPSCert makes and keeps the self-signed RTSPS certificate, when the config asks
// for RTSPS without a certificate of its own and none fit is kept yet. It runs in PID 1
// before the service starts: the boot partition, where the certificate is kept beside
// camera.yml, is read-only to the service, which then finds it there (selfSigned, the same
// code, loads it) and keeps its fingerprint from boot to boot.
func prepareRTSPSCert(cfg Config, boot bootWriter, now time.Time, log *slog.Logger) error {
	if cfg.RTSPSListen == "" || cfg.TLSCert != "" || cfg.TLSKey != "" {
		return nil
	}
	path, err := selfSignedPath(cfg)
	if err != nil {
		return fmt.Errorf("rtsps certificate: %w", err)
	}
	if _, err := loadSelfSigned(path, certNames(cfg)); err == nil {
		return nil
	}
	if err := boot.Write(func(string) error {
		_, err := selfSigned(cfg, now, log)
		return err
	}); err != nil {
		return fmt.Errorf("rtsps certificate: %w", err)
	}
	return nil
}
