// Command loadtest measures camerad under many viewers: it builds camerad, serves a 720p
// 4 Mbit/s H.264 clip (made with ffmpeg) or the built-in test source, plays it with N rtspsim
// sessions and prints server CPU, peak RSS, time to first keyframe and dropped frames.
//
//	go run ./scripts/loadtest -n 100 -transport udp -duration 30s
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/camerad/camerad/cmd/rtspsim/sim"
)

func main() {
	n := flag.Int("n", 100, "viewers")
	transport := flag.String("transport", "udp", "udp or tcp")
	duration := flag.Duration("duration", 30*time.Second, "how long every viewer plays")
	ramp := flag.Duration("ramp", 2*time.Second, "spread viewer starts over this long")
	bitrate := flag.String("bitrate", "4M", "clip bitrate for ffmpeg (the stream's rate)")
	source := flag.String("source", "", "camerad -source (default: a 720p clip at -bitrate made with ffmpeg)")
	flag.Parse()
	if err := run(*n, *transport, *duration, *ramp, *bitrate, *source); err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(1)
	}
}

func run(n int, transport string, duration, ramp time.Duration, bitrate, source string) error {
	dir, err := os.MkdirTemp("", "camerad-load")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "camerad")
	if out, err := exec.Command("go", "build", "-o", bin, "./cmd/camerad").CombinedOutput(); err != nil {
		return fmt.Errorf("build camerad: %w\n%s", err, out)
	}
	if source == "" {
		clip := filepath.Join(dir, "clip.h264")
		if err := makeClip(clip, bitrate); err != nil {
			return err
		}
		source = "file:" + clip
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	cmd := exec.Command(bin, "-listen", fmt.Sprintf("127.0.0.1:%d", port), "-source", source,
		"-max-viewers", strconv.Itoa(n+10), "-mdns=false")
	stderr, _ := cmd.StderrPipe()
	if err := cmd.Start(); err != nil {
		return err
	}
	defer func() { _ = cmd.Process.Kill(); _ = cmd.Wait() }()

	logs := newLogScanner(stderr)
	if err := logs.waitFor("msg=serving", 15*time.Second); err != nil {
		return err
	}
	tr, err := sim.ParseTransport(transport)
	if err != nil {
		return err
	}
	url := fmt.Sprintf("rtsp://127.0.0.1:%d/stream", port)
	fmt.Printf("loadtest: %d %s viewers for %v (ramp %v) on %s, source %s\n", n, transport, duration, ramp, url, source)
	rep, err := sim.Run(context.Background(), sim.Config{
		URL: url, Sessions: n, Transport: tr, Ramp: ramp, Duration: duration, PID: cmd.Process.Pid,
		RTPTimeSlack: -1,
		Progress: func(p sim.Progress) {
			fmt.Fprintf(os.Stderr, "\r%5.1fs: %d/%d playing, %d failed, %d frames, %d lost   ",
				p.Elapsed.Seconds(), p.Active, p.Sessions, p.Failed, p.Frames, p.Lost)
		},
	})
	fmt.Fprintln(os.Stderr)
	if err != nil {
		return err
	}
	hwm := peakRSS(cmd.Process.Pid)
	_ = cmd.Process.Signal(os.Interrupt)
	_ = cmd.Wait()
	dropped, left := logs.dropped()

	a := rep.Aggregate
	fmt.Printf("sessions ok:             %d/%d (failed %d, with violations %d)\n", rep.SessionsOK, n, rep.SessionsFailed, rep.SessionsWithIssues)
	fmt.Printf("delivered:               %.1f Mbit/s total, %.0f kbit/s per viewer (p50)\n", a.TotalBitrateKbps/1000, a.BitrateKbps.P50)
	if rep.Server != nil {
		fmt.Printf("server CPU:              mean %.1f%%, p95 %.1f%% of one core (%.2f CPU-s)\n", rep.Server.CPUPercent.Mean, rep.Server.CPUPercent.P95, rep.Server.CPUSeconds)
	}
	fmt.Printf("server peak RSS:         %.1f MB\n", float64(hwm)/(1<<20))
	fmt.Printf("time to first keyframe:  p50 %.0f ms, p95 %.0f ms, max %.0f ms\n", a.TimeToFirstKeyframeMS.P50, a.TimeToFirstKeyframeMS.P95, a.TimeToFirstKeyframeMS.Max)
	fmt.Printf("AUs before first IDR:    max %.0f\n", a.AUsBeforeKeyframe.Max)
	fmt.Printf("packet loss:             %d of %d\n", a.PacketsLost, a.Packets)
	fmt.Printf("frames dropped (server): %d over %d viewers\n", dropped, left)
	for _, v := range rep.Violations {
		fmt.Printf("violation:               %s x%d (first: %s)\n", v.Kind, v.Count, v.First)
	}
	if rep.Failed() {
		return errors.New("some sessions failed or violated a check")
	}
	return nil
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

// logScanner follows camerad's log for readiness and the per-viewer "viewer left" lines.
type logScanner struct {
	mu    sync.Mutex
	lines []string
	ch    chan string
}

var droppedRE = regexp.MustCompile(`msg="viewer left".* dropped=(\d+)`)

func newLogScanner(r io.Reader) *logScanner {
	l := &logScanner{ch: make(chan string, 1024)}
	go func() {
		sc := bufio.NewScanner(r)
		for sc.Scan() {
			l.mu.Lock()
			l.lines = append(l.lines, sc.Text())
			l.mu.Unlock()
			select {
			case l.ch <- sc.Text():
			default:
			}
		}
	}()
	return l
}

func (l *logScanner) waitFor(substr string, timeout time.Duration) error {
	deadline := time.After(timeout)
	for {
		select {
		case line := <-l.ch:
			if strings.Contains(line, substr) {
				return nil
			}
		case <-deadline:
			return fmt.Errorf("camerad did not log %q within %v", substr, timeout)
		}
	}
}

func (l *logScanner) dropped() (frames, viewers int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, line := range l.lines {
		if m := droppedRE.FindStringSubmatch(line); m != nil {
			d, _ := strconv.Atoi(m[1])
			frames += d
			viewers++
		}
	}
	return frames, viewers
}
