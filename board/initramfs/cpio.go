// Package initramfs writes the Linux initramfs: a "newc" cpio archive (the format the kernel
// unpacks into its rootfs at boot), gzip-compressed. It is written in Go so that building the
// image needs neither cpio(1) nor root (device nodes are just archive headers here).
//
// Output is reproducible: entries are sorted by path, every timestamp is a fixed epoch, owners
// are root, and inode numbers are assigned in order.
package initramfs

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"path"
	"sort"
	"strings"
	"time"
)

// File modes as the kernel's cpio unpacker reads them (the S_IF* bits of stat(2)).
const (
	modeDir     = 0o040000
	modeRegular = 0o100000
	modeSymlink = 0o120000
	modeChar    = 0o020000
)

// Entry is one archive member.
type Entry struct {
	Path     string // relative, no leading slash ("init", "lib/modules/x/kernel/a.ko")
	Mode     uint32 // full mode including type bits
	Data     []byte // file content, or the link target of a symlink
	DevMajor uint32 // device nodes only
	DevMinor uint32
}

// Archive collects entries; parents of every path are added as directories automatically.
type Archive struct {
	entries map[string]Entry
}

// New returns an empty archive.
func New() *Archive { return &Archive{entries: map[string]Entry{}} }

func clean(p string) (string, error) {
	c := path.Clean(strings.TrimPrefix(p, "/"))
	if c == "." || c == "" || strings.HasPrefix(c, "../") || c == ".." {
		return "", fmt.Errorf("initramfs: bad path %q", p)
	}
	return c, nil
}

func (a *Archive) add(e Entry) error {
	p, err := clean(e.Path)
	if err != nil {
		return err
	}
	e.Path = p
	if old, ok := a.entries[p]; ok && !(old.Mode&0o170000 == modeDir && e.Mode&0o170000 == modeDir) {
		return fmt.Errorf("initramfs: %s added twice", p)
	}
	for d := path.Dir(p); d != "."; d = path.Dir(d) {
		if _, ok := a.entries[d]; !ok {
			a.entries[d] = Entry{Path: d, Mode: modeDir | 0o755}
		}
	}
	a.entries[p] = e
	return nil
}

// Dir adds a directory.
func (a *Archive) Dir(p string, perm uint32) error {
	return a.add(Entry{Path: p, Mode: modeDir | perm&0o7777})
}

// File adds a regular file.
func (a *Archive) File(p string, perm uint32, data []byte) error {
	return a.add(Entry{Path: p, Mode: modeRegular | perm&0o7777, Data: data})
}

// Symlink adds a symbolic link to target.
func (a *Archive) Symlink(p, target string) error {
	return a.add(Entry{Path: p, Mode: modeSymlink | 0o777, Data: []byte(target)})
}

// CharDev adds a character device node, e.g. dev/console (5, 1), which the kernel opens as
// init's stdin/stdout/stderr before /init runs (devtmpfs is mounted later, by init).
func (a *Archive) CharDev(p string, perm, major, minor uint32) error {
	return a.add(Entry{Path: p, Mode: modeChar | perm&0o7777, DevMajor: major, DevMinor: minor})
}

// Paths lists the entries in archive order.
func (a *Archive) Paths() []string {
	ps := make([]string, 0, len(a.entries))
	for p := range a.entries {
		ps = append(ps, p)
	}
	// Plain byte order puts every directory before its contents ("a" < "a/b").
	sort.Strings(ps)
	return ps
}

// WriteCPIO writes the uncompressed newc archive with every mtime set to mtime.
func (a *Archive) WriteCPIO(w io.Writer, mtime time.Time) error {
	ino := uint32(1)
	for _, p := range a.Paths() {
		e := a.entries[p]
		if err := writeEntry(w, ino, e, mtime.Unix()); err != nil {
			return fmt.Errorf("initramfs: write %s: %w", p, err)
		}
		ino++
	}
	if err := writeEntry(w, 0, Entry{Path: "TRAILER!!!"}, 0); err != nil {
		return fmt.Errorf("initramfs: write trailer: %w", err)
	}
	return nil
}

// WriteGzip writes the archive gzip-compressed (CONFIG_RD_GZIP is in every Debian kernel).
// The gzip header carries no name and no time, so equal inputs give equal bytes.
func (a *Archive) WriteGzip(w io.Writer, mtime time.Time) error {
	zw, err := gzip.NewWriterLevel(w, gzip.BestCompression)
	if err != nil {
		return fmt.Errorf("initramfs: gzip: %w", err)
	}
	if err := a.WriteCPIO(zw, mtime); err != nil {
		return err
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("initramfs: gzip close: %w", err)
	}
	return nil
}

func pad4(n int) int { return (4 - n%4) % 4 }

func writeEntry(w io.Writer, ino uint32, e Entry, mtime int64) error {
	name := e.Path
	nlink := 1
	if e.Mode&0o170000 == modeDir {
		nlink = 2
	}
	var hdr bytes.Buffer
	// newc: magic, then 13 fields of 8 hex digits.
	fmt.Fprintf(&hdr, "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X",
		ino, e.Mode, 0, 0, nlink, uint32(mtime), len(e.Data),
		0, 0, e.DevMajor, e.DevMinor, len(name)+1, 0)
	hdr.WriteString(name)
	hdr.WriteByte(0)
	hdr.Write(make([]byte, pad4(hdr.Len())))
	if _, err := w.Write(hdr.Bytes()); err != nil {
		return err
	}
	if _, err := w.Write(e.Data); err != nil {
		return err
	}
	_, err := w.Write(make([]byte, pad4(len(e.Data))))
	return err
}
