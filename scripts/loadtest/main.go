// Command loadtest measures camerad under many viewers: it builds camerad, serves a 720p
// 4 Mbit/s H.264 clip (made with ffmpeg) or the built-in test source, plays it with N rtspsim
// sessions and prints server CPU, peak RSS, time to first keyframe and dropped frames.
//
//	go run ./scripts/loadtest -n 100 -transport udp -duration 30s
//
// With -mediamtx (a mediamtx binary), the same clip is then served by mediamtx, published to
// it by ffmpeg, and played by the same viewers; with -gst-rtsp-server, by gst-rtsp-server
// (gst-rtsp-server.py). A table compares each peer with camerad, run by run on this machine:
//
//	go run ./scripts/loadtest -n 100 -mediamtx ~/mediamtx/mediamtx -gst-rtsp-server
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/camerad/camerad/cmd/rtspsim/sim"
)

func main() {
	var o options
	flag.IntVar(&o.n, "n", 100, "viewers")
	flag.StringVar(&o.transport, "transport", "udp", "udp or tcp")
	flag.DurationVar(&o.duration, "duration", 30*time.Second, "how long every viewer plays")
	flag.DurationVar(&o.ramp, "ramp", 2*time.Second, "spread viewer starts over this long")
	flag.StringVar(&o.bitrate, "bitrate", "4M", "clip bitrate for ffmpeg (the stream's rate)")
	flag.StringVar(&o.source, "source", "", "camerad -source (default: a 720p clip at -bitrate made with ffmpeg)")
	flag.StringVar(&o.mediamtx, "mediamtx", "", "path of a mediamtx binary to measure on the same clip, side by side")
	flag.BoolVar(&o.gst, "gst-rtsp-server", false, "also measure gst-rtsp-server (python3-gi) on the same clip, side by side")
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(1)
	}
}

type options struct {
	n                         int
	transport                 string
	duration, ramp            time.Duration
	bitrate, source, mediamtx string
	gst                       bool
}

// server is one RTSP server under test, started on the clip.
type server interface {
	name() string
	// start runs the server and returns the URL to play and its process.
	start(ctx context.Context, dir, clip string, viewers int) (url string, pid int, err error)
	// stop ends the server (it must still be running) and reports what it logged.
	stop() serverNotes
}

// serverNotes is what a server reports about a run beyond what the viewers measured.
type serverNotes struct {
	droppedFrames, viewersLeft int
	known                      bool // the server logs its dropped frames
}

// result is one server's run.
type result struct {
	name  string
	rep   *sim.Report
	hwm   int64 // peak RSS, bytes
	notes serverNotes
}

func run(o options) error {
	if (o.mediamtx != "" || o.gst) && o.source != "" {
		return errors.New("peers are compared on the clip only; leave -source empty")
	}
	tr, err := sim.ParseTransport(o.transport)
	if err != nil {
		return err
	}
	dir, err := os.MkdirTemp("", "camerad-load")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	source, clip := o.source, ""
	if source == "" {
		clip = filepath.Join(dir, "clip.h264")
		if err := makeClip(clip, o.bitrate); err != nil {
			return err
		}
	}
	servers := []server{&camerad{source: source}}
	if o.mediamtx != "" {
		servers = append(servers, &mediamtx{bin: o.mediamtx})
	}
	if o.gst {
		servers = append(servers, &gstRTSPServer{})
	}
	var results []result
	for i, s := range servers {
		r, err := measure(s, o, tr, dir, clip, i == 0)
		if err != nil {
			return fmt.Errorf("%s: %w", s.name(), err)
		}
		printResult(r)
		results = append(results, r)
	}
	if len(results) > 1 {
		printComparison(results)
	}
	// camerad is held to its own promises (an exact RTP-Info rtptime among them); a peer's
	// slips are shown, not failed on.
	if results[0].rep.Failed() {
		return errors.New("camerad: some sessions failed or violated a check")
	}
	return nil
}

// measure plays s with o.n viewers and reads its peak RSS before stopping it.
func measure(s server, o options, tr sim.Transport, dir, clip string, strict bool) (result, error) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	url, pid, err := s.start(ctx, dir, clip, o.n)
	if err != nil {
		return result{}, err
	}
	slack := time.Duration(0) // the default
	if strict {
		slack = -1
	}
	fmt.Printf("loadtest: %s: %d %s viewers for %v (ramp %v) on %s\n", s.name(), o.n, o.transport, o.duration, o.ramp, url)
	rep, err := sim.Run(ctx, sim.Config{
		URL: url, Sessions: o.n, Transport: tr, Ramp: o.ramp, Duration: o.duration, PID: pid,
		RTPTimeSlack: slack,
		Progress: func(p sim.Progress) {
			fmt.Fprintf(os.Stderr, "\r%5.1fs: %d/%d playing, %d failed, %d frames, %d lost   ",
				p.Elapsed.Seconds(), p.Active, p.Sessions, p.Failed, p.Frames, p.Lost)
		},
	})
	fmt.Fprintln(os.Stderr)
	hwm := peakRSS(pid)
	notes := s.stop()
	if err != nil {
		return result{}, err
	}
	return result{name: s.name(), rep: rep, hwm: hwm, notes: notes}, nil
}

func printResult(r result) {
	rep, a := r.rep, r.rep.Aggregate
	p := func(label, format string, args ...any) {
		fmt.Printf("%-8s %-24s "+format+"\n", append([]any{r.name, label}, args...)...)
	}
	p("sessions ok:", "%d/%d (failed %d, with violations %d)", rep.SessionsOK, rep.SessionsRequested, rep.SessionsFailed, rep.SessionsWithIssues)
	p("delivered:", "%.1f Mbit/s total, %.0f kbit/s per viewer (p50)", a.TotalBitrateKbps/1000, a.BitrateKbps.P50)
	if rep.Server != nil {
		p("server CPU:", "mean %.1f%%, p95 %.1f%% of one core (%.2f CPU-s)", rep.Server.CPUPercent.Mean, rep.Server.CPUPercent.P95, rep.Server.CPUSeconds)
	}
	p("server peak RSS:", "%.1f MB", float64(r.hwm)/(1<<20))
	p("time to first keyframe:", "p50 %.0f ms, p95 %.0f ms, max %.0f ms", a.TimeToFirstKeyframeMS.P50, a.TimeToFirstKeyframeMS.P95, a.TimeToFirstKeyframeMS.Max)
	p("AUs before first IDR:", "max %.0f", a.AUsBeforeKeyframe.Max)
	p("packet loss:", "%d of %d", a.PacketsLost, a.Packets)
	if r.notes.known {
		p("frames dropped (server):", "%d over %d viewers", r.notes.droppedFrames, r.notes.viewersLeft)
	}
	for _, v := range rep.Violations {
		p("violation:", "%s x%d (first: %s)", v.Kind, v.Count, v.First)
	}
	for _, s := range rep.Sessions {
		if s.Started && !s.OK {
			p("first failed session:", "%d: %s", s.ID, s.Error)
			break
		}
	}
}

// coresPerGbit is the server's CPU, in cores, per Gbit/s delivered to the viewers.
func coresPerGbit(r result) float64 {
	if r.rep.Server == nil || r.rep.Aggregate.TotalBitrateKbps == 0 || r.rep.ElapsedMS == 0 {
		return 0
	}
	cores := r.rep.Server.CPUSeconds / (r.rep.ElapsedMS / 1000)
	return cores / (r.rep.Aggregate.TotalBitrateKbps / 1e6)
}

// printComparison prints camerad's figures beside each peer's, with their ratio.
func printComparison(results []result) {
	base := results[0]
	for _, peer := range results[1:] {
		fmt.Printf("\n%-30s %12s %12s %10s\n", "same clip, viewers, machine", base.name, peer.name, "ratio")
		row := func(label string, a, b float64, unit string) {
			ratio := "-"
			if b != 0 {
				ratio = fmt.Sprintf("%.2f", a/b)
			}
			fmt.Printf("%-30s %12s %12s %10s\n", label, fmt.Sprintf("%.3g%s", a, unit), fmt.Sprintf("%.3g%s", b, unit), ratio)
		}
		ba, pa := base.rep.Aggregate, peer.rep.Aggregate
		row("CPU, cores per Gbit/s", coresPerGbit(base), coresPerGbit(peer), "")
		row("peak RSS, MB", float64(base.hwm)/(1<<20), float64(peer.hwm)/(1<<20), "")
		row("first keyframe p50, ms", ba.TimeToFirstKeyframeMS.P50, pa.TimeToFirstKeyframeMS.P50, "")
		row("first keyframe p95, ms", ba.TimeToFirstKeyframeMS.P95, pa.TimeToFirstKeyframeMS.P95, "")
		row("AUs before first IDR, max", ba.AUsBeforeKeyframe.Max, pa.AUsBeforeKeyframe.Max, "")
		row("packets lost", float64(ba.PacketsLost), float64(pa.PacketsLost), "")
	}
}

// makeClip writes a 2 s (looped; small, as the source holds it in memory) 1280x720 30 fps clip with a 1 s GOP and no B-frames at bitrate.
func makeClip(path, bitrate string) error {
	if _, err := exec.LookPath("ffmpeg"); err != nil {
		return errors.New("ffmpeg is needed to make the 4 Mbit/s clip (or pass -source testsrc)")
	}
	cmd := exec.Command("ffmpeg", "-v", "error", "-y", "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30",
		"-t", "2", "-c:v", "libx264", "-preset", "veryfast", "-profile:v", "main", "-bf", "0",
		"-g", "30", "-keyint_min", "30", "-sc_threshold", "0", "-b:v", bitrate, "-maxrate", bitrate,
		"-bufsize", bitrate, "-x264-params", "repeat-headers=1", "-f", "h264", path)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("ffmpeg: %w\n%s", err, out)
	}
	return nil
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

func peakRSS(pid int) int64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.Fields(v)[0], 10, 64)
			return kb << 10
		}
	}
	return 0
}
