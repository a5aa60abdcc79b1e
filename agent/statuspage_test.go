package agent

import (
	"context"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/edgeclass/edgeclass/internal/testenv"
)

// chromium runs headless Chromium with the flags this machine's closed
// network needs, and returns its output.
func chromium(t *testing.T, args ...string) []byte {
	t.Helper()
	bin := testenv.Program(t, "chromium")
	base := []string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--user-data-dir=" + t.TempDir(), "--window-size=1100,760", "--virtual-time-budget=5000"}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, bin, append(base, args...)...).Output()
	if err != nil {
		t.Fatalf("chromium %v: %v", args, err)
	}
	return out
}

// TestStatusPage loads the status page in headless Chromium: its script
// must fill in the label, model and frame rate, and the screenshot must
// show the live frame (the test pattern's coloured disc).
func TestStatusPage(t *testing.T) {
	a := startAgent(t, testConfig(t))
	url := "http://" + a.HTTPAddr() + "/"
	for deadline := time.Now().Add(10 * time.Second); a.Status().Frames < 5; time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no frames classified")
		}
	}
	dom := chromium(t, "--dump-dom", url)
	label := regexp.MustCompile(`<div id="label">([^<]*)</div>`).FindSubmatch(dom)
	model := regexp.MustCompile(`<td id="model">([^<]*)</td>`).FindSubmatch(dom)
	if label == nil || !regexp.MustCompile(`^(red|green|blue|yellow|…)$`).Match(label[1]) ||
		model == nil || string(model[1]) != "edgeclass-demo-colours 1" {
		t.Fatalf("status page after its script ran: label %q model %q\n%s", label, model, dom)
	}

	shot := filepath.Join(t.TempDir(), "status.png")
	chromium(t, "--screenshot="+shot, url)
	if dir := os.Getenv("EDGECLASS_SCREENSHOT_DIR"); dir != "" {
		data, _ := os.ReadFile(shot)
		os.WriteFile(filepath.Join(dir, "status-page.png"), data, 0o644)
	}
	f, err := os.Open(shot)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		t.Fatal(err)
	}
	if n := saturatedPixels(img); n < 2000 {
		t.Fatalf("screenshot shows %d strongly coloured pixels: the frame did not render", n)
	}
}

// saturatedPixels counts pixels of a strong colour (the pattern's disc; the
// page itself is grey on black).
func saturatedPixels(img image.Image) int {
	n := 0
	b := img.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			r, g, bl, _ := img.At(x, y).RGBA()
			hi, lo := max(r, g, bl)>>8, min(r, g, bl)>>8
			if hi > 150 && hi-lo > 120 {
				n++
			}
		}
	}
	return n
}
