package main

import (
	"bytes"
	"net"
	"strings"
	"testing"
)

// runCapture calls run (main without the process) and returns its exit code and output.
// Only argument sets that end before serving belong here; serving is covered by the
// interop tests against the built binary.
func runCapture(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	code = run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestRunBadFlag(t *testing.T) {
	code, stdout, stderr := runCapture("-badflag")
	if code != exitUsage {
		t.Errorf("exit %d, want %d (usage)", code, exitUsage)
	}
	if !strings.Contains(stderr, "badflag") {
		t.Errorf("stderr does not name the flag:\n%s", stderr)
	}
	// The flag package prints the usage with the error, so the user sees what exists.
	if !strings.Contains(stderr, "-listen") {
		t.Errorf("stderr has no usage:\n%s", stderr)
	}
	if stdout != "" {
		t.Errorf("stdout = %q, want nothing", stdout)
	}
}

func TestRunBadFlagValue(t *testing.T) {
	code, _, stderr := runCapture("-fps", "fast")
	if code != exitUsage || !strings.Contains(stderr, "fps") {
		t.Errorf("-fps fast: exit %d, stderr:\n%s", code, stderr)
	}
	code, _, stderr = runCapture("-fps", "500")
	if code != exitUsage || !strings.Contains(stderr, "fps") || !strings.Contains(stderr, "500") {
		t.Errorf("-fps 500: exit %d, stderr:\n%s", code, stderr)
	}
}

func TestRunInvalidConfig(t *testing.T) {
	for _, tc := range []struct{ name, yml, field string }{
		{"unknown field", "sorce: clip\n", "sorce"},
		{"bad value", "max_viewers: -3\n", "max_viewers"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := writeConfig(t, tc.yml)
			code, _, stderr := runCapture("-config", p)
			if code != exitUsage {
				t.Errorf("exit %d, want %d", code, exitUsage)
			}
			if !strings.Contains(stderr, tc.field) || !strings.Contains(stderr, p) {
				t.Errorf("stderr does not name the file and %q:\n%s", tc.field, stderr)
			}
		})
	}
}

func TestRunMissingConfig(t *testing.T) {
	code, _, stderr := runCapture("-config", "/nonexistent/camera.yml")
	if code != exitUsage || !strings.Contains(stderr, "/nonexistent/camera.yml") {
		t.Errorf("exit %d, stderr:\n%s", code, stderr)
	}
}

func TestRunVersion(t *testing.T) {
	code, stdout, stderr := runCapture("-version")
	if code != exitOK {
		t.Errorf("exit %d, want 0", code)
	}
	if want := "camerad " + version + "\n"; stdout != want {
		t.Errorf("stdout = %q, want %q", stdout, want)
	}
	if stderr != "" {
		t.Errorf("stderr = %q, want nothing", stderr)
	}
}

// TestRunVersionWithConfig: -version answers even when settings come from a file.
func TestRunVersionWithConfig(t *testing.T) {
	code, stdout, _ := runCapture("-config", writeConfig(t, "fps: 25\n"), "-version")
	if code != exitOK || !strings.HasPrefix(stdout, "camerad ") {
		t.Errorf("exit %d, stdout %q", code, stdout)
	}
}

func TestRunHelp(t *testing.T) {
	code, _, stderr := runCapture("-h")
	if code != exitOK {
		t.Errorf("-h: exit %d, want 0", code)
	}
	for _, flag := range []string{"-listen", "-source", "-config", "-mdns"} {
		if !strings.Contains(stderr, flag) {
			t.Errorf("usage lacks %s:\n%s", flag, stderr)
		}
	}
}

func TestRunStrayArgument(t *testing.T) {
	code, _, stderr := runCapture("-source", "clip", "extra")
	if code != exitUsage || !strings.Contains(stderr, "extra") {
		t.Errorf("exit %d, stderr:\n%s", code, stderr)
	}
}

// A taken port ends camerad at once, with a hint, before any source is opened.
func TestRunPortTaken(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	code, _, stderr := runCapture("-listen", ln.Addr().String(), "-source", "testsrc", "-mdns=false", "-onvif-listen=")
	if code != exitFailure {
		t.Errorf("exit %d, want %d", code, exitFailure)
	}
	if !strings.Contains(stderr, "port is taken") || !strings.Contains(stderr, "-listen") {
		t.Errorf("stderr has no hint to choose another port:\n%s", stderr)
	}
	if strings.Contains(stderr, "msg=source") {
		t.Errorf("the source was opened before the port was:\n%s", stderr)
	}
}
