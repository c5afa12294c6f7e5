package board

import (
	"errors"
	"os"
	"slices"
	"strings"
	"testing"
)

func loadFixture(t *testing.T) *ModuleDeps {
	t.Helper()
	f, err := os.Open("testdata/modules.dep")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	d, err := ParseModulesDep(f)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func TestModuleName(t *testing.T) {
	for in, want := range map[string]string{
		"bcm2835-v4l2":                        "bcm2835_v4l2",
		"kernel/drivers/net/virtio_net.ko":    "virtio_net",
		"kernel/fs/fat/vfat.ko.xz":            "vfat",
		"videobuf2-common":                    "videobuf2_common",
		"kernel/drivers/usb/core/usbcore.ko:": "usbcore",
	} {
		if got := ModuleName(strings.TrimSuffix(in, ":")); got != want {
			t.Errorf("ModuleName(%q) = %q, want %q", in, got, want)
		}
	}
}

// before reports whether every dependency appears before the module needing it.
func checkTopological(t *testing.T, d *ModuleDeps, order []string) {
	t.Helper()
	pos := map[string]int{}
	for i, m := range order {
		if _, dup := pos[m]; dup {
			t.Fatalf("%s loaded twice: %v", m, order)
		}
		pos[m] = i
	}
	for _, m := range order {
		for _, dep := range d.deps[m] {
			if pos[dep] > pos[m] {
				t.Errorf("%s loaded before its dependency %s: %v", m, dep, order)
			}
		}
	}
}

func TestLoadOrderCamera(t *testing.T) {
	d := loadFixture(t)
	order, err := d.LoadOrder([]string{"bcm2835-v4l2", "uvcvideo", "virtio_net"})
	if err != nil {
		t.Fatal(err)
	}
	checkTopological(t, d, order)
	if order[0] != "vchiq" && order[0] != "mc" {
		t.Errorf("first module %s is not a leaf", order[0])
	}
	for _, want := range []string{"vchiq", "bcm2835_mmal_vchiq", "videodev", "videobuf2_common", "mc",
		"uvc", "usbcore", "usb_common", "failover", "net_failover", "virtio_net", "bcm2835_v4l2", "uvcvideo"} {
		if !slices.Contains(order, want) {
			t.Errorf("order lacks %s: %v", want, order)
		}
	}
	if len(order) != 16 {
		t.Errorf("got %d modules, want 16 (each once): %v", len(order), order)
	}
}

func TestLoadOrderUnknownModuleKeepsOthers(t *testing.T) {
	d := loadFixture(t)
	order, err := d.LoadOrder([]string{"no_such_driver", "virtio_net"})
	if !errors.Is(err, ErrUnknownModule) || !strings.Contains(err.Error(), "no_such_driver") {
		t.Fatalf("err = %v", err)
	}
	if strings.Join(order, " ") != "failover net_failover virtio_net" {
		t.Fatalf("order %v", order)
	}
}

func TestLoadOrderCycle(t *testing.T) {
	d, err := ParseModulesDep(strings.NewReader("a.ko: b.ko\nb.ko: a.ko\n"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.LoadOrder([]string{"a"}); err == nil || !strings.Contains(err.Error(), "cycle") {
		t.Fatalf("cycle not reported: %v", err)
	}
}

func TestParseModulesDepRejectsGarbage(t *testing.T) {
	if _, err := ParseModulesDep(strings.NewReader("this is not a dep line\n")); err == nil {
		t.Fatal("garbage accepted")
	}
}

func FuzzParseModulesDep(f *testing.F) {
	b, err := os.ReadFile("testdata/modules.dep")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(string(b))
	f.Add("a.ko: b.ko\nb.ko: a.ko\n")
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseModulesDep(strings.NewReader(s))
		if err != nil {
			return
		}
		names := make([]string, 0, len(d.file))
		for n := range d.file {
			names = append(names, n)
		}
		order, _ := d.LoadOrder(names)
		seen := map[string]bool{}
		for _, m := range order {
			if seen[m] {
				t.Fatalf("%s twice", m)
			}
			seen[m] = true
		}
	})
}
