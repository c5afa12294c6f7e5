package initramfs

import (
	"bytes"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

var epoch = time.Unix(1700000000, 0)

func sample(t *testing.T) *Archive {
	t.Helper()
	a := New()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	// Added out of order on purpose: the archive must sort.
	must(a.File("lib/modules/6.1/kernel/b.ko", 0o644, []byte("bbbbb")))
	must(a.File("init", 0o755, []byte("#!/bin/true\n")))
	must(a.CharDev("dev/console", 0o600, 5, 1))
	must(a.Symlink("lib/firmware/x.bin", "../y.bin"))
	must(a.Dir("proc", 0o555))
	return a
}

func TestArchiveSortedWithParents(t *testing.T) {
	got := strings.Join(sample(t).Paths(), " ")
	want := "dev dev/console init lib lib/firmware lib/firmware/x.bin lib/modules lib/modules/6.1 " +
		"lib/modules/6.1/kernel lib/modules/6.1/kernel/b.ko proc"
	if got != want {
		t.Fatalf("paths\n got %s\nwant %s", got, want)
	}
}

func TestRejectsBadAndDuplicatePaths(t *testing.T) {
	a := New()
	if err := a.File("../etc/passwd", 0o644, nil); err == nil {
		t.Fatal("path escaping the root accepted")
	}
	if err := a.File("init", 0o755, nil); err != nil {
		t.Fatal(err)
	}
	if err := a.File("/init", 0o755, nil); err == nil {
		t.Fatal("duplicate file accepted")
	}
}

func TestReproducible(t *testing.T) {
	var x, y bytes.Buffer
	if err := sample(t).WriteGzip(&x, epoch); err != nil {
		t.Fatal(err)
	}
	if err := sample(t).WriteGzip(&y, epoch); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(x.Bytes(), y.Bytes()) {
		t.Fatal("same entries gave different bytes")
	}
}

// TestCPIOListsArchive lets GNU cpio, an independent reader, parse what we wrote.
func TestCPIOListsArchive(t *testing.T) {
	if _, err := exec.LookPath("cpio"); err != nil {
		t.Skip("cpio not installed (apt-get install cpio)")
	}
	var buf bytes.Buffer
	if err := sample(t).WriteCPIO(&buf, epoch); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("cpio", "-itv", "--quiet")
	cmd.Stdin = &buf
	cmd.Env = append(os.Environ(), "TZ=UTC", "LC_ALL=C")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("cpio: %v\n%s", err, out)
	}
	list := string(out)
	for _, want := range []string{
		"crw-------", "5,   1", "dev/console",
		"-rwxr-xr-x", "12 Nov 14  2023 init",
		"lib/firmware/x.bin -> ../y.bin",
		"5 Nov 14  2023 lib/modules/6.1/kernel/b.ko",
		"dr-xr-xr-x", "proc",
	} {
		if !strings.Contains(list, want) {
			t.Errorf("cpio listing lacks %q:\n%s", want, list)
		}
	}
}
