package main

import (
	"bytes"
	"encoding/json"
	"net"
	"strings"
	"testing"
)

func TestUsageErrorsExitTwo(t *testing.T) {
	for _, args := range [][]string{
		{},
		{"-transport", "carrier-pigeon", "rtsp://127.0.0.1/x"},
		{"-progress", "sometimes", "rtsp://127.0.0.1/x"},
		{"http://127.0.0.1/x"},
	} {
		var out, errb bytes.Buffer
		if code := run(args, &out, &errb); code != 2 {
			t.Errorf("run(%q) = %d, want 2 (stderr %q)", args, code, errb.String())
		}
	}
}

// TestJSONReportOfFailedRun plays a port where nothing listens: the session fails, the exit
// status is 1, and the JSON carries the stable field names scripts rely on.
func TestJSONReportOfFailedRun(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	var out, errb bytes.Buffer
	code := run([]string{"-json", "-n", "2", "-duration", "1s", "-timeout", "2s", "rtsp://" + addr + "/stream"}, &out, &errb)
	if code != 1 {
		t.Fatalf("exit %d, want 1; stderr %q", code, errb.String())
	}
	var rep map[string]any
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out.String())
	}
	for _, k := range []string{"url", "transport", "sessions_requested", "sessions_ok", "sessions_failed", "aggregate", "violations", "self", "sessions"} {
		if _, ok := rep[k]; !ok {
			t.Errorf("JSON lacks %q", k)
		}
	}
	agg, _ := rep["aggregate"].(map[string]any)
	for _, k := range []string{"time_to_first_packet_ms", "time_to_first_keyframe_ms", "loss_percent", "jitter_ms", "latency_ms", "bitrate_kbps", "fps"} {
		if _, ok := agg[k]; !ok {
			t.Errorf("aggregate lacks %q", k)
		}
	}
	if rep["sessions_failed"].(float64) != 2 {
		t.Errorf("sessions_failed = %v, want 2", rep["sessions_failed"])
	}
	sessions := rep["sessions"].([]any)
	if e, _ := sessions[0].(map[string]any)["error"].(string); !strings.Contains(e, "connect") {
		t.Errorf("session error %q, want a connect error", e)
	}
}
