package board

import "strings"

// Machine is the kind of board camerad runs on, from the device tree's compatible list. It
// decides which drivers PID 1 loads: only what that board can have, so a Pi never gets
// virtio or vivid (whose fake cameras "auto" would otherwise pick up).
type Machine string

const (
	RaspberryPi Machine = "raspberrypi"
	// QEMUVirt is qemu-system-aarch64 -M virt: the image's hardware-free test bench.
	QEMUVirt Machine = "qemu-virt"
	Unknown  Machine = "unknown"
)

// DetectMachine classifies a device tree compatible list.
func DetectMachine(compatible []string) Machine {
	for _, c := range compatible {
		switch {
		case strings.HasPrefix(c, "raspberrypi,"), c == "brcm,bcm2837", c == "brcm,bcm2711":
			return RaspberryPi
		case c == "linux,dummy-virt":
			return QEMUVirt
		}
	}
	return Unknown
}

// CurrentMachine reads the running kernel's device tree.
func CurrentMachine() Machine { return DetectMachine(compatibleAt("/")) }

// bootFS is what reading camera.yml from the FAT boot partition needs on every machine.
var bootFS = []Module{{Name: "vfat"}, {Name: "nls_cp437"}, {Name: "nls_ascii"}}

// piModules: Raspberry Pi 3 / 4 / Zero 2 W with the Debian kernel. Order is only the wish
// order; dependencies come first regardless (LoadModules follows modules.dep).
var piModules = []Module{
	// SD card: sdhost (Pi 3, Zero 2 W) and the Arasan/iProc SDHCI (Pi 4 card; Wi-Fi SDIO on all).
	{Name: "bcm2835"}, {Name: "sdhci_iproc"},
	{Name: "bcm2835_wdt"},
	{Name: "bcm2835_rng"}, {Name: "iproc_rng200"},
	// CPU frequency scaling. The firmware starts the ARM cores at their lowest clock (600 MHz
	// on a Pi 3 or 4, half or less of their top speed) and raises it only when the kernel's
	// cpufreq driver asks: without these the test source and many viewers would run on half a
	// CPU. raspberrypi-cpufreq registers the cores' operating points for cpufreq-dt.
	{Name: "cpufreq_dt"}, {Name: "raspberrypi_cpufreq"},
	// Legacy camera stack through the VideoCore firmware (start_x.elf): it can hand out H.264.
	{Name: "vchiq"}, {Name: "bcm2835_mmal_vchiq"}, {Name: "bcm2835_v4l2"},
	// USB: dwc2 (Pi 3, Zero 2 W), the VL805 xHCI behind PCIe (Pi 4, whose firmware load needs
	// reset-raspberrypi), UVC webcams. dwc2's device tree node names a usb-nop-xceiv PHY
	// (phy-generic): without it dwc2 waits out the kernel's 10 s deferred-probe timeout, and
	// all of USB with it, the Pi 3 B's Ethernet (on USB) included.
	{Name: "phy_generic"}, {Name: "dwc2"}, {Name: "reset_raspberrypi"}, {Name: "xhci_pci"}, {Name: "uvcvideo"},
	// Ethernet: smsc95xx (Pi 3 B), lan78xx (Pi 3 B+), GENET with its PHY (Pi 4).
	{Name: "smsc95xx"}, {Name: "lan78xx"},
	{Name: "mdio_bcm_unimac"}, {Name: "broadcom"}, {Name: "genet"},
	// USB Ethernet adapters, the wired network of a Zero 2 W or a 3 A+ (which have no port):
	// Realtek RTL8152/8153, ASIX AX88772/AX88179, and the class drivers (CDC ECM/NCM, RNDIS)
	// that most others, phones sharing their connection and qemu's usb-net speak.
	{Name: "r8152"}, {Name: "asix"}, {Name: "ax88179_178a"},
	{Name: "cdc_ether"}, {Name: "cdc_ncm"}, {Name: "rndis_host"},
	// Wi-Fi (CYW43430/43455); the firmware does the WPA2 handshake (offload). After the boot
	// partition, whose firmware folder may hold the radio's firmware (the Zero 2 W's).
	{Name: "brcmfmac", AfterBoot: true},
}

// virtModules: qemu's virt machine as the image test boots it: virtio disk (the image itself)
// and network, the i6300esb watchdog, and vivid so the V4L2 core loads as it would on a Pi.
var virtModules = []Module{
	{Name: "virtio_pci"}, {Name: "virtio_blk"}, {Name: "virtio_net"},
	{Name: "i6300esb"},
	{Name: "vivid", Params: "n_devs=1 node_types=0x1"},
}

// SplitAfterBoot separates the modules to load once the boot partition is mounted (see
// Module.AfterBoot) from the others, keeping their order.
func SplitAfterBoot(mods []Module) (early, afterBoot []Module) {
	for _, m := range mods {
		if m.AfterBoot {
			afterBoot = append(afterBoot, m)
		} else {
			early = append(early, m)
		}
	}
	return early, afterBoot
}

// Modules returns what to load on m. Unknown machines get the union: loading a driver for
// absent hardware is harmless, missing one is not.
func Modules(m Machine) []Module {
	out := append([]Module(nil), bootFS...)
	switch m {
	case RaspberryPi:
		return append(out, piModules...)
	case QEMUVirt:
		return append(out, virtModules...)
	}
	out = append(out, piModules...)
	for _, v := range virtModules {
		if v.Name != "vivid" {
			out = append(out, v)
		}
	}
	return out
}

// ImageModules lists every module the image must carry (the builder adds dependencies).
func ImageModules() []string {
	var names []string
	for _, set := range [][]Module{bootFS, piModules, virtModules} {
		for _, m := range set {
			names = append(names, m.Name)
		}
	}
	return names
}

// FirmwareFiles are the /lib/firmware paths the image carries for its drivers: brcmfmac's
// firmware, CLM blobs and per-board NVRAM for the Pi 3 B/B+/4 and Zero 2 W radios, and the
// signed wireless regulatory database cfg80211 reads for the configured country.
var FirmwareFiles = []string{
	"brcm/brcmfmac43430-sdio.bin",
	"brcm/brcmfmac43430-sdio.clm_blob",
	"brcm/brcmfmac43430-sdio.txt",
	"brcm/brcmfmac43430-sdio.raspberrypi,3-model-b.txt",
	"brcm/brcmfmac43455-sdio.bin",
	"brcm/brcmfmac43455-sdio.clm_blob",
	"brcm/brcmfmac43455-sdio.txt",
	"brcm/brcmfmac43455-sdio.raspberrypi,3-model-b-plus.txt",
	"brcm/brcmfmac43455-sdio.raspberrypi,4-model-b.txt",
	"brcm/brcmfmac43456-sdio.bin",
	"brcm/brcmfmac43456-sdio.clm_blob",
	"brcm/brcmfmac43456-sdio.txt",
	"regulatory.db",
	"regulatory.db.p7s",
}
