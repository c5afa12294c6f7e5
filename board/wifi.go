package board

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/mdlayher/wifi"
)

// wifiLink joins one WPA2-PSK network through nl80211, with the driver doing the 4-way
// handshake (brcmfmac's offload), so no wpa_supplicant is needed on the camera.
type wifiLink struct {
	log    *slog.Logger
	ifname string
	cfg    WiFi
	c      *wifi.Client
}

func (w *wifiLink) close() {
	if w.c != nil {
		w.c.Close()
	}
}

func (w *wifiLink) iface() (*wifi.Interface, error) {
	if w.c == nil {
		c, err := wifi.New()
		if err != nil {
			return nil, fmt.Errorf("nl80211: %w", err)
		}
		w.c = c
		if w.cfg.Country != "" {
			if err := c.SetRegulatoryRegion(w.cfg.Country, wifi.RegulatoryHintUser); err != nil {
				w.log.Warn("wifi country not set", "country", w.cfg.Country, "err", err)
			}
		}
	}
	ifs, err := w.c.Interfaces()
	if err != nil {
		return nil, fmt.Errorf("wifi interfaces: %w", err)
	}
	for _, ifi := range ifs {
		if ifi.Name == w.ifname {
			return ifi, nil
		}
	}
	return nil, fmt.Errorf("wifi interface %s not found", w.ifname)
}

// ensureConnected returns nil when associated to the SSID, connecting first if needed.
func (w *wifiLink) ensureConnected(ctx context.Context) error {
	ifi, err := w.iface()
	if err != nil {
		return err
	}
	if bss, err := w.c.BSS(ifi); err == nil && bss.SSID == w.cfg.SSID && bss.Status == wifi.BSSStatusAssociated {
		return nil
	}
	if w.cfg.PSK == "" {
		err = w.c.Connect(ifi, w.cfg.SSID)
	} else {
		err = w.c.ConnectWPAPSK(ifi, w.cfg.SSID, w.cfg.PSK)
	}
	if errors.Is(err, wifi.ErrNotSupported) {
		return fmt.Errorf("driver cannot do the WPA2 handshake itself (no 4-way handshake offload): %w", err)
	}
	if err != nil {
		return fmt.Errorf("connect to %q: %w", w.cfg.SSID, err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		if bss, err := w.c.BSS(ifi); err == nil && bss.Status == wifi.BSSStatusAssociated {
			w.log.Info("wifi associated", "if", w.ifname, "ssid", w.cfg.SSID, "bssid", bss.BSSID)
			return nil
		}
		sleepCtx(ctx, 500*time.Millisecond)
	}
	return fmt.Errorf("no association with %q within 20s (wrong password or out of range?)", w.cfg.SSID)
}
