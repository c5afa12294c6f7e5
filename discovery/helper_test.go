package discovery

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"os"
	"os/exec"
	"os/signal"
	"sync"
	"syscall"
	"testing"
	"time"
)

// helperEnv carries a JSON Config to the responder helper process.
const helperEnv = "CAMERAD_DISCOVERY_HELPER"

// TestHelperResponder is not a test: it is the responder process that the
// network-namespace tests start inside a namespace (with ip netns exec), so
// that every socket and netlink call of the responder lives there. It runs
// until SIGTERM, like camerad.
func TestHelperResponder(t *testing.T) {
	spec := os.Getenv(helperEnv)
	if spec == "" {
		return
	}
	var cfg Config
	if err := json.Unmarshal([]byte(spec), &cfg); err != nil {
		t.Fatalf("helper config: %v", err)
	}
	cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	r, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, syscall.SIGINT)
	defer stop()
	if err := r.Run(ctx); err != nil {
		t.Fatalf("Run: %v", err)
	}
}

// lockedBuffer collects a child's output for the test log.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// responderProc is a running helper.
type responderProc struct {
	t    *testing.T
	cmd  *exec.Cmd
	out  *lockedBuffer
	done chan error
}

// startResponder runs the helper in namespace ns with cfg.
func startResponder(t *testing.T, ns string, cfg Config) *responderProc {
	t.Helper()
	spec, err := json.Marshal(Config{Hostname: cfg.Hostname, Instance: cfg.Instance, Port: cfg.Port, TXT: cfg.TXT, Interfaces: cfg.Interfaces})
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("ip", "netns", "exec", ns, os.Args[0], "-test.run=^TestHelperResponder$", "-test.count=1")
	cmd.Env = append(os.Environ(), helperEnv+"="+string(spec))
	p := &responderProc{t: t, cmd: cmd, out: &lockedBuffer{}, done: make(chan error, 1)}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	if err := cmd.Start(); err != nil {
		t.Fatalf("start responder helper: %v", err)
	}
	go func() { p.done <- cmd.Wait() }()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("responder %s (%s) output:\n%s", cfg.Hostname, ns, p.out.String())
		}
	})
	return p
}

// stop sends SIGTERM (ip netns exec has exec'd the test binary, so the
// signal reaches the responder) and waits for a clean exit.
func (p *responderProc) stop() {
	p.t.Helper()
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		p.t.Fatalf("signal responder: %v", err)
	}
	select {
	case err := <-p.done:
		p.done <- err // for Cleanup
		if err != nil {
			p.t.Fatalf("responder exited with %v:\n%s", err, p.out.String())
		}
	case <-time.After(30 * time.Second):
		p.t.Fatalf("responder did not exit after SIGTERM:\n%s", p.out.String())
	}
}
