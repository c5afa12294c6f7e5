package main

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/camerad/camerad/board"
	"github.com/camerad/camerad/discovery"
)

// Where PID 1 keeps things on the boot partition.
const (
	initConfigName      = "camera.yml"
	initLogName         = "camerad.log"
	initPreviousLogName = "camerad-previous.log" // the boot before's camerad.log
	initLogKeep         = 64 << 10               // bytes of log left on the card for the user
)

// runAsInit is camerad as /init of the SD-card image: when the kernel starts it as PID 1 it
// does the board's duties (mounts, drivers, network, clock, watchdog), then runs camerad
// itself, re-executed in normal service mode with the boot partition's camera.yml, as a
// supervised child. It never returns as PID 1 (init exiting panics the kernel); anywhere
// else it returns (false, 0) at once.
func runAsInit(_ *slog.Logger) (handled bool, exitCode int) {
	if os.Getpid() != 1 {
		return false, 0
	}
	initMain()
	// Not reached unless power-off failed; PID 1 must not exit, so idle and let the
	// watchdog (if any) or the user reset the board.
	for {
		time.Sleep(time.Hour)
	}
}

// teeWriter writes to every writer, ignoring failures: a missing console must not stop the
// log tail and vice versa (io.MultiWriter stops at the first error).
type teeWriter []io.Writer

func (t teeWriter) Write(p []byte) (int, error) {
	for _, w := range t {
		_, _ = w.Write(p)
	}
	return len(p), nil
}

func initMain() {
	tail := &board.LogTail{Max: initLogKeep}
	// The kernel opened /dev/console (from the initramfs) as our stdio.
	out := &lockedWriter{w: teeWriter{tail, os.Stdout}}
	log := slog.New(slog.NewTextHandler(out, &slog.HandlerOptions{Level: slog.LevelDebug})).With("pid1", true)
	step := func(name string, args ...any) { log.Info("boot: "+name, args...) }

	step("mount /proc /sys /dev /tmp /run")
	if err := board.MountEarly(); err != nil {
		log.Error("mounts incomplete", "err", err)
	}
	// The kernel's warnings go into the log tail only: the console shows them already
	// (cmdline.txt's loglevel).
	klog := &board.KernelLog{Log: slog.New(slog.NewTextHandler(tail, nil)).With("pid1", true)}
	if kmsg, err := os.Open("/dev/kmsg"); err != nil {
		log.Warn("kernel messages not forwarded to the log", "err", err)
	} else {
		go func() {
			if err := klog.Run(kmsg); err != nil {
				log.Warn("kernel messages no longer forwarded to the log", "err", err)
			}
		}()
	}
	kargs := board.ReadKernelArgs()
	machine := board.CurrentMachine()
	model := board.Model()
	var uts unix.Utsname
	_ = unix.Uname(&uts)
	release := unix.ByteSliceToString(uts.Release[:])
	step("machine", "model", model, "kind", machine, "kernel", release, "args", kargs)

	step("load kernel modules")
	modDir := filepath.Join("/lib/modules", release)
	early, afterBoot := board.SplitAfterBoot(board.Modules(machine))
	loadModules(log, modDir, early)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()

	// The reaper never stops: stopping the service at power-off still needs its exit status.
	reaper := board.NewReaper()
	go reaper.Run(context.Background())

	step("mount boot partition")
	boot, err := board.MountBoot(log, 20*time.Second)
	var bootLog *board.BootLog
	if err != nil {
		log.Error("no boot partition: using defaults, log not kept", "err", err)
	} else {
		log.Info("boot partition mounted read-only", "dev", boot.Dev, "dir", boot.Dir)
		if t, err := board.RestoreClock(boot.Dir, []string{initLogName, initPreviousLogName}); err != nil {
			log.Warn("clock not set from the card", "err", err)
		} else if !t.IsZero() {
			log.Info("clock set from the card's last save, until NTP answers", "now", t.UTC().Format(time.RFC3339))
		}
		bootLog = &board.BootLog{Tail: tail, FS: boot, Name: initLogName, PreviousName: initPreviousLogName, Log: log}
		fwDir := filepath.Join(boot.Dir, board.FirmwareFolder)
		if n, err := board.UseBootFirmware(fwDir); err != nil {
			log.Warn("firmware on the boot partition not usable", "err", err)
		} else if n > 0 {
			log.Info("firmware folder on the boot partition", "dir", fwDir, "files", n)
		}
	}
	if len(afterBoot) > 0 {
		step("load kernel modules that may need firmware from the boot partition")
		loadModules(log, modDir, afterBoot)
	}
	cfgPath := filepath.Join(board.BootDir, initConfigName)
	saveLog := func() {
		if bootLog == nil {
			return
		}
		if err := bootLog.Save(); err != nil {
			log.Warn("log not saved to boot partition", "err", err)
			return
		}
		log.Debug("log saved to boot partition; read-only again", "file", initLogName)
	}

	step("read " + cfgPath)
	ic := readInitConfig(cfgPath)
	// With an error, the service reads the same file and reports it too; it keeps restarting
	// with backoff, so a user who fixes the card need only restart the camera.
	ic.logConfig(log)
	hostname := ic.Hostname
	if hostname == "" {
		serial, _ := board.Serial()
		hostname = discovery.DefaultHostname(serial)
	}
	if err := board.SetHostname(hostname); err != nil {
		log.Warn("hostname", "err", err)
	}

	step("network", "hostname", hostname, "wifi_ssid", ic.WiFi.SSID)
	network := &board.Network{Log: log, Config: board.NetConfig{
		Hostname: hostname,
		WiFi:     board.WiFi{SSID: ic.WiFi.SSID, PSK: ic.WiFi.PSK, Country: ic.WiFi.Country},
	}, WiFiHint: func() string { return board.WiFiFirmwareHint(model, klog.MissingFirmware()) }}
	leases := network.Leases()
	go network.Run(ctx)
	clockLeases := make(chan board.Lease, 4)
	firstLease := make(chan struct{})
	reach := &reachability{log: log, ic: ic, hostname: hostname}
	go func() {
		var once sync.Once
		for {
			select {
			case <-ctx.Done():
				return
			case l := <-leases:
				once.Do(func() { close(firstLease) })
				reach.lease(l)
				select {
				case clockLeases <- l:
				default:
				}
			}
		}
	}()
	var ntpServers []string
	if s := kargs["ntp"]; s != "" {
		ntpServers = strings.Split(s, ",")
	}
	go board.KeepClock(ctx, log, clockLeases, ntpServers)

	// Give DHCP a moment so the service announces itself with an address; it works
	// without one too (it listens on all addresses and mDNS follows interface changes).
	select {
	case <-firstLease:
	case <-time.After(15 * time.Second):
		log.Warn("no network address yet; starting the service anyway")
	}

	// The service cannot write to the boot partition: make the certificate it would.
	if boot != nil && ic.Err == nil {
		if err := prepareRTSPSCert(ic.Config, boot, time.Now(), log); err != nil {
			log.Warn("rtsps: self-signed certificate not kept on the boot partition", "err", err)
		}
	}

	step("start service")
	sup := &board.Supervisor{
		Log:    log,
		Reaper: reaper,
		Path:   "/proc/self/exe",
		Args:   serviceArgs(ic),
		Env:    []string{"PATH=/bin:/sbin:/usr/bin", "HOME=/"},
		Output: out,
		OnExit: func(unix.WaitStatus) { saveLog() },
	}

	step("watchdog")
	if wd, err := board.OpenWatchdog("/dev/watchdog", 15*time.Second, 3*time.Second); err != nil {
		log.Warn("no hardware watchdog", "err", err)
	} else {
		// Never disarmed: if power-off itself hangs, a reset is the better outcome.
		log.Info("watchdog armed", "timeout", wd.Timeout)
		go wd.Run(ctx, 2*time.Second, func() bool { return sup.Alive(30 * time.Second) })
	}

	supDone := make(chan struct{})
	go func() {
		sup.Run(ctx)
		close(supDone)
	}()

	// Keep the latest log on the card: soon after start (so a healthy boot is visible on
	// a PC) and then every few minutes; rarely, because SD cards wear.
	go func() {
		select {
		case <-ctx.Done():
			return
		case <-time.After(10 * time.Second):
		}
		saveLog()
		t := time.NewTicker(5 * time.Minute)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				saveLog()
			}
		}
	}()

	shutdown := make(chan string, 1)
	if kargs.Bool("test") {
		// Test images (qemu) take "poweroff" on the console; a real camera's
		// cmdline.txt has no camerad.test, so nothing reads its console.
		go watchConsole(log, os.Stdin, shutdown)
		if d, err := time.ParseDuration(kargs["poweroff_after"]); err == nil && d > 0 {
			go func() {
				time.Sleep(d)
				shutdown <- "camerad.poweroff_after=" + d.String()
			}()
		}
	}
	reason := <-shutdown
	step("power off", "reason", reason)
	cancel()
	<-supDone
	step("service stopped; saving log and powering off")
	saveLog()
	if boot != nil {
		if err := boot.Unmount(); err != nil {
			log.Warn("unmount boot partition", "err", err)
		}
	}
	if err := board.PowerOff(); err != nil {
		log.Error("power off failed", "err", err)
	}
}

// loadModules loads mods from modDir and logs what it did.
func loadModules(log *slog.Logger, modDir string, mods []board.Module) {
	loaded, err := board.LoadModules(log, modDir, mods)
	if err != nil {
		log.Error("modules", "err", err)
	}
	log.Info("modules loaded", "count", len(loaded), "modules", strings.Join(loaded, ","))
}

// watchConsole waits for a "poweroff" line on the console.
func watchConsole(log *slog.Logger, r io.Reader, shutdown chan<- string) {
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		if strings.TrimSpace(sc.Text()) == "poweroff" {
			shutdown <- "poweroff on console"
			return
		}
	}
	if err := sc.Err(); err != nil && !errors.Is(err, io.EOF) {
		log.Warn("console closed", "err", err)
	}
}

// lockedWriter serialises writes from PID 1's logger and the service's output, so lines from
// the two never interleave mid-line on the console or in the log tail.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
