package board

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// ReplaceFile makes dir/name hold data, durably and as atomically as the filesystem allows.
// It writes name.new (removing one a power cut left behind), syncs it and then the whole
// filesystem, renames it over name, and syncs the directory and the filesystem again.
//
// On the FAT boot partition, mounted with dirsync (see MountBoot), this keeps name
// readable, old or new, whenever the power goes: the new file's clusters and directory
// entry are on the card before the rename; the rename rewrites name's directory entry to
// point at them in one synchronous sector write; the old file's clusters are freed only
// after that, and are on the card too when ReplaceFile returns. (FAT has no journal: a cut
// in the milliseconds of the rename itself may still leave name.new sharing name's clusters,
// or the old clusters lost, for fsck to tidy; never a torn or truncated name.)
func ReplaceFile(dir, name string, data []byte, perm os.FileMode) error {
	final := filepath.Join(dir, name)
	tmp := final + ".new"
	if err := os.Remove(tmp); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("replace %s: remove leftover: %w", final, err)
	}
	f, err := os.OpenFile(tmp, os.O_CREATE|os.O_EXCL|os.O_WRONLY, perm)
	if err != nil {
		return fmt.Errorf("replace %s: %w", final, err)
	}
	_, werr := f.Write(data)
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr != nil {
		_ = os.Remove(tmp)
		return fmt.Errorf("replace %s: write %s: %w", final, tmp, werr)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("replace %s: open directory: %w", final, err)
	}
	defer d.Close()
	// fsync of the file pushes its data, its FAT chain and its entry; syncfs also the free
	// cluster count (FSInfo), so nothing of the new file is left to write after the rename.
	if err := unix.Syncfs(int(d.Fd())); err != nil {
		return fmt.Errorf("replace %s: syncfs: %w", final, err)
	}
	if err := os.Rename(tmp, final); err != nil {
		return fmt.Errorf("replace %s: %w", final, err)
	}
	if err := d.Sync(); err != nil {
		return fmt.Errorf("replace %s: sync directory: %w", final, err)
	}
	// The old file's clusters, freed by the rename.
	if err := unix.Syncfs(int(d.Fd())); err != nil {
		return fmt.Errorf("replace %s: syncfs: %w", final, err)
	}
	return nil
}

// KeepPrevious copies dir/name to dir/previous (through ReplaceFile), so that the next write
// of name does not lose what it held. A missing name is fine: there is nothing to keep.
func KeepPrevious(dir, name, previous string) error {
	data, err := os.ReadFile(filepath.Join(dir, name))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("keep previous %s: %w", name, err)
	}
	if err := ReplaceFile(dir, previous, data, 0o644); err != nil {
		return fmt.Errorf("keep previous %s: %w", name, err)
	}
	return nil
}
