package main

import (
	"fmt"
	"log/slog"
	"time"
)

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
