package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kiln-ml/kiln/store"
)

func mustJSON(t *testing.T, s string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(s), v); err != nil {
		t.Fatalf("not JSON (%v): %q", err, s)
	}
}

// TestRecordedTrainRegisterLineage trains, registers and evaluates through
// the command line and reads the record back with runs, models and
// lineage.
func TestRecordedTrainRegisterLineage(t *testing.T) {
	data := mnistDir(t)
	home := t.TempDir()
	t.Setenv("KILN_HOME", home)
	t.Setenv("KILN_PARENT_RUN", "")
	out := filepath.Join(home, "m")
	if code, _, stderr := kiln(t, "train", "--model", "mlp", "--hidden", "16", "--data-dir", data, "--max-steps", "30", "--out", out); code != exitOK {
		t.Fatalf("train: %d %s", code, stderr)
	}
	code, stdout, stderr := kiln(t, "models", "register", "quick", out, "--json")
	var m store.Model
	if code != exitOK {
		t.Fatalf("register: %d %s", code, stderr)
	}
	mustJSON(t, stdout, &m)
	if m.Name != "quick" || m.Version != 1 || m.Source != out {
		t.Fatalf("registered %+v", m)
	}
	if code, _, stderr := kiln(t, "eval", "--model", out, "--data-dir", data); code != exitOK {
		t.Fatalf("eval: %d %s", code, stderr)
	}
	_, stdout, _ = kiln(t, "runs", "ls", "--json")
	var runs []store.RunInfo
	mustJSON(t, stdout, &runs)
	if len(runs) != 3 || runs[0].Kind != "eval" || runs[1].Kind != "models.register" || runs[2].Kind != "train" {
		t.Fatalf("runs %+v", runs)
	}
	for _, r := range runs {
		if r.Status != store.Succeeded || r.Code.Commit == "" || r.PID != os.Getpid() {
			t.Fatalf("run %+v", r)
		}
	}
	trainID := runs[2].ID
	_, stdout, _ = kiln(t, "runs", "show", jsonInt(trainID), "--json")
	var d runDetail
	mustJSON(t, stdout, &d)
	if d.Metrics["loss"].Count != 30 || d.Metrics["lr"].Count != 30 || d.Metrics["test_accuracy"].Count != 1 ||
		len(d.Inputs) != 1 || d.Inputs[0].Path != data || len(d.Outputs) != 1 || d.Outputs[0].Path != out || d.Params["hidden"] != "16" {
		t.Fatalf("train run %+v", d)
	}
	_, text, _ := kiln(t, "runs", "show", jsonInt(trainID))
	if !strings.Contains(text, "loss") || !strings.Contains(text, data) {
		t.Fatalf("runs show:\n%s", text)
	}
	code, stdout, stderr = kiln(t, "lineage", "quick@1", "--json")
	var g store.Graph
	if code != exitOK {
		t.Fatalf("lineage: %d %s", code, stderr)
	}
	mustJSON(t, stdout, &g)
	var sawTrain, sawData bool
	for _, n := range g.Nodes {
		sawTrain = sawTrain || (n.Kind == "run" && n.Run.ID == trainID)
		sawData = sawData || (n.Kind == "artifact" && n.Artifact.Path == data)
	}
	if !sawTrain || !sawData || g.Root != "model:1" {
		t.Fatalf("lineage graph %+v", g)
	}
	if _, tree, _ := kiln(t, "lineage", "quick@1"); !strings.Contains(tree, "└── ") || !strings.Contains(tree, "run "+jsonInt(trainID)+" train") {
		t.Fatalf("tree:\n%s", tree)
	}
	if _, dot, _ := kiln(t, "lineage", "quick", "--dot"); !strings.HasPrefix(dot, "digraph lineage {") {
		t.Fatalf("dot:\n%s", dot)
	}
	_, stdout, _ = kiln(t, "lineage", "--uses", filepath.Join(data, "train-images-idx3-ubyte.gz"), "--json")
	var uses store.Graph
	mustJSON(t, stdout, &uses)
	if ms := uses.Kinds("model"); len(ms) != 1 || ms[0].Model.Ref() != "quick@1" || len(uses.Kinds("run")) != 3 {
		t.Fatalf("uses: %+v", uses)
	}
	if code, stdout, _ := kiln(t, "models", "promote", "quick@1", "production"); code != exitOK || !strings.Contains(stdout, "production") {
		t.Fatalf("promote: %d %s", code, stdout)
	}
	for _, bad := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{"models", "promote", "quick@1", "prod"}, exitUsage, "unknown stage"},
		{[]string{"models", "promote", "quick@x", "staging"}, exitUsage, "not a positive integer"},
		{[]string{"lineage", "nosuch@1"}, exitFailure, "no model nosuch@1"},
		{[]string{"lineage", "--uses", filepath.Join(home, "never")}, exitFailure, "neither a recorded data set nor a recorded path"},
		{[]string{"lineage"}, exitUsage, "name one"},
		{[]string{"runs", "show", "x"}, exitUsage, "not a number"},
		{[]string{"runs", "ls", "--status", "done"}, exitUsage, "unknown --status"},
		{[]string{"runs", "frobnicate"}, exitUsage, "unknown verb"},
		{[]string{"models", "register", "onlyname"}, exitUsage, "usage"},
		{[]string{"runs", "show", "999"}, exitFailure, "no run 999"},
		{[]string{"models", "register", "quick", filepath.Join(home, "nothing")}, exitFailure, "not a model folder"},
	} {
		code, _, stderr := kiln(t, bad.args...)
		if code != bad.code || !strings.Contains(stderr, bad.msg) {
			t.Errorf("kiln %v: exit %d %q, want %d and %q", bad.args, code, stderr, bad.code, bad.msg)
		}
	}
}

func jsonInt(i int64) string { b, _ := json.Marshal(i); return string(b) }

// TestDataDeleteMarksDerivedModelsStale deletes one person's rows from a
// CSV data set that a registered model was trained on: the file loses
// exactly those rows, the deletion is a run, and the model (and no other)
// is stale.
func TestDataDeleteMarksDerivedModelsStale(t *testing.T) {
	home := t.TempDir()
	t.Setenv("KILN_HOME", home)
	t.Setenv("KILN_PARENT_RUN", "")
	csvPath := filepath.Join(home, "people.csv")
	body := "name,email,age\nann,ann@x.org,30\nbob,bob@x.org,41\ncarol,c@x.org,52\nbob,bob@x.org,42\n"
	os.WriteFile(csvPath, []byte(body), 0o644)
	if code, stdout, stderr := kiln(t, "data", "add", "people", csvPath); code != exitOK || !strings.Contains(stdout, "4 rows") {
		t.Fatalf("data add: %d %s %s", code, stdout, stderr)
	}
	// A model trained on the CSV (recorded through the store as a
	// training command would) and one trained on something else.
	ctx := context.Background()
	s, err := openStore(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ds, err := s.GetDataset(ctx, "people", 1)
	if err != nil || ds.Rows != 4 ||
		string(ds.Schema) != `{"columns":[{"name":"name","type":"string"},{"name":"email","type":"string"},{"name":"age","type":"int"}]}` ||
		!strings.Contains(string(ds.Stats), `{"name":"age","missing":0,"min":30,"max":52,"mean":41.25}`) {
		t.Fatalf("data set %+v schema %s stats %s (%v)", ds, ds.Schema, ds.Stats, err)
	}
	for _, c := range []struct{ input, dir string }{{csvPath, "m-people"}, {filepath.Join(home, "other.txt"), "m-other"}} {
		os.WriteFile(filepath.Join(home, "other.txt"), []byte("other"), 0o644)
		r, _ := s.StartRun(ctx, store.RunSpec{Kind: "train"})
		if _, err := r.UsePath(ctx, c.input, "data"); err != nil {
			t.Fatal(err)
		}
		dir := filepath.Join(home, c.dir)
		os.MkdirAll(dir, 0o755)
		os.WriteFile(filepath.Join(dir, "model.safetensors"), []byte(c.dir), 0o644)
		r.ProducePath(ctx, dir, "model")
		r.End(ctx, nil)
		if code, _, stderr := kiln(t, "models", "register", c.dir, dir); code != exitOK {
			t.Fatalf("register: %s", stderr)
		}
	}
	s.Close()

	before, _ := os.ReadFile(csvPath)
	if code, _, stderr := kiln(t, "data", "delete", "--dataset", "people", "--where", "age +"); code != exitFailure || !strings.Contains(stderr, "where") {
		t.Fatalf("bad expression: %d %s", code, stderr)
	}
	if after, _ := os.ReadFile(csvPath); string(after) != string(before) {
		t.Fatal("a failed delete changed the file")
	}
	if code, _, stderr := kiln(t, "data", "delete", "--dataset", "nobody", "--where", "true"); code != exitFailure || !strings.Contains(stderr, "neither a data set") {
		t.Fatalf("unknown data set: %d %s", code, stderr)
	}
	code, stdout, stderr := kiln(t, "data", "delete", "--dataset", "people", "--where", `email == "bob@x.org"`, "--json")
	if code != exitOK {
		t.Fatalf("delete: %d %s", code, stderr)
	}
	var rep deleteReport
	mustJSON(t, stdout, &rep)
	if rep.Result.Removed != 2 || rep.Result.Kept != 2 || rep.Version != 2 || len(rep.Stale) != 1 || rep.Stale[0] != "m-people@1" {
		t.Fatalf("report %+v", rep)
	}
	if b, _ := os.ReadFile(csvPath); string(b) != "name,email,age\nann,ann@x.org,30\ncarol,c@x.org,52\n" {
		t.Fatalf("file after delete: %q", b)
	}
	_, stdout, _ = kiln(t, "models", "ls", "--stale", "--json")
	var stale []store.Model
	mustJSON(t, stdout, &stale)
	if len(stale) != 1 || stale[0].Name != "m-people" || !strings.Contains(stale[0].StaleReason, `email == "bob@x.org"`) {
		t.Fatalf("stale models %+v", stale)
	}
	// The deletion is a recorded run from the old content to the new.
	_, stdout, _ = kiln(t, "runs", "show", jsonInt(rep.RunID), "--json")
	var d runDetail
	mustJSON(t, stdout, &d)
	if d.Kind != "data.delete" || d.Status != store.Succeeded || d.Params["removed_rows"] != "2" || len(d.Inputs) != 1 || len(d.Outputs) != 1 ||
		d.Inputs[0].Hash != rep.OldHash || d.Outputs[0].Hash != rep.NewHash || rep.OldHash == rep.NewHash {
		t.Fatalf("deletion run %+v", d)
	}
	// The audit names the model; deleting again finds nothing and marks
	// nothing new.
	_, stdout, _ = kiln(t, "lineage", "--uses", "people", "--json")
	var g store.Graph
	mustJSON(t, stdout, &g)
	if ms := g.Kinds("model"); len(ms) != 1 || ms[0].Model.Name != "m-people" {
		t.Fatalf("uses people: %+v", ms)
	}
	code, stdout, _ = kiln(t, "data", "delete", "--dataset", csvPath, "--where", `email == "bob@x.org"`, "--json")
	var rep2 deleteReport
	mustJSON(t, stdout, &rep2)
	if code != exitOK || rep2.Result.Removed != 0 || rep2.Result.Rewritten || len(rep2.Stale) != 0 || rep2.Dataset != "people" || rep2.Version != 0 {
		t.Fatalf("second delete %+v", rep2)
	}
	// A CSV file never recorded as a data set: its content before the
	// deletion becomes version 1, after it version 2.
	loose := filepath.Join(home, "loose.csv")
	os.WriteFile(loose, []byte("k\n1\n2\n"), 0o644)
	code, stdout, _ = kiln(t, "data", "delete", "--dataset", loose, "--where", "k == 2", "--json")
	var rep3 deleteReport
	mustJSON(t, stdout, &rep3)
	if code != exitOK || rep3.Dataset != "loose" || rep3.Version != 2 || rep3.Result.Removed != 1 {
		t.Fatalf("delete from an unrecorded file: %+v", rep3)
	}
	// Registering the same weights again retrains nothing: still stale.
	if code, _, stderr := kiln(t, "models", "register", "m-people", filepath.Join(home, "m-people")); code != exitOK {
		t.Fatal(stderr)
	}
	if _, stdout, _ := kiln(t, "models", "ls", "--stale", "--json"); !strings.Contains(stdout, `"version": 2`) {
		t.Fatalf("the same weights registered again are not stale: %s", stdout)
	}
	// Retraining registers a fresh version, which takes the model off the
	// stale list.
	os.WriteFile(filepath.Join(home, "m-people", "model.safetensors"), []byte("retrained"), 0o644)
	if code, _, stderr := kiln(t, "models", "register", "m-people", filepath.Join(home, "m-people")); code != exitOK {
		t.Fatal(stderr)
	}
	if _, stdout, _ := kiln(t, "models", "ls", "--stale", "--json"); strings.TrimSpace(stdout) != "[]" {
		t.Fatalf("stale after retraining: %s", stdout)
	}
}

// TestCorruptStoreStopsCommands checks that a command refuses to run on a
// corrupt store, says why, and leaves the file as it was.
func TestCorruptStoreStopsCommands(t *testing.T) {
	home := t.TempDir()
	t.Setenv("KILN_HOME", home)
	path := filepath.Join(home, "store.db")
	junk := []byte("not a database at all, but someone's notes\n")
	os.WriteFile(path, junk, 0o644)
	os.WriteFile(filepath.Join(home, "x.csv"), []byte("a\n1\n"), 0o644)
	for _, args := range [][]string{{"runs", "ls"}, {"data", "add", "x", filepath.Join(home, "x.csv")}, {"eval", "--model", home}} {
		code, _, stderr := kiln(t, args...)
		if code != exitFailure || !strings.Contains(stderr, "corrupt") || !strings.Contains(stderr, path) {
			t.Errorf("kiln %v on a corrupt store: exit %d %q", args, code, stderr)
		}
	}
	if b, _ := os.ReadFile(path); string(b) != string(junk) {
		t.Fatal("the corrupt store was overwritten")
	}
	// KILN_STORE=off runs without a store.
	t.Setenv("KILN_STORE", "off")
	if code, _, stderr := kiln(t, "eval", "--model", home); code != exitFailure || strings.Contains(stderr, "corrupt") {
		t.Fatalf("with the store off: %d %s", code, stderr)
	}
}
