package rtspsrv

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/bluenviron/gortsplib/v5"
	"github.com/bluenviron/gortsplib/v5/pkg/base"
	"github.com/bluenviron/gortsplib/v5/pkg/description"
	"github.com/bluenviron/gortsplib/v5/pkg/format"
	"github.com/bluenviron/gortsplib/v5/pkg/format/rtph264"
	"github.com/pion/rtp"
	"golang.org/x/sys/unix"

	"github.com/camerad/camerad/encoder"
)

// The fan-out benchmark runs each server in a child process (this test binary re-executed
// with fanoutServerEnv set) so that its CPU time can be read from /proc apart from the
// viewers', which run here as identical gortsplib clients for both servers. Both servers get
// the same access units at the same rate; the figure of merit is server user+sys CPU per
// gigabit delivered to the viewers.
//
// Each child also runs the source: a goroutine that wakes at the frame rate and fills a pooled
// access unit. That costs the same in both, and at high frame rates on a small VM it is a
// large share of either (a thread wake-up costs tens of µs there). So the same source is also
// run alone, at the same rate and for as long, and its CPU is reported: cpu-s/Gbit is the
// whole child, fanout-cpu-s/Gbit is the child minus the source alone. A third side, the
// kernel floor (fanout_floor_bench_test.go), measures the least any server can spend on the
// same delivery in the same run.
const (
	fanoutServerEnv  = "CAMERAD_FANOUT_SERVER" // "camerad", "gortsplib", "floor" or "source-only"
	fanoutFPSEnv     = "CAMERAD_FANOUT_FPS"
	fanoutMeasureEnv = "CAMERAD_FANOUT_MEASURE" // a duration, to measure longer than fanoutMeasure
	fanoutWarmup     = time.Second
	fanoutMeasure    = 5 * time.Second
	// fanoutAggregate is the delivered rate each case aims at: high enough to measure,
	// low enough for two cores to serve both the server and 100 clients.
	fanoutAggregate = 150e6 // bit/s
)

func BenchmarkFanout(b *testing.B) {
	if testing.Short() {
		b.Skip("fan-out benchmark spawns servers and 100 clients; skipped in -short")
	}
	for _, lower := range []string{"udp", "tcp"} {
		for _, viewers := range []int{1, 10, 100} {
			fps := fanoutFPS(viewers)
			for _, server := range []string{"camerad", "gortsplib", "floor"} {
				name := fmt.Sprintf("%s/viewers=%d/%s", lower, viewers, server)
				b.Run(name, func(b *testing.B) { runFanout(b, server, lower, viewers, fps) })
			}
		}
	}
}

// fanoutFPS is the frame rate at which viewers viewers receive about fanoutAggregate in all
// (never below the clip's own 30 fps).
func fanoutFPS(viewers int) int {
	avgFrameBits := 0.0
	for _, u := range benchGOPUnits() {
		for _, n := range u {
			avgFrameBits += float64(len(n) * 8)
		}
	}
	avgFrameBits /= benchGOP
	return max(benchFPS, int(fanoutAggregate/(avgFrameBits*float64(viewers))))
}

func fanoutMeasureTime() time.Duration {
	if d, err := time.ParseDuration(os.Getenv(fanoutMeasureEnv)); err == nil && d > 0 {
		return d
	}
	return fanoutMeasure
}

// fanoutChild is a running TestFanoutBenchServer process.
type fanoutChild struct {
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	out    *bufio.Scanner // the child's stdout
	url    string         // empty for the source alone
	server string
	log    *childLog // the child's stderr
}

// childLog holds what a child writes to stderr: written through, a line from a child (such
// as gortsplib's "write queue is full", once per packet it drops) could land in the middle
// of a result line, which benchratio would then not see. It counts the lines and keeps the
// first few, which the case logs after its result.
type childLog struct {
	mu    sync.Mutex
	lines int
	head  []byte
}

const childLogHead = 512 // bytes of a child's stderr kept for the benchmark's log

func (l *childLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines += bytes.Count(p, []byte{'\n'})
	if room := childLogHead - len(l.head); room > 0 {
		l.head = append(l.head, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

// logStderr logs what the child wrote to stderr, if anything, after the case's result.
func (c *fanoutChild) logStderr(b *testing.B) {
	c.log.mu.Lock()
	defer c.log.mu.Unlock()
	if c.log.lines > 0 {
		b.Logf("%s wrote %d lines to stderr, beginning:\n%s", c.server, c.log.lines, c.log.head)
	}
}

func startFanoutChild(b *testing.B, server string, fps int, env ...string) *fanoutChild {
	cmd := exec.Command(os.Args[0], "-test.run=^TestFanoutBenchServer$", "-test.v=false")
	cmd.Env = append(os.Environ(), fanoutServerEnv+"="+server, fanoutFPSEnv+"="+strconv.Itoa(fps))
	cmd.Env = append(cmd.Env, env...)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	log := &childLog{}
	cmd.Stderr = log
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	c := &fanoutChild{cmd: cmd, stdin: stdin, out: bufio.NewScanner(stdout), server: server, log: log}
	for c.out.Scan() {
		if u, ok := strings.CutPrefix(c.out.Text(), "URL "); ok {
			c.url = u
			break
		}
		if c.out.Text() == "READY" {
			break
		}
	}
	return c
}

// stop closes the child's stdin, which ends it, and logs what it wrote to stderr.
func (c *fanoutChild) stop(b *testing.B) {
	c.stdin.Close()
	for c.out.Scan() { // whatever the child still prints must not fill the pipe
	}
	_ = c.cmd.Wait()
	c.logStderr(b)
}

// childSample is what a child reports when asked: its CPU time and the frames it published.
type childSample struct {
	cpu, sys time.Duration // user+sys, and the sys part of it
	frames   int64
}

// sample asks the child for its user+sys CPU time, the sys part of it and the frames
// published so far. The child reads its CPU time with getrusage, which sums every thread's
// exact run time: /proc/<pid>/stat rounds them to 10 ms, several percent of a 5 s measurement
// at a few percent of a core.
func (c *fanoutChild) sample(b *testing.B) childSample {
	if _, err := io.WriteString(c.stdin, "cpu\n"); err != nil {
		b.Fatal(err)
	}
	for c.out.Scan() {
		var user, system time.Duration
		var frames int64
		if _, err := fmt.Sscanf(c.out.Text(), "CPU %d %d %d", &user, &system, &frames); err == nil {
			return childSample{cpu: user + system, sys: system, frames: frames}
		}
	}
	b.Fatalf("child ended without reporting its CPU time: %v", c.out.Err())
	return childSample{}
}

// measureSourceOnly returns the CPU seconds per second that the source alone uses at fps.
func measureSourceOnly(b *testing.B, fps int) float64 {
	c := startFanoutChild(b, "source-only", fps)
	defer c.stop(b)
	time.Sleep(fanoutWarmup)
	measure := fanoutMeasureTime()
	s0 := c.sample(b)
	time.Sleep(measure)
	s1 := c.sample(b)
	return (s1.cpu - s0.cpu).Seconds() / measure.Seconds()
}

func runFanout(b *testing.B, server, lower string, viewers, fps int) {
	// The previous case's 100 viewers, closed a moment ago, left garbage in this process;
	// collected during this case, it would take a core from the server being measured. Without
	// this pause, three whole runs gave UDP at 10 viewers 0.24 to 0.60 of gortsplib's fan-out
	// CPU; with it, 0.22 to 0.26.
	runtime.GC()
	time.Sleep(fanoutWarmup)
	// The source alone is measured right before each side rather than once per run: what a
	// wake-up costs on this VM drifts over minutes, and at one viewer the source is half of
	// camerad's process, so a figure taken minutes earlier moves the fan-out part by a tenth.
	sourceCPU := measureSourceOnly(b, fps)
	var received, lost atomic.Int64
	var c *fanoutChild
	if server == "floor" {
		spec, connected := startFloorViewers(b, lower, viewers, &received)
		c = startFanoutChild(b, server, fps, fanoutFloorEnv+"="+spec)
		connected()
	} else {
		c = startFanoutChild(b, server, fps)
	}
	defer c.stop(b)
	pid := c.cmd.Process.Pid

	var clients []*gortsplib.Client
	defer func() {
		for _, c := range clients {
			c.Close()
		}
	}()
	if server != "floor" {
		if c.url == "" {
			b.Fatal("server child printed no URL")
		}
		for range viewers {
			c, err := fanoutClient(c.url, lower, &received, &lost)
			if err != nil {
				b.Fatalf("viewer: %v", err)
			}
			clients = append(clients, c)
		}
	}
	time.Sleep(fanoutWarmup)
	measure := fanoutMeasureTime()
	s0 := c.sample(b)
	cs0, rx0, lost0, host0 := contextSwitches(b, pid), received.Load(), lost.Load(), readHostCPU()
	b.ResetTimer()
	time.Sleep(measure)
	b.StopTimer()
	s1 := c.sample(b)
	cs1, rx1, lost1, host1 := contextSwitches(b, pid), received.Load(), lost.Load(), readHostCPU()
	gbit := float64(rx1-rx0) * 8 / 1e9
	if gbit <= 0 {
		b.Fatal("viewers received nothing")
	}
	cpu := (s1.cpu - s0.cpu).Seconds()
	frames := float64(s1.frames - s0.frames)
	b.ReportMetric(cpu/gbit, "cpu-s/Gbit")
	b.ReportMetric((cpu-sourceCPU*measure.Seconds())/gbit, "fanout-cpu-s/Gbit")
	b.ReportMetric((s1.sys-s0.sys).Seconds()/gbit, "sys-s/Gbit")
	b.ReportMetric(float64(cs1-cs0)/frames, "ctxsw/frame")
	b.ReportMetric(frames/measure.Seconds(), "frames/s")
	b.ReportMetric(float64(lost1-lost0), "pkts-lost")
	b.ReportMetric(gbit*1e3/measure.Seconds(), "Mbit/s")
	b.ReportMetric(float64(peakRSS(b, pid))/(1<<20), "MB-peak-RSS")
	if host1.total > host0.total {
		b.ReportMetric(100*float64(host1.steal-host0.steal)/float64(host1.total-host0.total), "host-steal-%")
	}
}

// hostCPU is the machine's CPU time from /proc/stat, in clock ticks: all of it, and the part
// the hypervisor gave to other guests while this one wanted to run (steal). A case measured
// while the host stole a large share is not comparable with one that was not; the benchmark
// reports the share so that a reader can tell.
type hostCPU struct{ total, steal int64 }

func readHostCPU() hostCPU {
	raw, err := os.ReadFile("/proc/stat")
	if err != nil {
		return hostCPU{}
	}
	line, _, _ := strings.Cut(string(raw), "\n")
	fields := strings.Fields(line) // "cpu" user nice system idle iowait irq softirq steal ...
	if len(fields) < 9 || fields[0] != "cpu" {
		return hostCPU{}
	}
	var h hostCPU
	for i, f := range fields[1:] {
		v, _ := strconv.ParseInt(f, 10, 64)
		if i < 8 { // guest time (fields 9 and 10) is already counted in user
			h.total += v
		}
		if i == 7 {
			h.steal = v
		}
	}
	return h
}

func fanoutClient(url, lower string, received, lost *atomic.Int64) (*gortsplib.Client, error) {
	u, err := base.ParseURL(url)
	if err != nil {
		return nil, err
	}
	proto := gortsplib.ProtocolUDP
	if lower == "tcp" {
		proto = gortsplib.ProtocolTCP
	}
	c := &gortsplib.Client{
		Scheme: u.Scheme, Host: u.Host, Protocol: &proto,
		UDPReadBufferSize: udpReadBufferSize(),
		OnPacketsLost:     func(n uint64) { lost.Add(int64(n)) },
	}
	if err := c.Start(); err != nil {
		return nil, err
	}
	desc, _, err := c.Describe(u)
	if err != nil {
		c.Close()
		return nil, err
	}
	if err := c.SetupAll(desc.BaseURL, desc.Medias); err != nil {
		c.Close()
		return nil, err
	}
	c.OnPacketRTPAny(func(_ *description.Media, _ format.Format, pkt *rtp.Packet) {
		received.Add(int64(rtpHeaderLen + len(pkt.Payload)))
	})
	if _, err := c.Play(nil); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

// udpReadBufferSize is the viewers' UDP receive buffer: 4 MB, or as much as the system allows
// (net.core.rmem_max; gortsplib fails a client whose buffer the kernel clamps). With the
// default 208 KB, one viewer at 1000 frames/s loses packets whichever server sends them, when a
// keyframe's 70 packets come at once; the lost bits are not delivered, so both servers' CPU
// per delivered Gbit would rise by a margin that depends on the client, not on them.
func udpReadBufferSize() int {
	raw, err := os.ReadFile("/proc/sys/net/core/rmem_max")
	if err != nil {
		return 0 // the system default
	}
	limit, err := strconv.Atoi(strings.TrimSpace(string(raw)))
	if err != nil {
		return 0
	}
	return min(4<<20, limit)
}

// contextSwitches sums the voluntary and involuntary context switches of every thread.
func contextSwitches(b *testing.B, pid int) int64 {
	tasks, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	if err != nil {
		b.Fatal(err)
	}
	var n int64
	for _, t := range tasks {
		raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/status", pid, t.Name()))
		if err != nil {
			continue // the thread exited
		}
		for _, line := range strings.Split(string(raw), "\n") {
			// voluntary_ctxt_switches and nonvoluntary_ctxt_switches
			if name, value, ok := strings.Cut(line, ":"); ok && strings.HasSuffix(name, "ctxt_switches") {
				v, _ := strconv.ParseInt(strings.TrimSpace(value), 10, 64)
				n += v
			}
		}
	}
	return n
}

// peakRSS is a process's VmHWM in bytes.
func peakRSS(b *testing.B, pid int) int64 {
	raw, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		b.Fatal(err)
	}
	for _, line := range strings.Split(string(raw), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.Fields(v)[0], 10, 64)
			return kb << 10
		}
	}
	return 0
}

// TestFanoutBenchServer is the child side of BenchmarkFanout; it does nothing in a normal
// test run.
func TestFanoutBenchServer(t *testing.T) {
	server := os.Getenv(fanoutServerEnv)
	if server == "" {
		t.Skip("child process of BenchmarkFanout only")
	}
	fps, _ := strconv.Atoi(os.Getenv(fanoutFPSEnv))
	ctx, cancel := context.WithCancel(context.Background())
	var published atomic.Int64
	go func() { // the parent asks for our CPU time with a line, and closes our stdin to stop us
		in := bufio.NewScanner(os.Stdin)
		for in.Scan() {
			var ru unix.Rusage
			if err := unix.Getrusage(unix.RUSAGE_SELF, &ru); err == nil {
				fmt.Printf("CPU %d %d %d\n", ru.Utime.Nano(), ru.Stime.Nano(), published.Load())
			}
		}
		cancel()
	}()
	var publish func(au *encoder.AccessUnit)
	switch server {
	case "camerad":
		stream := NewStream(StreamConfig{})
		srv, err := NewServer(Config{MaxViewers: 200}, stream)
		if err != nil {
			t.Fatal(err)
		}
		defer srv.Close()
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		go srv.Serve(ln)
		fmt.Printf("URL rtsp://%s/stream\n", ln.Addr())
		publish = stream.Publish
	case "source-only":
		publish = func(au *encoder.AccessUnit) { au.Release() }
		fmt.Println("READY")
	case "floor":
		publish = floorPublisher(t, os.Getenv(fanoutFloorEnv))
		fmt.Println("READY")
	case "gortsplib":
		p, closeFn := startGortsplibPeer(t)
		defer closeFn()
		publish = p
	}
	pool := encoder.NewPool()
	units := benchGOPUnits()
	period := time.Second / time.Duration(fps)
	tick := time.NewTicker(period)
	defer tick.Stop()
	start := time.Now()
	for i := 0; ; {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			// Every frame due by now, up to fanoutCatchUp: a Ticker drops the ticks that come
			// while its reader is busy (camerad sends on this goroutine), and late wake-ups
			// would otherwise cost frames, so the servers would not get the same input.
			due := int(now.Sub(start)/period) + 1
			if due-i > fanoutCatchUp {
				i = due - fanoutCatchUp // a stall: those frames are skipped, as a camera would
			}
			for ; i < due; i++ {
				publish(benchAU(pool, units, i))
				published.Add(1)
			}
		}
	}
}

// fanoutCatchUp is the most frames the bench source publishes at one wake-up.
const fanoutCatchUp = 4

// gortsplibPeer is gortsplib's reference server: one ServerStream that every viewer reads.
type gortsplibPeer struct {
	stream *gortsplib.ServerStream
}

func (p *gortsplibPeer) OnDescribe(*gortsplib.ServerHandlerOnDescribeCtx) (*base.Response, *gortsplib.ServerStream, error) {
	return &base.Response{StatusCode: base.StatusOK}, p.stream, nil
}

func (p *gortsplibPeer) OnSetup(*gortsplib.ServerHandlerOnSetupCtx) (*base.Response, *gortsplib.ServerStream, error) {
	return &base.Response{StatusCode: base.StatusOK}, p.stream, nil
}

func (p *gortsplibPeer) OnPlay(*gortsplib.ServerHandlerOnPlayCtx) (*base.Response, error) {
	return &base.Response{StatusCode: base.StatusOK}, nil
}

func startGortsplibPeer(t *testing.T) (func(*encoder.AccessUnit), func()) {
	socks, err := listenUDPPorts("", 0) // a free even/odd pair for gortsplib
	if err != nil {
		t.Fatal(err)
	}
	ports := [2]int{socks.rtp.local.Port, socks.rtcp.LocalAddr().(*net.UDPAddr).Port}
	socks.close()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()

	peer := &gortsplibPeer{}
	s := &gortsplib.Server{
		Handler:        peer,
		RTSPAddress:    addr,
		UDPRTPAddress:  fmt.Sprintf(":%d", ports[0]),
		UDPRTCPAddress: fmt.Sprintf(":%d", ports[1]),
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	forma := &format.H264{PayloadTyp: payloadTypeH264, SPS: bench720pSPS, PPS: benchPPS, PacketizationMode: 1}
	medi := &description.Media{Type: description.MediaTypeVideo, Formats: []format.Format{forma}}
	peer.stream = &gortsplib.ServerStream{Server: s, Desc: &description.Session{Medias: []*description.Media{medi}}}
	if err := peer.stream.Initialize(); err != nil {
		t.Fatal(err)
	}
	// Packets of camerad's size, so that both servers send the same packets per frame
	// (gortsplib's own default payload is 1450 bytes, 4 % fewer packets).
	enc := &rtph264.Encoder{
		PayloadType:       forma.PayloadTyp,
		PacketizationMode: forma.PacketizationMode,
		PayloadMaxSize:    DefaultMaxPacketSize - rtpHeaderLen,
	}
	if err := enc.Init(); err != nil {
		t.Fatal(err)
	}
	fmt.Printf("URL rtsp://%s/stream\n", addr)
	publish := func(au *encoder.AccessUnit) {
		defer au.Release()
		pkts, err := enc.Encode(au.NALUs())
		if err != nil {
			return
		}
		ts := uint32(au.PTS * clockRate / time.Second)
		for _, p := range pkts {
			p.Timestamp = ts
			_ = peer.stream.WritePacketRTPWithNTP(medi, p, au.Captured)
		}
	}
	return publish, func() { peer.stream.Close(); s.Close() }
}
