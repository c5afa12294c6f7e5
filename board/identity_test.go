package board

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for p, c := range files {
		full := filepath.Join(root, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(c), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestSerialSources(t *testing.T) {
	cases := []struct {
		name  string
		files map[string]string
		want  string
	}{
		{"device tree", map[string]string{
			"proc/device-tree/serial-number": "10000000a1b2c3d4\x00",
			"proc/cpuinfo":                   "Serial\t\t: 1111\n",
			"etc/machine-id":                 "abc\n"}, "10000000a1b2c3d4"},
		{"sysfs device tree", map[string]string{
			"sys/firmware/devicetree/base/serial-number": "00000000deadbeef\x00"}, "00000000deadbeef"},
		{"cpuinfo", map[string]string{
			"proc/cpuinfo": "processor\t: 0\nHardware\t: BCM2835\nSerial\t\t: 00000000cafef00d\nModel\t\t: Raspberry Pi 3\n"}, "00000000cafef00d"},
		{"zero cpuinfo falls to machine-id", map[string]string{
			"proc/cpuinfo":   "Serial\t\t: 0000000000000000\n",
			"etc/machine-id": "0123456789abcdef0123456789abcdef\n"}, "0123456789abcdef0123456789abcdef"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := serialAt(writeTree(t, c.files))
			if err != nil || got != c.want {
				t.Fatalf("serialAt = %q, %v; want %q", got, err, c.want)
			}
		})
	}
	if _, err := serialAt(t.TempDir()); err == nil {
		t.Fatal("no source, no error")
	}
}

func TestModelAndCompatible(t *testing.T) {
	root := writeTree(t, map[string]string{
		"proc/device-tree/model":      "Raspberry Pi 4 Model B Rev 1.4\x00",
		"proc/device-tree/compatible": "raspberrypi,4-model-b\x00brcm,bcm2711\x00",
	})
	if got := modelAt(root); got != "Raspberry Pi 4 Model B Rev 1.4" {
		t.Errorf("model %q", got)
	}
	if got := compatibleAt(root); !slices.Equal(got, []string{"raspberrypi,4-model-b", "brcm,bcm2711"}) {
		t.Errorf("compatible %q", got)
	}
	if modelAt(t.TempDir()) != "" {
		t.Error("model without device tree")
	}
}
