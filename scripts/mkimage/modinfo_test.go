package main

import (
	"bufio"
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/camerad/camerad/board"
)

// kernelTree finds the kernel package fetch.sh unpacked, or skips.
func kernelTree(t *testing.T) (modDir, release string) {
	t.Helper()
	inputs, err := filepath.Abs("../../.cache/image/root")
	if err != nil {
		t.Fatal(err)
	}
	root, release, err := findKernel(inputs)
	if err != nil {
		t.Skipf("no unpacked kernel (run scripts/image/fetch.sh .cache/image): %v", err)
	}
	return filepath.Join(root, "lib", "modules", release), release
}

func parseDep(t *testing.T, b []byte) map[string][]string {
	t.Helper()
	m := map[string][]string{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		mod, deps, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		ds := strings.Fields(deps)
		sort.Strings(ds)
		m[mod] = ds
	}
	return m
}

// TestClosureMatchesDepmod compares our modules.dep (from each module's .modinfo) with the
// one kmod's depmod writes for the whole kernel: same files, same dependency sets.
func TestClosureMatchesDepmod(t *testing.T) {
	modDir, release := kernelTree(t)
	if _, err := exec.LookPath("depmod"); err != nil {
		t.Skip("depmod not installed (apt-get install kmod)")
	}
	km, err := indexModules(modDir)
	if err != nil {
		t.Fatal(err)
	}
	files, ours, err := km.closure(board.ImageModules())
	if err != nil {
		t.Fatal(err)
	}
	// depmod writes into its base directory: give it a tree of links to the real one.
	base := t.TempDir()
	dst := filepath.Join(base, "lib", "modules", release)
	if err := os.MkdirAll(dst, 0o755); err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(modDir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if err := os.Symlink(filepath.Join(modDir, e.Name()), filepath.Join(dst, e.Name())); err != nil {
			t.Fatal(err)
		}
	}
	if out, err := exec.Command("depmod", "-b", base, release).CombinedOutput(); err != nil {
		t.Fatalf("depmod: %v\n%s", err, out)
	}
	theirs, err := os.ReadFile(filepath.Join(dst, "modules.dep"))
	if err != nil {
		t.Fatal(err)
	}
	want := parseDep(t, theirs)
	if len(want) < 1000 {
		t.Fatalf("depmod listed only %d modules", len(want))
	}
	got := parseDep(t, ours)
	if len(got) != len(files) {
		t.Fatalf("modules.dep has %d entries for %d files", len(got), len(files))
	}
	for mod, deps := range got {
		if strings.Join(deps, " ") != strings.Join(want[mod], " ") {
			t.Errorf("%s:\n ours   %v\n depmod %v", mod, deps, want[mod])
		}
	}
	// And the PID-1 loader can order every wanted module from it.
	d, err := board.ParseModulesDep(bytes.NewReader(ours))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.LoadOrder(board.ImageModules()); err != nil {
		t.Fatalf("load order: %v", err)
	}
}

func TestClosureUnknownModule(t *testing.T) {
	modDir, _ := kernelTree(t)
	km, err := indexModules(modDir)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := km.closure([]string{"no_such_driver"}); err == nil || !strings.Contains(err.Error(), "no_such_driver") {
		t.Fatalf("err = %v", err)
	}
}

func TestBuildRefusesOtherArch(t *testing.T) {
	err := runBuild(nil, []string{"-arch", "amd64"})
	if err == nil || !strings.Contains(err.Error(), "GOARCH=amd64 is not supported") {
		t.Fatalf("err = %v", err)
	}
}

func TestCheckBinaryRefusesHostBinary(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	// The test binary is for the host; on an arm64 host it is dynamically linked or fine.
	if err := checkBinary(exe); err == nil {
		t.Skip("test binary happens to be a static arm64 ELF")
	}
}
