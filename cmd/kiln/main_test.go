package main

import (
	"bytes"
	"encoding/json"
	"image"
	"image/color"
	"image/png"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func mnistDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("KILN_TEST_DATA")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "shared", "data")
	}
	p := filepath.Join(dir, "mnist")
	if _, err := os.Stat(p); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("test data %s missing", p)
		}
		t.Skipf("test data %s missing; skipping", p)
	}
	abs, _ := filepath.Abs(p)
	return abs
}

func kiln(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestUsageErrors(t *testing.T) {
	cases := [][]string{
		{},
		{"frobnicate"},
		{"train", "--epochs", "0"},
		{"train", "--bogus-flag"},
		{"train", "extra-arg"},
		{"data"},
		{"data", "pull"},
		{"eval"},
		{"predict", "--model", "x"},
	}
	for _, c := range cases {
		if code, _, _ := kiln(t, c...); code != exitUsage {
			t.Errorf("kiln %v: exit %d, want %d", c, code, exitUsage)
		}
	}
}

func TestTrainEvalPredict(t *testing.T) {
	data := mnistDir(t)
	home := t.TempDir()
	t.Setenv("KILN_HOME", home)
	out := filepath.Join(home, "m")
	code, stdout, stderr := kiln(t, "train", "--model", "mlp", "--hidden", "64", "--data-dir", data, "--epochs", "1",
		"--batch", "64", "--lr", "0.05", "--max-steps", "300", "--out", out, "--json")
	if code != exitOK {
		t.Fatalf("train exit %d: %s", code, stderr)
	}
	var sum trainSummary
	if err := json.Unmarshal([]byte(stdout), &sum); err != nil {
		t.Fatalf("train --json printed %q: %v", stdout, err)
	}
	if sum.Steps != 300 || sum.TestAccuracy < 0.9 || sum.TrainSamplesPerS <= 0 || sum.ModelDir == "" {
		t.Fatalf("summary %+v", sum)
	}
	code, stdout, stderr = kiln(t, "eval", "--model", out, "--data-dir", data, "--json")
	var ev map[string]any
	if code != exitOK || json.Unmarshal([]byte(stdout), &ev) != nil {
		t.Fatalf("eval exit %d: %s %s", code, stdout, stderr)
	}
	if acc := ev["test_accuracy"].(float64); acc != sum.TestAccuracy {
		t.Fatalf("eval accuracy %v, train reported %v", acc, sum.TestAccuracy)
	}
	// Predict on the first test image (a 7) through IDX, and through a PNG
	// made from it.
	code, stdout, stderr = kiln(t, "predict", "--model", out, "--limit", "2", "--json", filepath.Join(data, "t10k-images-idx3-ubyte.gz"))
	if code != exitOK || !strings.Contains(stdout, `"class": 7`) {
		t.Fatalf("predict exit %d: %s %s", code, stdout, stderr)
	}
	img := image.NewGray(image.Rect(0, 0, 28, 28))
	for y := 8; y < 22; y++ {
		img.SetGray(14, y, color.Gray{255}) // a vertical stroke
	}
	pngPath := filepath.Join(home, "one.png")
	f, _ := os.Create(pngPath)
	png.Encode(f, img)
	f.Close()
	code, stdout, _ = kiln(t, "predict", "--model", out, pngPath)
	if code != exitOK || !strings.Contains(stdout, "one.png\tclass ") {
		t.Fatalf("predict png exit %d: %q", code, stdout)
	}
	// Bad inputs: an image of the wrong size, a truncated weights file.
	small := filepath.Join(home, "small.png")
	f, _ = os.Create(small)
	png.Encode(f, image.NewGray(image.Rect(0, 0, 5, 5)))
	f.Close()
	if code, _, stderr = kiln(t, "predict", "--model", out, small); code != exitFailure || !strings.Contains(stderr, "5x5") {
		t.Fatalf("small png: exit %d %q", code, stderr)
	}
	w := filepath.Join(out, "model.safetensors")
	b, _ := os.ReadFile(w)
	os.WriteFile(w, b[:100], 0o644)
	if code, _, stderr = kiln(t, "eval", "--model", out, "--data-dir", data); code != exitFailure || !strings.Contains(stderr, "model.safetensors") {
		t.Fatalf("truncated weights: exit %d %q", code, stderr)
	}
}

func TestTrainErrors(t *testing.T) {
	data := mnistDir(t)
	t.Setenv("KILN_HOME", t.TempDir())
	if code, _, stderr := kiln(t, "train", "--model", "resnet", "--data-dir", data, "--max-steps", "1"); code != exitFailure || !strings.Contains(stderr, `unknown model "resnet"`) {
		t.Fatalf("unknown model: exit %d %q", code, stderr)
	}
	if code, _, stderr := kiln(t, "train", "--data", "cifar"); code != exitFailure || !strings.Contains(stderr, `unknown data set "cifar"`) {
		t.Fatalf("unknown data: exit %d %q", code, stderr)
	}
	if code, _, stderr := kiln(t, "train"); code != exitFailure || !strings.Contains(stderr, "kiln data pull mnist") {
		t.Fatalf("no data pulled: exit %d %q", code, stderr)
	}
	// A learning rate this large diverges: training stops on the
	// non-finite loss with the step named, and exits 1.
	out := filepath.Join(t.TempDir(), "m")
	code, _, stderr := kiln(t, "train", "--data-dir", data, "--lr", "1e6", "--max-steps", "200", "--out", out)
	if code != exitFailure || !strings.Contains(stderr, "at step") {
		t.Fatalf("divergence: exit %d %q", code, stderr)
	}
}

func TestConfigFile(t *testing.T) {
	data := mnistDir(t)
	t.Setenv("KILN_HOME", t.TempDir())
	cfg := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(cfg, []byte("model: mlp\nhidden: [16]\nbatch: 50\nmax_steps: 3\ndata_dir: "+data+"\n"), 0o644)
	code, stdout, stderr := kiln(t, "train", "--config", cfg, "--max-steps", "4", "--json")
	var sum trainSummary
	if code != exitOK || json.Unmarshal([]byte(stdout), &sum) != nil {
		t.Fatalf("exit %d %s", code, stderr)
	}
	if sum.Steps != 4 || sum.Batch != 50 {
		t.Fatalf("config not applied or not overridden: steps %d batch %d", sum.Steps, sum.Batch)
	}
	os.WriteFile(cfg, []byte("bogus: 1\n"), 0o644)
	if code, _, stderr := kiln(t, "train", "--config", cfg); code != exitUsage || !strings.Contains(stderr, `unknown setting "bogus"`) {
		t.Fatalf("bad config: exit %d %q", code, stderr)
	}
}
