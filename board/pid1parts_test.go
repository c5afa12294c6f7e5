package board

import (
	"bytes"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
)

func TestParseKernelArgs(t *testing.T) {
	a := ParseKernelArgs("console=ttyAMA0 panic=10 camerad.test camerad.poweroff_after=90s camerad.ntp=10.0.2.2:1123 camerad.=x quiet\n")
	if !a.Bool("test") || a["poweroff_after"] != "90s" || a["ntp"] != "10.0.2.2:1123" || len(a) != 3 {
		t.Fatalf("args %v", a)
	}
	if ParseKernelArgs("console=tty1 panic=10").Bool("test") {
		t.Fatal("test mode on a camera's cmdline")
	}
}

func TestDetectMachine(t *testing.T) {
	for _, c := range []struct {
		compat []string
		want   Machine
	}{
		{[]string{"raspberrypi,4-model-b", "brcm,bcm2711"}, RaspberryPi},
		{[]string{"raspberrypi,model-zero-2-w", "brcm,bcm2837"}, RaspberryPi},
		{[]string{"linux,dummy-virt"}, QEMUVirt},
		{[]string{"pine64,rockpro64"}, Unknown},
		{nil, Unknown},
	} {
		if got := DetectMachine(c.compat); got != c.want {
			t.Errorf("%v: %s, want %s", c.compat, got, c.want)
		}
	}
	names := func(ms []Module) []string {
		var out []string
		for _, m := range ms {
			out = append(out, m.Name)
		}
		return out
	}
	pi, virt := names(Modules(RaspberryPi)), names(Modules(QEMUVirt))
	if slices.Contains(pi, "vivid") || slices.Contains(pi, "virtio_net") || !slices.Contains(pi, "bcm2835_v4l2") || !slices.Contains(pi, "vfat") {
		t.Errorf("pi modules %v", pi)
	}
	if !slices.Contains(virt, "virtio_net") || slices.Contains(virt, "brcmfmac") {
		t.Errorf("virt modules %v", virt)
	}
	// A board we do not know must never get vivid's fake cameras.
	if slices.Contains(names(Modules(Unknown)), "vivid") {
		t.Error("unknown machine loads vivid")
	}
}

func TestLogTailKeepsWholeLastLines(t *testing.T) {
	tail := &LogTail{Max: 200}
	for i := range 50 {
		fmt.Fprintf(tail, "line %02d\n", i)
	}
	got := tail.Bytes()
	if len(got) > 200 || !bytes.HasPrefix(got, []byte("line 00\n")) || !bytes.HasSuffix(got, []byte("line 49\n")) {
		t.Fatalf("tail %q", got)
	}
	dir := t.TempDir()
	if err := tail.Save(dir, "camerad.log"); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "camerad.log"))
	if err != nil || !bytes.Equal(b, got) {
		t.Fatalf("saved %q, %v", b, err)
	}
	// Unchanged tail: no rewrite (SD cards wear); prove it by removing the file.
	if err := os.Remove(filepath.Join(dir, "camerad.log")); err != nil {
		t.Fatal(err)
	}
	if err := tail.Save(dir, "camerad.log"); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "camerad.log")); !os.IsNotExist(err) {
		t.Fatal("unchanged log rewritten")
	}
	if _, err := os.Stat(filepath.Join(dir, "camerad.log.new")); !os.IsNotExist(err) {
		t.Fatal("temporary file left behind")
	}
}

// TestLogTailKeepsStartWarningsAndEnd: an hour of viewers coming and going does not push out
// the boot's first lines or a warning from the middle; every line written is either kept or
// counted in the marker, and the whole stays within Max.
func TestLogTailKeepsStartWarningsAndEnd(t *testing.T) {
	const limit = 4096
	tail := &LogTail{Max: limit}
	written := 0
	line := func(format string, args ...any) {
		fmt.Fprintf(tail, format+"\n", args...)
		written++
	}
	for i := range 40 {
		line("time=T level=INFO msg=\"boot step %d\"", i)
	}
	for i := range 2000 {
		if i == 700 {
			line("time=T level=WARN msg=\"camera fault, reopening\" err=EIO")
		}
		if i == 1200 {
			// Written in two pieces, as a line may be.
			fmt.Fprint(tail, "time=T level=ERROR msg=\"service exited\" ")
			line("code=2")
		}
		line("time=T level=INFO msg=\"viewer left\" n=%d", i)
	}
	got := string(tail.Bytes())
	if len(got) > limit {
		t.Errorf("kept %d bytes, want at most %d", len(got), limit)
	}
	for _, want := range []string{
		"time=T level=INFO msg=\"boot step 0\"\n",
		"time=T level=WARN msg=\"camera fault, reopening\" err=EIO\n",
		"time=T level=ERROR msg=\"service exited\" code=2\n",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("lost %q", want)
		}
	}
	if !strings.HasSuffix(got, "msg=\"viewer left\" n=1999\n") {
		t.Errorf("does not end with the last line: ...%q", got[max(0, len(got)-80):])
	}
	var left int
	if _, err := fmt.Sscanf(got[strings.Index(got, "\n[")+1:], "[%d lines left out", &left); err != nil {
		t.Fatalf("no marker line: %v\n%s", err, got)
	}
	if kept := strings.Count(got, "\n") - 1; kept+left != written {
		t.Errorf("%d lines kept + %d left out = %d, want the %d written", kept, left, kept+left, written)
	}
	if i, j := strings.Index(got, "boot step"), strings.Index(got, "lines left out"); i > j {
		t.Errorf("the marker comes before the boot's first lines:\n%s", got)
	}
}

func TestBackoff(t *testing.T) {
	var got []time.Duration
	for n := 1; n <= 7; n++ {
		got = append(got, Backoff(n, time.Second, 30*time.Second))
	}
	want := []time.Duration{1, 2, 4, 8, 16, 30, 30}
	for i := range want {
		if got[i] != want[i]*time.Second {
			t.Fatalf("backoff %v", got)
		}
	}
}

func TestFirstPartitionsPrefersSD(t *testing.T) {
	sys := writeTree(t, map[string]string{
		"sda/size":            "1",
		"sda1/partition":      "1\n",
		"sda2/partition":      "2\n",
		"mmcblk0/size":        "1",
		"mmcblk0p1/partition": "1\n",
		"vda1/partition":      "1\n",
	})
	if got := firstPartitions(sys); !slices.Equal(got, []string{"mmcblk0p1", "sda1", "vda1"}) {
		t.Fatalf("got %v", got)
	}
}

func TestLeaseFromACK(t *testing.T) {
	ack, err := dhcpv4.New(
		dhcpv4.WithYourIP(net.IPv4(192, 168, 1, 50)),
		dhcpv4.WithNetmask(net.CIDRMask(24, 32)),
		dhcpv4.WithRouter(net.IPv4(192, 168, 1, 1)),
		dhcpv4.WithDNS(net.IPv4(192, 168, 1, 1), net.IPv4(9, 9, 9, 9)),
		dhcpv4.WithOption(dhcpv4.OptNTPServers(net.IPv4(192, 168, 1, 2))),
		dhcpv4.WithLeaseTime(7200),
	)
	if err != nil {
		t.Fatal(err)
	}
	l := leaseFrom("eth0", ack)
	if l.Addr.String() != "192.168.1.50/24" || !l.Router.Equal(net.IPv4(192, 168, 1, 1)) ||
		len(l.DNS) != 2 || len(l.NTP) != 1 || l.Duration != 2*time.Hour {
		t.Fatalf("lease %+v", l)
	}
	// No mask, no router, absurd lease: classful mask, no route, a sane minimum.
	bare, _ := dhcpv4.New(dhcpv4.WithYourIP(net.IPv4(10, 1, 2, 3)), dhcpv4.WithLeaseTime(5))
	l = leaseFrom("eth0", bare)
	if l.Addr.String() != "10.1.2.3/8" || l.Router != nil || l.Duration != time.Minute {
		t.Fatalf("bare lease %+v", l)
	}
	if !strings.Contains(l.Addr.String(), "/") {
		t.Fatal("no prefix")
	}
}
