package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kiln-ml/kiln/pipeline"
	"github.com/kiln-ml/kiln/store"
)

func spamCSV(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("KILN_TEST_DATA")
	if dir == "" {
		dir = filepath.Join("..", "..", "..", "shared", "data")
	}
	p := filepath.Join(dir, "youtube-spam", "Youtube01-Psy.csv")
	if _, err := os.Stat(p); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("test data %s missing", p)
		}
		t.Skipf("test data %s missing; skipping", p)
	}
	return p
}

// labelPipeline labels a CSV of comments with labeling functions, fits a
// label model and an end model on it, and registers the end model.
const labelPipeline = `steps:
  apply:
    kind: label apply
    args: ["${inputs.data}"]
    inputs: {lfs: lfs.yaml, data: spam.csv}
    outputs: {out: L.klm}
  fit:
    kind: label fit
    args: ["${inputs.data}"]
    params: {text-field: CONTENT, epochs: 3}
    inputs: {matrix: L.klm, data: spam.csv}
    outputs: {out: lm.json, end-model: end}
  register:
    kind: models register
    args: [spam, "${inputs.model}"]
    inputs: {model: end}
`

// TestPipelineRetrainStale is the deletion story end to end: a
// pipeline registers a model derived from a CSV; kiln data delete removes
// one person's rows and marks the model stale; kiln pipeline run
// --retrain-stale rebuilds it (a new version), after which nothing is
// stale and a plain run skips every step.
func TestPipelineRetrainStale(t *testing.T) {
	src := spamCSV(t)
	home := t.TempDir()
	t.Setenv("KILN_HOME", home)
	t.Setenv("KILN_TEST_AS_MAIN", "1")
	dir := t.TempDir()
	csv := filepath.Join(dir, "spam.csv")
	b, _ := os.ReadFile(src)
	os.WriteFile(csv, b, 0o644)
	lfs, _ := os.ReadFile(filepath.Join("..", "..", "examples", "spam", "lfs.yaml"))
	os.WriteFile(filepath.Join(dir, "lfs.yaml"), lfs, 0o644)
	file := filepath.Join(dir, "pipeline.yaml")
	os.WriteFile(file, []byte(labelPipeline), 0o644)
	D, C := pipeline.Done, pipeline.Cached

	r := runPipelineFile(t, file)
	if r.code != exitOK {
		t.Fatalf("first run: exit %d\n%s", r.code, r.stderr)
	}
	wantStates(t, "first run", r.states, map[string]pipeline.State{"apply": D, "fit": D, "register": D})
	ctx := context.Background()
	open := func() *store.Store {
		st, err := store.Open(ctx, store.OptionsFromEnv(home))
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	st := open()
	if m, err := st.GetModel(ctx, "spam", 0); err != nil || m.Version != 1 {
		t.Fatalf("spam model: %+v %v", m, err)
	}
	st.Close()

	// One person's comments are deleted: the model derived from them is
	// marked stale.
	before, _, _, _, _ := store.HashPath(csv)
	since := time.Now()
	code, stdout, stderr := kiln(t, "data", "delete", "--dataset", csv, "--where", `AUTHOR == "Julius NM"`)
	if code != exitOK {
		t.Fatalf("data delete: exit %d %s %s", code, stdout, stderr)
	}
	after, _, _, _, _ := store.HashPath(csv)
	if before == after {
		t.Fatal("data delete did not change the file")
	}
	st = open()
	stale, err := st.StaleModels(ctx)
	if err != nil || len(stale) != 1 || stale[0].Ref() != "spam@1" {
		t.Fatalf("stale after delete: %+v %v", stale, err)
	}
	// The store's record of the deletion is what lets a cached output
	// rewritten by it stand (Runner.Amended).
	rec := &storeRecorder{s: st}
	if !rec.amended(csv, before, after, since.Add(-time.Second)) || rec.amended(csv, before, "0000", since) || rec.amended(csv, after, before, since) {
		t.Fatal("amended does not follow the recorded deletion")
	}
	st.Close()

	r = runPipelineFile(t, file, "--retrain-stale")
	if r.code != exitOK {
		t.Fatalf("--retrain-stale: exit %d\n%s", r.code, r.stderr)
	}
	wantStates(t, "--retrain-stale", r.states, map[string]pipeline.State{"apply": D, "fit": D, "register": D})
	if strings.Join(r.report.StaleBefore, ",") != "spam@1" || len(r.report.StaleAfter) != 0 {
		t.Fatalf("stale before %v, after %v", r.report.StaleBefore, r.report.StaleAfter)
	}
	if !strings.Contains(r.stderr, "stale model spam@1") || !strings.Contains(r.stderr, "re-running step fit") {
		t.Fatalf("stderr does not say what is rebuilt:\n%s", r.stderr)
	}
	st = open()
	if m, err := st.GetModel(ctx, "spam", 0); err != nil || m.Version != 2 || m.Stale {
		t.Fatalf("rebuilt model: %+v %v", m, err)
	}
	st.Close()

	// Nothing is stale now: --retrain-stale runs as usual and skips all.
	r = runPipelineFile(t, file, "--retrain-stale")
	if r.code != exitOK {
		t.Fatalf("second --retrain-stale: exit %d\n%s", r.code, r.stderr)
	}
	wantStates(t, "second --retrain-stale", r.states, map[string]pipeline.State{"apply": C, "fit": C, "register": C})
}

// TestQuickstartTwice runs kiln quickstart (the built-in pipeline) twice
// on a KILN_HOME that already holds MNIST: the first run trains,
// evaluates and registers; the second skips every step.
func TestQuickstartTwice(t *testing.T) {
	data := mnistDir(t)
	if testing.Short() {
		t.Skip("trains a full epoch; skipped with -short")
	}
	home := t.TempDir()
	t.Setenv("KILN_HOME", home)
	t.Setenv("KILN_TEST_AS_MAIN", "1")
	t.Setenv("KILN_THREADS", "2")
	dst := filepath.Join(home, "datasets", "mnist")
	os.MkdirAll(dst, 0o755)
	entries, _ := os.ReadDir(data)
	for _, e := range entries {
		b, _ := os.ReadFile(filepath.Join(data, e.Name()))
		os.WriteFile(filepath.Join(dst, e.Name()), b, 0o644)
	}
	for i, want := range []pipeline.State{pipeline.Done, pipeline.Cached} {
		code, stdout, stderr := kiln(t, "quickstart", "--json")
		if code != exitOK {
			t.Fatalf("quickstart %d: exit %d\n%s\n%s", i+1, code, stdout, stderr)
		}
		for _, s := range []string{"pull", "train", "evaluate", "register"} {
			if !strings.Contains(stdout, `"name": "`+s+`"`) {
				t.Fatalf("quickstart %d: no step %s in %s", i+1, s, stdout)
			}
		}
		if n := strings.Count(stdout, `"state": "`+want.String()+`"`); n != 4 {
			t.Fatalf("quickstart %d: %d steps %v, want 4:\n%s", i+1, n, want, stdout)
		}
	}
	b, err := os.ReadFile(filepath.Join(home, "reports", "quickstart-eval.json"))
	var ev struct {
		Acc float64 `json:"test_accuracy"`
	}
	if err != nil || json.Unmarshal(b, &ev) != nil || ev.Acc < 0.97 {
		t.Fatalf("quickstart accuracy: %s %v", b, err)
	}
}

// TestPipelineStoreOff: with KILN_STORE=off the pipeline still caches
// but records nothing, and --retrain-stale, which needs the store, is
// refused.
func TestPipelineStoreOff(t *testing.T) {
	src := spamCSV(t)
	home := t.TempDir()
	t.Setenv("KILN_HOME", home)
	t.Setenv("KILN_TEST_AS_MAIN", "1")
	t.Setenv("KILN_STORE", "off")
	dir := t.TempDir()
	b, _ := os.ReadFile(src)
	os.WriteFile(filepath.Join(dir, "spam.csv"), b, 0o644)
	lfs, _ := os.ReadFile(filepath.Join("..", "..", "examples", "spam", "lfs.yaml"))
	os.WriteFile(filepath.Join(dir, "lfs.yaml"), lfs, 0o644)
	file := filepath.Join(dir, "pipeline.yaml")
	os.WriteFile(file, []byte(strings.SplitN(labelPipeline, "  fit:", 2)[0]), 0o644)
	for _, want := range []pipeline.State{pipeline.Done, pipeline.Cached} {
		r := runPipelineFile(t, file)
		if r.code != exitOK || r.states["apply"] != want || r.report.Store != "" {
			t.Fatalf("exit %d, apply %v (want %v), store %q\n%s", r.code, r.states["apply"], want, r.report.Store, r.stderr)
		}
	}
	if _, err := os.Stat(filepath.Join(home, "store.db")); err == nil {
		t.Fatal("KILN_STORE=off created a store")
	}
	if code, _, stderr := kiln(t, "pipeline", "run", file, "--retrain-stale"); code != exitUsage || !strings.Contains(stderr, "KILN_STORE=off") {
		t.Fatalf("--retrain-stale without a store: exit %d %q", code, stderr)
	}
}
