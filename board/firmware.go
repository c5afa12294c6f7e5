package board

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// FirmwareFolder is the folder on the boot partition where a user may put firmware files the
// image lacks, laid out as under /lib/firmware (firmware/brcm/brcmfmac43436-sdio.bin).
const FirmwareFolder = "firmware"

// firmwarePathParam is the kernel's own firmware folder setting (firmware_class.path,
// built in): searched before /lib/firmware.
const firmwarePathParam = "/sys/module/firmware_class/parameters/path"

// UseBootFirmware makes the kernel look for firmware in dir (the boot partition's firmware
// folder) before the initramfs's /lib/firmware, for the drivers loaded from now on. It
// returns how many files dir holds; an absent dir is fine (none), the setting is harmless.
func UseBootFirmware(dir string) (int, error) {
	return setFirmwarePath(firmwarePathParam, dir)
}

func setFirmwarePath(param, dir string) (int, error) {
	if len(dir) >= 256 { // the kernel's buffer
		return 0, fmt.Errorf("firmware path %q: longer than 255 bytes", dir)
	}
	if err := os.WriteFile(param, []byte(dir), 0o644); err != nil {
		return 0, fmt.Errorf("firmware path %s: %w", dir, err)
	}
	files := 0
	_ = filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && d.Type().IsRegular() {
			files++
		}
		return nil
	})
	return files, nil
}

// WiFiFirmwareHint says what a user can do when Wi-Fi is configured but no wireless
// interface appeared: the usual cause is the radio's firmware. missing are the firmware files
// the kernel reported it could not find (KernelLog.MissingFirmware); model is the board's
// (Model).
func WiFiFirmwareHint(model string, missing []string) string {
	var b strings.Builder
	b.WriteString("the Wi-Fi driver (brcmfmac) did not start, most likely because its firmware is missing")
	var brcm []string
	for _, m := range missing {
		if strings.HasPrefix(m, "brcm/") {
			brcm = append(brcm, m)
		}
	}
	if len(brcm) > 0 {
		fmt.Fprintf(&b, "; the kernel could not find %s", strings.Join(brcm, ", "))
	}
	if strings.Contains(model, "Zero 2 W") {
		b.WriteString("; the Pi Zero 2 W's radio needs brcmfmac43436-sdio.bin, .clm_blob and .txt " +
			"(some boards brcmfmac43430b0-sdio.*), which Debian does not ship and the image lacks")
	}
	b.WriteString("; copy the firmware files into the " + FirmwareFolder + "/brcm/ folder on the boot partition " +
		"(the CAMERAD drive) and restart, or use Ethernet")
	return b.String()
}
