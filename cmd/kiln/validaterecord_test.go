package main

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/kiln-ml/kiln/pipeline"
	"github.com/kiln-ml/kiln/store"
)

// writeSpan writes a small CSV: x uniform over [shift, shift+10), n an
// integer, c a category from cats, y a label.
func writeSpan(t *testing.T, path string, rows int, shift float64, cats []string) {
	t.Helper()
	var b strings.Builder
	b.WriteString("x,n,c,y\n")
	for i := 0; i < rows; i++ {
		fmt.Fprintf(&b, "%g,%d,%s,%d\n", shift+float64(i%100)/10, i%7, cats[i%len(cats)], i%2)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// validateRuns returns the runs of kind validate.VERB, newest first, with
// their details.
func validateRuns(t *testing.T, verb string) []runDetail {
	t.Helper()
	_, stdout, _ := kiln(t, "runs", "ls", "--kind", "validate."+verb, "--json")
	var runs []store.RunInfo
	mustJSON(t, stdout, &runs)
	var out []runDetail
	for _, r := range runs {
		_, stdout, _ := kiln(t, "runs", "show", jsonInt(r.ID), "--json")
		var d runDetail
		mustJSON(t, stdout, &d)
		out = append(out, d)
	}
	return out
}

func artifactPaths(as []store.RunArtifact) []string {
	var out []string
	for _, a := range as {
		out = append(out, a.Role+":"+filepath.Base(a.Path))
	}
	slices.Sort(out)
	return out
}

// TestValidateRecorded runs every kiln validate verb and reads their runs
// back: the files each read and wrote, its result in parameters and
// metrics, a run that found anomalies recorded as succeeded with exit
// code 3, a failed one with its error, and kiln lineage --uses DATA
// listing them all.
func TestValidateRecorded(t *testing.T) {
	home := t.TempDir()
	t.Setenv("KILN_HOME", home)
	t.Setenv("KILN_PARENT_RUN", "")
	t.Setenv("KILN_STORE", "")
	base, cur := filepath.Join(home, "base.csv"), filepath.Join(home, "cur.csv")
	writeSpan(t, base, 400, 0, []string{"a", "b"})
	writeSpan(t, cur, 400, 5, []string{"a", "b", "z"})
	st, schema := filepath.Join(home, "stats.json"), filepath.Join(home, "schema.yaml")
	next, report := filepath.Join(home, "next.yaml"), filepath.Join(home, "report.html")
	for _, c := range []struct {
		args []string
		code int
	}{
		{[]string{"stats", base, "--out", st}, exitOK},
		{[]string{"infer", st, "--ranges", "--out", schema}, exitOK},
		{[]string{"check", base, "--schema", schema}, exitOK},
		{[]string{"check", cur, "--schema", schema}, exitFound},
		{[]string{"drift", base, cur, "--schema", schema}, exitFound},
		{[]string{"update", cur, "--schema", schema, "--out", next}, exitOK},
		{[]string{"report", cur, base, "--schema", schema, "--out", report}, exitFound},
		{[]string{"check", base, "--schema", filepath.Join(home, "missing.yaml")}, exitFailure},
	} {
		if _, errs, code := runValidateT(t, c.args...); code != c.code {
			t.Fatalf("%v: exit %d, want %d: %s", c.args, code, c.code, errs)
		}
	}

	stats := validateRuns(t, "stats")
	if len(stats) != 1 || stats[0].Status != store.Succeeded || stats[0].Params["rows"] != "400" ||
		!slices.Equal(artifactPaths(stats[0].Inputs), []string{"data:base.csv"}) ||
		!slices.Equal(artifactPaths(stats[0].Outputs), []string{"stats:stats.json"}) {
		t.Fatalf("stats runs %+v", stats)
	}
	infer := validateRuns(t, "infer")
	if len(infer) != 1 || !slices.Equal(artifactPaths(infer[0].Inputs), []string{"stats:stats.json"}) ||
		!slices.Equal(artifactPaths(infer[0].Outputs), []string{"schema:schema.yaml"}) {
		t.Fatalf("infer runs %+v", infer)
	}
	checks := validateRuns(t, "check") // newest first
	if len(checks) != 3 {
		t.Fatalf("%d check runs", len(checks))
	}
	failed, found, clean := checks[0], checks[1], checks[2]
	if clean.Status != store.Succeeded || clean.Params["exit_code"] != "0" || clean.Params["result"] != "clean" || clean.Params["anomalies"] != "0" ||
		!slices.Equal(artifactPaths(clean.Inputs), []string{"data:base.csv", "schema:schema.yaml"}) {
		t.Errorf("clean check %+v", clean)
	}
	// Anomalies are the check's finding, not its failure.
	if found.Status != store.Succeeded || found.Params["exit_code"] != "3" || found.Params["result"] != "findings" ||
		found.Params["anomalies"] != "2" || found.Params["anomaly_kinds"] != "ENUM_TYPE_UNEXPECTED_STRING_VALUES,VALUE_OUT_OF_RANGE" ||
		found.Metrics["anomalies"].Last != 2 {
		t.Errorf("check with anomalies %+v", found)
	}
	if failed.Status != store.Failed || failed.Params["exit_code"] != "1" || !strings.Contains(failed.Error, "missing.yaml") {
		t.Errorf("failed check %+v", failed)
	}
	// Drift records each feature's distance, equal to what --json prints.
	drift := validateRuns(t, "drift")
	if len(drift) != 1 || drift[0].Status != store.Succeeded || drift[0].Params["exit_code"] != "3" || drift[0].Params["features_over_threshold"] == "0" {
		t.Fatalf("drift runs %+v", drift)
	}
	out, _, _ := runValidateT(t, "drift", base, cur, "--schema", schema, "--json")
	var res struct {
		Distances []struct {
			Feature, Measure string
			Value            float64
		}
	}
	mustJSON(t, out, &res)
	if len(res.Distances) != 4 {
		t.Fatalf("distances %+v", res.Distances)
	}
	for _, d := range res.Distances {
		m, ok := drift[0].Metrics[d.Measure+"/"+d.Feature]
		if !ok || math.Abs(m.Last-d.Value) > 1e-12 {
			t.Errorf("metric %s/%s = %+v, want %v", d.Measure, d.Feature, m, d.Value)
		}
	}
	upd := validateRuns(t, "update")
	if len(upd) != 1 || upd[0].Params["version"] != "2" || !slices.Equal(artifactPaths(upd[0].Outputs), []string{"schema:next.yaml"}) {
		t.Errorf("update runs %+v", upd)
	}
	rep := validateRuns(t, "report")
	if len(rep) != 1 || rep[0].Params["exit_code"] != "3" ||
		!slices.Equal(artifactPaths(rep[0].Inputs), []string{"data:base.csv", "data:cur.csv", "schema:schema.yaml"}) ||
		!slices.Equal(artifactPaths(rep[0].Outputs), []string{"report:report.html"}) {
		t.Errorf("report runs %+v", rep)
	}

	// Everything derived from base.csv, validation runs included.
	_, stdout, stderr := kiln(t, "lineage", "--uses", base, "--json")
	var g store.Graph
	mustJSON(t, stdout+stderr, &g)
	kinds := map[string]int{}
	for _, n := range g.Nodes {
		if n.Run != nil {
			kinds[n.Run.Kind]++
		}
	}
	// stats and infer (through stats.json), then every check, drift,
	// update and report that read base.csv or the schema made from it
	// (two drift runs: the second printed --json).
	want := map[string]int{"validate.stats": 1, "validate.infer": 1, "validate.check": 2, "validate.drift": 2, "validate.update": 1, "validate.report": 1}
	for k, n := range want {
		if kinds[k] != n {
			t.Errorf("lineage --uses base.csv: %d runs of %s, want %d (all %v)", kinds[k], k, n, kinds)
		}
	}
}

// TestValidateStoreOff: with KILN_STORE=off the verbs run and record
// nothing.
func TestValidateStoreOff(t *testing.T) {
	home := t.TempDir()
	t.Setenv("KILN_HOME", home)
	t.Setenv("KILN_STORE", "off")
	data := filepath.Join(home, "d.csv")
	writeSpan(t, data, 50, 0, []string{"a"})
	if _, errs, code := runValidateT(t, "infer", data, "--out", filepath.Join(home, "s.yaml")); code != exitOK {
		t.Fatalf("infer: exit %d %s", code, errs)
	}
	if _, errs, code := runValidateT(t, "check", data, "--schema", filepath.Join(home, "s.yaml")); code != exitOK {
		t.Fatalf("check: exit %d %s", code, errs)
	}
	if _, err := os.Stat(filepath.Join(home, "store.db")); err == nil {
		t.Fatal("KILN_STORE=off created a store")
	}
}

// validatePipeline gates publishing on a validation check: infer ─►
// check ─► publish (which records the check's report as a data set).
const validatePipeline = `vars:
  cur: cur.csv
steps:
  infer:
    kind: validate infer
    args: ["${inputs.data}"]
    params: {ranges: true}
    inputs: {data: base.csv}
    outputs: {out: schema.yaml}
  check:
    kind: validate check
    args: [--json, "${inputs.data}"]
    inputs: {data: "${cur}", schema: schema.yaml}
    stdout: check.json
  publish:
    kind: data add
    args: [checks, "${inputs.report}"]
    inputs: {report: check.json}
`

// TestPipelineValidateGate: a validate check step passes on clean data
// and is cached on the second run; anomalies (exit 3) fail it and block
// the step that reads its output, and its run in the store is the
// check's finding (succeeded, exit_code 3) under the pipeline run.
func TestPipelineValidateGate(t *testing.T) {
	home := t.TempDir()
	t.Setenv("KILN_HOME", home)
	t.Setenv("KILN_TEST_AS_MAIN", "1")
	t.Setenv("KILN_PARENT_RUN", "")
	t.Setenv("KILN_STORE", "")
	dir := t.TempDir()
	writeSpan(t, filepath.Join(dir, "base.csv"), 300, 0, []string{"a", "b"})
	writeSpan(t, filepath.Join(dir, "cur.csv"), 200, 0, []string{"a", "b"})
	writeSpan(t, filepath.Join(dir, "bad.csv"), 200, 0, []string{"a", "b", "z"})
	file := filepath.Join(dir, "pipeline.yaml")
	os.WriteFile(file, []byte(validatePipeline), 0o644)
	D, C, F, B := pipeline.Done, pipeline.Cached, pipeline.Failed, pipeline.Blocked

	r := runPipelineFile(t, file)
	if r.code != exitOK {
		t.Fatalf("clean data: exit %d\n%s", r.code, r.stderr)
	}
	wantStates(t, "clean data", r.states, map[string]pipeline.State{"infer": D, "check": D, "publish": D})
	r = runPipelineFile(t, file)
	if r.code != exitOK {
		t.Fatalf("second run: exit %d\n%s", r.code, r.stderr)
	}
	wantStates(t, "second run", r.states, map[string]pipeline.State{"infer": C, "check": C, "publish": C})

	r = runPipelineFile(t, file, "--set", "cur=bad.csv")
	if r.code != exitFailure || r.report.Status != "failed" {
		t.Fatalf("anomalous data: exit %d, status %s\n%s", r.code, r.report.Status, r.stderr)
	}
	wantStates(t, "anomalous data", r.states, map[string]pipeline.State{"infer": C, "check": F, "publish": B})

	checks := validateRuns(t, "check")
	if len(checks) != 2 {
		t.Fatalf("%d validate.check runs, want 2 (the cached one did not run)", len(checks))
	}
	if c := checks[0]; c.Status != store.Succeeded || c.Params["exit_code"] != "3" || idStr(c.Parent) != r.report.RunID || c.Name != "check" {
		t.Errorf("the anomalous check's run: %+v (pipeline run %s)", c.RunInfo, r.report.RunID)
	}
}
