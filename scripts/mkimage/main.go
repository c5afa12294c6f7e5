// Command mkimage builds the camerad SD-card image for the Raspberry Pi 3, 4 and Zero 2 W:
// an MBR and one FAT32 partition with the Pi firmware, Debian's arm64 kernel and device
// trees, config.txt, cmdline.txt, a commented camera.yml, and an initramfs whose /init is
// camerad itself (PID-1 mode, see package board).
//
//	mkimage build -inputs .cache/image/root -camerad bin/linux_arm64/camerad -out bin/camerad-arm64.img
//	mkimage check -image bin/camerad-arm64.img [-extract dir]
//
// Inputs are Debian packages unpacked by scripts/image/fetch.sh (pinned and checksummed);
// the same inputs always give the same image bytes.
package main

import (
	"fmt"
	"log/slog"
	"os"
)

func main() {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: mkimage build|check [flags] (-h for flags)")
		os.Exit(2)
	}
	var err error
	switch os.Args[1] {
	case "build":
		err = runBuild(log, os.Args[2:])
	case "check":
		err = runCheck(log, os.Args[2:])
	default:
		err = fmt.Errorf("unknown command %q (want build or check)", os.Args[1])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "mkimage:", err)
		os.Exit(1)
	}
}
