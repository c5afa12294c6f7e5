package board

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Serial returns the board's serial number: the Raspberry Pi's from the device tree or
// /proc/cpuinfo, else the systemd machine ID, so that every box has a stable, unique name
// (the discovery code derives its default hostname from it).
func Serial() (string, error) { return serialAt("/") }

// Model returns the device tree's model string ("Raspberry Pi 4 Model B Rev 1.4"), or ""
// on machines without one.
func Model() string { return modelAt("/") }

func serialAt(root string) (string, error) {
	for _, p := range []string{"proc/device-tree/serial-number", "sys/firmware/devicetree/base/serial-number"} {
		if s := dtString(filepath.Join(root, p)); s != "" {
			return s, nil
		}
	}
	if s := cpuinfoSerial(filepath.Join(root, "proc/cpuinfo")); s != "" {
		return s, nil
	}
	b, err := os.ReadFile(filepath.Join(root, "etc/machine-id"))
	if err == nil {
		if s := strings.TrimSpace(string(b)); s != "" {
			return s, nil
		}
		err = errors.New("empty")
	}
	return "", fmt.Errorf("board serial: no device-tree serial, cpuinfo Serial or machine-id: %w", err)
}

func modelAt(root string) string {
	for _, p := range []string{"proc/device-tree/model", "sys/firmware/devicetree/base/model"} {
		if s := dtString(filepath.Join(root, p)); s != "" {
			return s
		}
	}
	return ""
}

// dtString reads a device-tree string property (NUL-terminated).
func dtString(p string) string {
	b, err := os.ReadFile(p)
	if err != nil {
		return ""
	}
	if i := bytes.IndexByte(b, 0); i >= 0 {
		b = b[:i]
	}
	return strings.TrimSpace(string(b))
}

// cpuinfoSerial finds "Serial : 00000000abcdef01" (older Pi kernels), ignoring the all-zero
// value some kernels print when they do not know it.
func cpuinfoSerial(p string) string {
	f, err := os.Open(p)
	if err != nil {
		return ""
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || strings.TrimSpace(k) != "Serial" {
			continue
		}
		v = strings.TrimSpace(v)
		if strings.Trim(v, "0") == "" {
			return ""
		}
		return v
	}
	return ""
}

// compatibleAt returns the device tree's root "compatible" list (most specific first).
func compatibleAt(root string) []string {
	for _, p := range []string{"proc/device-tree/compatible", "sys/firmware/devicetree/base/compatible"} {
		b, err := os.ReadFile(filepath.Join(root, p))
		if err != nil {
			continue
		}
		var out []string
		for _, s := range bytes.Split(bytes.TrimRight(b, "\x00"), []byte{0}) {
			if len(s) > 0 {
				out = append(out, string(s))
			}
		}
		return out
	}
	return nil
}
