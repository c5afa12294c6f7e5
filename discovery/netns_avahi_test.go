package discovery

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const busConfig = `<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=%s</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
`

// avahiConf keeps each test daemon on its veth, IPv4 only, under its own
// name, publishing nothing of the container it runs in.
const avahiConf = `[server]
host-name=%s
use-ipv4=yes
use-ipv6=no
allow-interfaces=%s
enable-dbus=%s
[wide-area]
enable-wide-area=no
[publish]
publish-hinfo=no
publish-workstation=no
`

// TestNetnsAvahi checks the responder against avahi, the resolver most Linux
// NVRs and desktops use: avahi-browse and avahi-resolve in the viewer
// namespace find the camera, and the goodbye removes it from avahi's cache.
// An avahi-daemon also runs in the camera's namespace first, holding port
// 5353, to show that the two coexist on one host.
func TestNetnsAvahi(t *testing.T) {
	for _, prog := range []string{"avahi-daemon", "avahi-browse", "avahi-resolve", "dbus-daemon"} {
		if _, err := exec.LookPath(prog); err != nil {
			t.Skipf("needs %s (apt-get install avahi-daemon avahi-utils dbus)", prog)
		}
	}
	n := newTestNet(t)
	dir := t.TempDir()

	// A private system bus for the viewer's avahi-daemon and its clients, so
	// the test neither needs nor disturbs a host D-Bus or avahi.
	bus := filepath.Join(dir, "bus.sock")
	writeFile(t, filepath.Join(dir, "bus.conf"), fmt.Sprintf(busConfig, bus))
	startDaemon(t, "dbus-daemon", "", exec.Command("dbus-daemon", "--nofork", "--nopidfile", "--config-file="+filepath.Join(dir, "bus.conf")))
	waitPath(t, bus)
	busEnv := "DBUS_SYSTEM_BUS_ADDRESS=unix:path=" + bus

	writeFile(t, filepath.Join(dir, "avahi-cam.conf"), fmt.Sprintf(avahiConf, "avahi-cam", n.ifA, "no"))
	writeFile(t, filepath.Join(dir, "avahi-view.conf"), fmt.Sprintf(avahiConf, "avahi-view", n.ifB, "yes"))
	camAvahi := startAvahi(t, n.nsA, filepath.Join(dir, "avahi-cam.conf"), "")
	startAvahi(t, n.nsB, filepath.Join(dir, "avahi-view.conf"), busEnv)

	proc := startResponder(t, n.nsA, Config{Hostname: "camera-abcd", Instance: "camerad ABCD", Port: 8554, TXT: testTXT})

	// avahi-browse -p escapes the space in the instance name as \032.
	wantBrowse := `=;vview;IPv4;camerad\032ABCD;_rtsp._tcp;local;camera-abcd.local;10.77.0.1;8554;`
	line := poll(t, "avahi-browse to resolve the camera", func() (string, bool) {
		out := avahiCmd(n.nsB, busEnv, "avahi-browse", "-rtpk", "_rtsp._tcp")
		for _, l := range strings.Split(out, "\n") {
			if strings.HasPrefix(l, wantBrowse) {
				return l, true
			}
		}
		return out, false
	})
	if !strings.Contains(line, `"path=/stream"`) {
		t.Errorf("avahi-browse TXT lacks path=/stream: %s", line)
	}
	poll(t, "avahi-resolve camera-abcd.local", func() (string, bool) {
		out := avahiCmd(n.nsB, busEnv, "avahi-resolve", "-4", "-n", "camera-abcd.local")
		return out, strings.TrimSpace(out) == "camera-abcd.local\t10.77.0.1"
	})

	if camAvahi.ProcessState != nil {
		t.Errorf("avahi-daemon beside the responder exited: %v", camAvahi.ProcessState)
	}

	// After the goodbye, avahi drops the service from its cache; without one
	// it would keep listing it for the 75-minute PTR TTL.
	proc.stop()
	poll(t, "avahi to forget the camera after the goodbye", func() (string, bool) {
		out := avahiCmd(n.nsB, busEnv, "avahi-browse", "-tpk", "_rtsp._tcp")
		return out, !strings.Contains(out, `camerad\032ABCD`)
	})
}

func writeFile(t *testing.T, path, s string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(s), 0o644); err != nil {
		t.Fatal(err)
	}
}

// startAvahi runs avahi-daemon in ns. ip netns exec gives it a private mount
// namespace; a tmpfs on /run there keeps its pid file from clashing with any
// other avahi-daemon on the host.
func startAvahi(t *testing.T, ns, conf, env string) *exec.Cmd {
	t.Helper()
	cmd := exec.Command("ip", "netns", "exec", ns, "sh", "-c",
		`mount -t tmpfs tmpfs /run && exec avahi-daemon --no-drop-root --no-chroot --no-rlimits -f "$0"`, conf)
	return startDaemon(t, "avahi-daemon in "+ns, env, cmd)
}

func startDaemon(t *testing.T, what, env string, cmd *exec.Cmd) *exec.Cmd {
	t.Helper()
	out := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if env != "" {
		cmd.Env = append(os.Environ(), env)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", what, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
		if t.Failed() {
			t.Logf("%s output:\n%s", what, out.String())
		}
	})
	return cmd
}

func avahiCmd(ns, env string, args ...string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", ns}, args...)...)
	cmd.Env = append(os.Environ(), env)
	out, _ := cmd.CombinedOutput()
	return string(out)
}

func waitPath(t *testing.T, p string) {
	t.Helper()
	poll(t, p+" to appear", func() (string, bool) {
		_, err := os.Stat(p)
		return fmt.Sprint(err), err == nil
	})
}

// poll retries check until it succeeds; the deadline guards against hanging
// (avahi-daemon itself takes a few seconds to probe its own name).
func poll(t *testing.T, what string, check func() (string, bool)) string {
	t.Helper()
	deadline := time.Now().Add(40 * time.Second)
	for {
		out, ok := check()
		if ok {
			return out
		}
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s; last output:\n%s", what, out)
		}
		time.Sleep(300 * time.Millisecond)
	}
}
