// Command rtspsim plays an RTSP URL the way real players do, with one or many concurrent
// viewers, and reports what they experienced: time to first packet and first keyframe,
// frame rate, bitrate, loss, jitter, glass-to-glass latency, and the protocol violations it
// saw. It exits 1 when a session failed or a check was violated, 2 on bad usage.
//
//	rtspsim -n 100 -transport udp -duration 30s rtsp://127.0.0.1:8554/stream
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/camerad/camerad/cmd/rtspsim/sim"
)

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("rtspsim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: rtspsim [flags] rtsp://[user:pass@]host[:port]/path\n\n")
		fs.PrintDefaults()
	}
	n := fs.Int("n", 1, "number of concurrent sessions")
	transport := fs.String("transport", "udp", "media transport: udp, tcp or multicast")
	ramp := fs.Duration("ramp", 0, "spread session starts over this duration (0: all at once)")
	duration := fs.Duration("duration", 10*time.Second, "play time after the ramp; 0 plays until Ctrl-C")
	timeout := fs.Duration("timeout", 10*time.Second, "limit for each RTSP exchange, the first packet and the first keyframe")
	keepAlive := fs.Duration("keepalive", 0, "keep-alive interval (default: half the server's session timeout)")
	verbose := fs.Bool("v", false, "print the RTSP dialog (requests and responses) to stderr")
	asJSON := fs.Bool("json", false, "print the report as JSON instead of text")
	slack := fs.Duration("rtptime-slack", 500*time.Millisecond, "how far RTP-Info rtptime may precede the first packet; negative demands an exact match")
	pid := fs.Int("pid", 0, "PID of a local server process whose CPU and RSS to sample")
	progress := fs.String("progress", "auto", "progress line on stderr: auto (runs of 5s or more), on, off")
	userAgent := fs.String("user-agent", "rtspsim", "User-Agent header")
	debug := fs.Bool("debug", false, "debug logs on stderr")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	tr, err := sim.ParseTransport(*transport)
	if err != nil {
		fmt.Fprintln(stderr, "rtspsim:", err)
		return 2
	}
	level := slog.LevelWarn
	if *debug {
		level = slog.LevelDebug
	}
	cfg := sim.Config{
		URL:          fs.Arg(0),
		Sessions:     *n,
		Transport:    tr,
		Ramp:         *ramp,
		Duration:     *duration,
		Timeout:      *timeout,
		KeepAlive:    *keepAlive,
		PID:          *pid,
		RTPTimeSlack: *slack,
		UserAgent:    *userAgent,
		Logger:       slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})),
	}
	if *verbose {
		cfg.Dialog = stderr
	}
	switch *progress {
	case "on":
		cfg.Progress = progressPrinter(stderr)
	case "auto":
		if !*verbose && (*duration == 0 || *ramp+*duration >= 5*time.Second) {
			cfg.Progress = progressPrinter(stderr)
		}
	case "off":
	default:
		fmt.Fprintf(stderr, "rtspsim: -progress %q: want auto, on or off\n", *progress)
		return 2
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		// After the first Ctrl-C the sessions tear down; a second one kills the process.
		<-ctx.Done()
		stop()
	}()

	rep, err := sim.Run(ctx, cfg)
	if err != nil {
		fmt.Fprintln(stderr, "rtspsim:", err)
		return 2
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			fmt.Fprintln(stderr, "rtspsim: write report:", err)
			return 2
		}
	} else {
		rep.WriteText(stdout)
	}
	if rep.Failed() {
		return 1
	}
	return 0
}

// progressPrinter rewrites one line on a terminal and prints a line every 5s otherwise
// (logs of CI runs).
func progressPrinter(w io.Writer) func(sim.Progress) {
	tty := false
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			tty = true
		}
	}
	var last time.Duration
	var lastBytes uint64
	return func(p sim.Progress) {
		if !tty && p.Elapsed-last < 5*time.Second && p.Active > 0 {
			return
		}
		rate := 0.0
		if dt := (p.Elapsed - last).Seconds(); dt > 0 {
			rate = float64(p.Bytes-lastBytes) * 8 / dt / 1e6
		}
		last, lastBytes = p.Elapsed, p.Bytes
		line := fmt.Sprintf("%6.1fs  sessions %d/%d active, %d done, %d failed  packets %d  lost %d  frames %d  %.1f Mbit/s  violations %d",
			p.Elapsed.Seconds(), p.Active, p.Sessions, p.Finished, p.Failed, p.Packets, p.Lost, p.Frames, rate, p.Violations)
		if tty {
			fmt.Fprintf(w, "\r\033[K%s", line)
			if p.Active == 0 && p.Finished == p.Sessions {
				fmt.Fprintln(w)
			}
		} else {
			fmt.Fprintln(w, line)
		}
	}
}
