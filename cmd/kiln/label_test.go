package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// labelData returns the shared data folder or skips (fails under CI).
func labelData(t *testing.T, sub string) string {
	t.Helper()
	dir := os.Getenv("KILN_TEST_DATA")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "shared", "data")
	}
	p := filepath.Join(dir, sub)
	if _, err := os.Stat(p); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("test data %s not found: %v", p, err)
		}
		t.Skipf("test data %s not found", p)
	}
	return p
}

func runLabelT(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := runLabel(args, &out, &errb)
	return out.String(), errb.String(), code
}

func TestLabelWrenchYouTube(t *testing.T) {
	dir := labelData(t, "wrench/youtube")
	out, errs, code := runLabelT(t, "fit", "--wrench", dir, "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var res map[string]any
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("output is not JSON: %v\n%s", err, out)
	}
	for _, k := range []string{"majority_vote_acc", "label_model_acc", "majority_vote_f1", "label_model_f1", "tie_break"} {
		if _, ok := res[k]; !ok {
			t.Errorf("output lacks %q", k)
		}
	}
	mv, lm := res["majority_vote_acc"].(float64), res["label_model_acc"].(float64)
	t.Logf("majority vote %.4f, label model %.4f (%s)", mv, lm, res["label_model"])
	if !(lm > mv) {
		t.Errorf("label model accuracy %.4f does not beat majority vote's %.4f", lm, mv)
	}
}

func TestLabelUsage(t *testing.T) {
	if _, _, code := runLabelT(t); code != exitUsage {
		t.Errorf("no verb: exit %d, want %d", code, exitUsage)
	}
	if _, _, code := runLabelT(t, "frobnicate"); code != exitUsage {
		t.Errorf("unknown verb: exit %d, want %d", code, exitUsage)
	}
	if _, _, code := runLabelT(t, "fit"); code != exitUsage {
		t.Errorf("fit without input: exit %d, want %d", code, exitUsage)
	}
	if _, errs, code := runLabelT(t, "apply", "--lfs", "x.yaml"); code != exitUsage || !strings.Contains(errs, "data file") {
		t.Errorf("apply without data: exit %d, %q", code, errs)
	}
}
