// Command elfcheck verifies that a binary is a static ELF executable for a given machine,
// as the SD-card image needs (no dynamic loader there):
//
//	go run ./scripts/elfcheck -arch arm64 bin/linux_arm64/camerad
package main

import (
	"debug/elf"
	"flag"
	"fmt"
	"os"
)

var machines = map[string]elf.Machine{
	"arm64": elf.EM_AARCH64,
	"arm":   elf.EM_ARM,
	"amd64": elf.EM_X86_64,
}

func main() {
	arch := flag.String("arch", "arm64", "expected GOARCH")
	flag.Parse()
	want, ok := machines[*arch]
	if !ok || flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: elfcheck -arch arm64|arm|amd64 BINARY...")
		os.Exit(2)
	}
	failed := false
	for _, path := range flag.Args() {
		if err := check(path, want); err != nil {
			fmt.Fprintln(os.Stderr, "elfcheck:", err)
			failed = true
			continue
		}
		fmt.Printf("%s: static %s executable\n", path, want)
	}
	if failed {
		os.Exit(1)
	}
}

func check(path string, want elf.Machine) error {
	f, err := elf.Open(path)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	defer f.Close()
	if f.Machine != want {
		return fmt.Errorf("%s: machine %s, want %s", path, f.Machine, want)
	}
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP || p.Type == elf.PT_DYNAMIC {
			return fmt.Errorf("%s: dynamically linked (has %s)", path, p.Type)
		}
	}
	return nil
}
