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

const cliSpec = `classes: [HAM, SPAM]
functions:
  - name: link
    expr: 'has_any(r.text, ["http"]) ? SPAM : ABSTAIN'
  - name: promo
    expr: 'has_any_word(r.text, ["subscribe", "channel"]) ? SPAM : ABSTAIN'
  - name: short
    expr: 'word_count(r.text) <= 3 ? HAM : ABSTAIN'
  - name: song
    expr: 'has_word(r.text, "song") ? HAM : ABSTAIN'
  - name: stars
    expr: 'num(r.stars) >= 4 ? HAM : ABSTAIN'
`

func TestLabelApplyAnalyzeFitPredict(t *testing.T) {
	dir := t.TempDir()
	spec := filepath.Join(dir, "lfs.yaml")
	os.WriteFile(spec, []byte(cliSpec), 0o644)
	var csv strings.Builder
	csv.WriteString("text,stars,gold\n")
	rows := []string{
		"subscribe to my channel http://x,1,SPAM", "nice song,5,HAM", "great song here,4,HAM",
		"visit http://spam.example,2,SPAM", "my channel please subscribe,1,SPAM", "I am not sure what to say about it,x,HAM", "ok song,,HAM",
	}
	for i := 0; i < 30; i++ {
		csv.WriteString(rows[i%len(rows)] + "\n")
	}
	data := filepath.Join(dir, "data.csv")
	os.WriteFile(data, []byte(csv.String()), 0o644)
	mat := filepath.Join(dir, "L.klm")

	out, errs, code := runLabelT(t, "apply", "--lfs", spec, "--out", mat, "--json", data)
	if code != 0 {
		t.Fatalf("apply: exit %d: %s", code, errs)
	}
	var ap struct {
		Rows int
		LFs  []struct {
			Name   string
			Errors int
		}
	}
	json.Unmarshal([]byte(out), &ap)
	// num("x") and num("") fail on 4 + 4 rows: the stars function abstains there.
	if ap.Rows != 30 || ap.LFs[4].Name != "stars" || ap.LFs[4].Errors != 8 {
		t.Fatalf("apply output %s", out)
	}
	out, errs, code = runLabelT(t, "analyze", "--matrix", mat, "--gold-field", "gold", data)
	if code != 0 || !strings.Contains(out, "emp. acc.") || !strings.Contains(out, "1.000") {
		t.Fatalf("analyze: exit %d: %s\n%s", code, errs, out)
	}
	model := filepath.Join(dir, "lm.json")
	probs := filepath.Join(dir, "probs.jsonl")
	out, errs, code = runLabelT(t, "fit", "--matrix", mat, "--out", model, "--probs", probs, "--json")
	if code != 0 {
		t.Fatalf("fit: exit %d: %s", code, errs)
	}
	out, errs, code = runLabelT(t, "fit", "--matrix", mat, "--valid-matrix", mat, "--valid-data", data, "--gold-field", "gold", "--json")
	if code != 0 || !strings.Contains(out, `"selected"`) {
		t.Fatalf("fit --valid-matrix: exit %d: %s\n%s", code, errs, out)
	}
	b, _ := os.ReadFile(probs)
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) != 30-4 { // the "not sure" rows get no vote
		t.Fatalf("%d probability lines, want 26 (uncovered rows dropped)", len(lines))
	}
	end := filepath.Join(dir, "end")
	if _, errs, code := runLabelT(t, "fit", "--matrix", mat, "--end-model", end, "--text-field", "text", "--epochs", "20", "--lr", "0.05", data); code != 0 {
		t.Fatalf("fit --end-model: exit %d: %s", code, errs)
	}
	out, errs, code = runLabelT(t, "predict", "--end-model", end, data)
	if el := strings.Split(strings.TrimSpace(out), "\n"); code != 0 || len(el) != 30 || !strings.Contains(el[0], `"class":"SPAM"`) || !strings.Contains(el[1], `"class":"HAM"`) {
		t.Fatalf("predict --end-model: exit %d: %s\n%s", code, errs, out)
	}
	out, errs, code = runLabelT(t, "predict", "--model", model, "--lfs", spec, data)
	if code != 0 {
		t.Fatalf("predict: exit %d: %s", code, errs)
	}
	pl := strings.Split(strings.TrimSpace(out), "\n")
	if len(pl) != 30 || !strings.Contains(pl[0], `"class":"SPAM"`) || !strings.Contains(pl[1], `"class":"HAM"`) {
		t.Fatalf("predict output:\n%s", out)
	}
}

func TestLabelBadInput(t *testing.T) {
	dir := t.TempDir()
	spec := filepath.Join(dir, "bad.yaml")
	os.WriteFile(spec, []byte("classes: [HAM, SPAM]\nfunctions:\n  - name: oops\n    expr: 'has_word(r.text) ? SPAM : ABSTAIN'\n"), 0o644)
	data := filepath.Join(dir, "d.csv")
	os.WriteFile(data, []byte("text\nhello\n"), 0o644)
	_, errs, code := runLabelT(t, "apply", "--lfs", spec, data)
	if code != exitFailure || !strings.Contains(errs, `bad.yaml:4: labeling function "oops": expression line 1, column`) {
		t.Fatalf("compile error: exit %d: %s", code, errs)
	}
	os.WriteFile(spec, []byte("classes: [HAM, SPAM]\nfunctions:\n  - name: never\n    expr: 'ABSTAIN'\n"), 0o644)
	mat := filepath.Join(dir, "L.klm")
	if _, errs, code := runLabelT(t, "apply", "--lfs", spec, "--out", mat, data); code != 0 {
		t.Fatalf("apply: %s", errs)
	}
	_, errs, code = runLabelT(t, "fit", "--matrix", mat)
	if code != exitFailure || !strings.Contains(errs, "every labeling function abstains on every row") || strings.Contains(errs, "NaN") {
		t.Fatalf("all-abstain fit: exit %d: %s", code, errs)
	}
	os.WriteFile(spec, []byte("classes: [HAM, SPAM]\nfunctions:\n  - name: three\n    expr: '3'\n"), 0o644)
	_, errs, code = runLabelT(t, "apply", "--lfs", spec, data)
	if code != exitFailure || !strings.Contains(errs, `"three" returned 3 on record 0, outside the declared classes`) {
		t.Fatalf("label outside classes: exit %d: %s", code, errs)
	}
}
