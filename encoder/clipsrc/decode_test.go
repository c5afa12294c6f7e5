package clipsrc

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/camerad/camerad/encoder/h264"
)

// TestOutputDecodesWithFFmpeg writes 150 published units (across the loop point, SEIs
// included) as an Annex-B file and has ffmpeg decode it: the output must be a stream a real
// decoder accepts without a single error, frame for frame.
func TestOutputDecodesWithFFmpeg(t *testing.T) {
	ffprobe, err := exec.LookPath("ffprobe")
	if err != nil {
		t.Skip("ffprobe not installed (apt-get install ffmpeg): cannot check the output with a real decoder")
	}
	s, pool, _ := newVirtual(t, Default(), 0)
	units := collect(t, s, 150)
	var stream []byte
	for _, au := range units {
		stream = h264.AppendAnnexB(stream, au.NALUs()...)
		au.Release()
	}
	if pool.Outstanding() != 0 {
		t.Errorf("outstanding = %d", pool.Outstanding())
	}
	path := filepath.Join(t.TempDir(), "out.h264")
	if err := os.WriteFile(path, stream, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(ffprobe, "-v", "error", "-f", "h264", "-select_streams", "v:0", "-count_frames",
		"-show_entries", "stream=nb_read_frames,width,height", "-of", "default=noprint_wrappers=1", path)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ffprobe: %v\n%s", err, stderr.String())
	}
	if stderr.Len() > 0 {
		t.Errorf("decoder complained:\n%s", stderr.String())
	}
	got := strings.Fields(string(out))
	want := []string{"width=640", "height=360", "nb_read_frames=150"}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("ffprobe: %v, want %v", got, want)
	}
}
