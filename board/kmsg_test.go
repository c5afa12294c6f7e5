package board

import (
	"io"
	"log/slog"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// kmsgReader returns one record per Read, as /dev/kmsg does; an error in the list is
// returned as it comes.
type kmsgReader struct{ items []any }

func (r *kmsgReader) Read(p []byte) (int, error) {
	if len(r.items) == 0 {
		return 0, io.EOF
	}
	it := r.items[0]
	r.items = r.items[1:]
	if err, ok := it.(error); ok {
		return 0, err
	}
	return copy(p, it.(string)), nil
}

// TestKernelLogForwardsWarnings: warnings and errors of the kernel reach the log, with the
// device lines dropped; information and user space writes do not; a firmware file the kernel
// could not find is remembered; an overrun (EPIPE) does not stop the reader.
func TestKernelLogForwardsWarnings(t *testing.T) {
	var out syncBuffer
	k := &KernelLog{Log: slog.New(slog.NewTextHandler(&out, nil))}
	r := &kmsgReader{items: []any{
		"6,100,1000000,-;usbcore: registered new interface driver uvcvideo\n",
		"4,101,2500000,-;brcmfmac mmc1:0001:1: Direct firmware load for brcm/brcmfmac43436-sdio.bin failed with error -2\n SUBSYSTEM=sdio\n DEVICE=+sdio:mmc1:0001:1\n",
		unix.EPIPE,
		"3,105,3000000,-;brcmfmac: brcmf_sdio_htclk: HT Avail timeout\n",
		"12,106,3100000,-;camerad: a user space write\n",
		"6,107,3200000,-;platform: Direct firmware load for regulatory.db failed with error -2\n",
		"garbage",
	}}
	if err := k.Run(r); err == nil || !strings.Contains(err.Error(), "EOF") {
		t.Fatalf("Run: %v", err)
	}
	got := out.String()
	for _, want := range []string{
		`level=WARN msg="kernel: brcmfmac mmc1:0001:1: Direct firmware load for brcm/brcmfmac43436-sdio.bin failed with error -2" uptime=2.5s`,
		`level=ERROR msg="kernel: brcmfmac: brcmf_sdio_htclk: HT Avail timeout"`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("log lacks %s:\n%s", want, got)
		}
	}
	for _, not := range []string{"uvcvideo", "SUBSYSTEM", "user space", "regulatory"} {
		if strings.Contains(got, not) {
			t.Errorf("log has %q:\n%s", not, got)
		}
	}
	if m := k.MissingFirmware(); !slices.Equal(m, []string{"brcm/brcmfmac43436-sdio.bin", "regulatory.db"}) {
		t.Errorf("missing firmware %v", m)
	}
}

// TestKernelLogRateLimit: a flood is cut after Burst lines; later lines pass at one per
// Every, the first of them saying how many were held back.
func TestKernelLogRateLimit(t *testing.T) {
	var out syncBuffer
	now := time.Unix(1000, 0)
	k := &KernelLog{Log: slog.New(slog.NewTextHandler(&out, nil)), Burst: 5, Every: 10 * time.Second,
		now: func() time.Time { return now }}
	line := func(i int) string { return "4,1,1,-;flood " + string(rune('a'+i)) + "\n" }
	var items []any
	for i := range 12 {
		items = append(items, line(i))
	}
	_ = k.Run(&kmsgReader{items: items})
	if n := strings.Count(out.String(), "flood"); n != 5 {
		t.Fatalf("%d lines of a flood of 12 forwarded, want 5:\n%s", n, out.String())
	}
	now = now.Add(10 * time.Second)
	_ = k.Run(&kmsgReader{items: []any{line(20), line(21)}})
	got := out.String()
	if !strings.Contains(got, `msg="kernel: messages not shown (too many)" count=7`) ||
		!strings.Contains(got, "flood u") || strings.Contains(got, "flood v") {
		t.Fatalf("after 10 s:\n%s", got)
	}
}
