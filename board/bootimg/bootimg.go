// Package bootimg writes and reads the camerad SD-card image: an MBR with one bootable FAT32
// partition holding everything the Raspberry Pi firmware loads (firmware, kernel, device trees,
// initramfs, config.txt, cmdline.txt) and the camera.yml a user edits on any PC.
//
// It is pure Go on github.com/diskfs/go-diskfs: no loop devices, no mounts, no root.
package bootimg

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	diskfs "github.com/diskfs/go-diskfs"
	"github.com/diskfs/go-diskfs/disk"
	"github.com/diskfs/go-diskfs/filesystem"
	"github.com/diskfs/go-diskfs/partition/mbr"
)

const (
	sectorSize = 512
	// PartitionStart is the first sector of the boot partition: 4 MiB, the erase-block
	// alignment SD cards are fastest with (and what Raspberry Pi OS uses).
	PartitionStart = 8192
	// Label is the FAT volume label a PC shows for the card.
	Label = "CAMERAD"
)

// File is one file of the boot partition; Name is a path like "config.txt" or "overlays/a.dtbo".
type File struct {
	Name string
	Data []byte
}

// Layout sizes the image.
type Layout struct {
	PartitionMiB int64 // size of the FAT32 partition
}

// Size returns the total image size in bytes.
func (l Layout) Size() int64 {
	return PartitionStart*sectorSize + l.PartitionMiB<<20
}

// partitionSectors is the FAT32 partition's length: PartitionMiB, trimmed by the few sectors
// needed so that go-diskfs's FAT sizing leaves room for every cluster. go-diskfs v1.9.4
// computes sectors-per-FAT without the two reserved FAT entries, so for some sizes (64 MiB,
// for one) the FAT is two entries short; fsck.fat rejects that and Linux refuses to mount it
// ("count of clusters too big").
func (l Layout) partitionSectors() uint32 {
	n := uint32(l.PartitionMiB << 20 / sectorSize)
	for !fatFits(n) {
		n--
	}
	return n
}

// fatFits mirrors go-diskfs's FAT32 geometry for a volume of total sectors and reports
// whether its FAT covers all clusters plus the two reserved entries.
func fatFits(total uint32) bool {
	const reserved = 32
	spc := uint32(1) // 512-byte clusters up to 260 MB, as mkfs.fat and go-diskfs choose
	switch size := int64(total) * sectorSize; {
	case size <= 260_000_000:
	case size <= 8<<30:
		spc = 8
	case size <= 16<<30:
		spc = 16
	default:
		spc = 32
	}
	denom := sectorSize*spc + 8
	fat := (4*(total-reserved) + denom - 1) / denom
	clusters := (total - reserved - 2*fat) / spc
	return clusters+2 <= fat*sectorSize/4
}

// Write creates the image at path (replacing any file there) holding files, each stamped with
// modTime. go-diskfs stamps directory and label entries from SOURCE_DATE_EPOCH; callers that
// need byte-identical output set it to modTime's Unix seconds (mkimage does).
func Write(path string, l Layout, files []File, modTime time.Time) error {
	tmp := path + ".tmp"
	_ = os.Remove(tmp)
	if err := write(tmp, l, files, modTime); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("bootimg: rename %s: %w", tmp, err)
	}
	return nil
}

func write(path string, l Layout, files []File, modTime time.Time) error {
	d, err := diskfs.Create(path, l.Size(), diskfs.SectorSize512)
	if err != nil {
		return fmt.Errorf("bootimg: create %s: %w", path, err)
	}
	defer d.Close()
	table := &mbr.Table{
		LogicalSectorSize:  sectorSize,
		PhysicalSectorSize: sectorSize,
		Partitions: []*mbr.Partition{{
			Index:    1,
			Bootable: true,
			// 0x0c (FAT32 LBA) is what the Pi boot ROM and firmware look for.
			Type:  mbr.Fat32LBA,
			Start: PartitionStart,
			Size:  l.partitionSectors(),
		}},
	}
	if err := d.Partition(table); err != nil {
		return fmt.Errorf("bootimg: partition %s: %w", path, err)
	}
	fs, err := d.CreateFilesystem(disk.FilesystemSpec{
		Partition: 1, FSType: filesystem.TypeFat32, VolumeLabel: Label, Reproducible: true,
	})
	if err != nil {
		return fmt.Errorf("bootimg: mkfs %s: %w", path, err)
	}
	sorted := append([]File(nil), files...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	made := map[string]bool{}
	for _, f := range sorted {
		name := "/" + strings.TrimPrefix(filepath.ToSlash(f.Name), "/")
		if dir := filepath.Dir(name); dir != "/" && !made[dir] {
			if err := fs.Mkdir(dir); err != nil {
				return fmt.Errorf("bootimg: mkdir %s: %w", dir, err)
			}
			made[dir] = true
		}
		if err := writeFile(fs, name, f.Data); err != nil {
			return err
		}
		if err := fs.Chtimes(name, modTime, modTime, modTime); err != nil {
			return fmt.Errorf("bootimg: chtimes %s: %w", name, err)
		}
	}
	return nil
}

func writeFile(fs filesystem.FileSystem, name string, data []byte) error {
	f, err := fs.OpenFile(name, os.O_CREATE|os.O_RDWR|os.O_TRUNC)
	if err != nil {
		return fmt.Errorf("bootimg: create %s: %w", name, err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("bootimg: write %s: %w", name, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("bootimg: close %s: %w", name, err)
	}
	return nil
}

// Partition describes one MBR entry as read back from an image.
type Partition struct {
	Index    int
	Bootable bool
	Type     byte
	Start    uint32 // sectors
	Sectors  uint32
}

// Image is an image opened for inspection.
type Image struct {
	d  *disk.Disk
	fs filesystem.FileSystem
}

// Open opens an image read-only and its first partition's FAT filesystem.
func Open(path string) (*Image, error) {
	d, err := diskfs.Open(path, diskfs.WithOpenMode(diskfs.ReadOnly))
	if err != nil {
		return nil, fmt.Errorf("bootimg: open %s: %w", path, err)
	}
	fs, err := d.GetFilesystem(1)
	if err != nil {
		d.Close()
		return nil, fmt.Errorf("bootimg: %s partition 1: %w", path, err)
	}
	if fs.Type() != filesystem.TypeFat32 {
		d.Close()
		return nil, fmt.Errorf("bootimg: %s partition 1 is not FAT32", path)
	}
	return &Image{d: d, fs: fs}, nil
}

// Close releases the image file.
func (im *Image) Close() error { return im.d.Close() }

// Partitions lists the MBR entries.
func (im *Image) Partitions() ([]Partition, error) {
	t, ok := im.d.Table.(*mbr.Table)
	if !ok {
		return nil, errors.New("bootimg: no MBR partition table")
	}
	var ps []Partition
	for i, p := range t.Partitions {
		if p == nil || p.Type == mbr.Empty {
			continue
		}
		ps = append(ps, Partition{Index: i + 1, Bootable: p.Bootable, Type: byte(p.Type), Start: p.Start, Sectors: p.Size})
	}
	return ps, nil
}

// Label returns the FAT volume label.
func (im *Image) Label() string { return strings.TrimSpace(im.fs.Label()) }

// List returns the paths of all regular files, sorted.
func (im *Image) List() ([]string, error) {
	var out []string
	var walk func(dir string) error
	walk = func(dir string) error {
		// go-diskfs reads directories by io/fs paths: "." is the root.
		entries, err := im.fs.ReadDir(dir)
		if err != nil {
			return fmt.Errorf("bootimg: readdir %s: %w", dir, err)
		}
		for _, e := range entries {
			p := e.Name()
			if dir != "." {
				p = dir + "/" + p
			}
			if e.IsDir() {
				if err := walk(p); err != nil {
					return err
				}
				continue
			}
			out = append(out, p)
		}
		return nil
	}
	if err := walk("."); err != nil {
		return nil, err
	}
	sort.Strings(out)
	return out, nil
}

// ReadFile returns one file's content.
func (im *Image) ReadFile(name string) ([]byte, error) {
	p := "/" + strings.TrimPrefix(name, "/")
	f, err := im.fs.OpenFile(p, os.O_RDONLY)
	if err != nil {
		return nil, fmt.Errorf("bootimg: open %s: %w", p, err)
	}
	defer f.Close()
	var b bytes.Buffer
	if _, err := io.Copy(&b, f); err != nil {
		return nil, fmt.Errorf("bootimg: read %s: %w", p, err)
	}
	return b.Bytes(), nil
}
