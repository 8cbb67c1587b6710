package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/kiln-ml/kiln/validate"
)

func runValidateT(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := runValidate(args, &out, &errb)
	return out.String(), errb.String(), code
}

// TestValidateTaxiPipeline runs the verbs end to end on the taxi data:
// infer a schema, check clean and corrupted data, drift between spans,
// statistics files as inputs, update and report.
func TestValidateTaxiPipeline(t *testing.T) {
	dir := labelData(t, "chicago-taxi")
	data, serving := filepath.Join(dir, "data.csv"), filepath.Join(dir, "serving-span.csv")
	tmp := t.TempDir()
	schema := filepath.Join(tmp, "schema.yaml")
	if _, errs, code := runValidateT(t, "infer", data, "--out", schema, "--environments", "TRAINING,SERVING", "--not-in", "SERVING:tips"); code != exitOK {
		t.Fatalf("infer: exit %d: %s", code, errs)
	}
	if out, errs, code := runValidateT(t, "check", data, "--schema", schema); code != exitOK || !strings.Contains(out, "no anomalies") {
		t.Fatalf("check clean: exit %d: %s %s", code, out, errs)
	}
	// A corrupted copy: a new payment type.
	raw, err := os.ReadFile(data)
	if err != nil {
		t.Fatal(err)
	}
	bad := filepath.Join(tmp, "bad.csv")
	os.WriteFile(bad, bytes.Replace(raw, []byte(",Cash,"), []byte(",Bitcoin,"), 50), 0o644)
	out, errs, code := runValidateT(t, "check", bad, "--schema", schema, "--json")
	if code != exitFound {
		t.Fatalf("check corrupted: exit %d, want %d: %s", code, exitFound, errs)
	}
	var res struct {
		Anomalies []struct{ Kind, Feature string }
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if len(res.Anomalies) != 1 || res.Anomalies[0].Kind != "ENUM_TYPE_UNEXPECTED_STRING_VALUES" || res.Anomalies[0].Feature != "payment_type" {
		t.Errorf("anomalies %+v", res.Anomalies)
	}
	// Serving data without the label passes in SERVING only.
	noTips := filepath.Join(tmp, "serving.csv")
	var b bytes.Buffer
	for _, line := range strings.SplitAfter(string(raw), "\n") {
		if i := strings.LastIndexByte(line, ','); i >= 0 {
			line = line[:i] + "\n"
		}
		b.WriteString(line)
	}
	os.WriteFile(noTips, b.Bytes(), 0o644)
	if _, errs, code := runValidateT(t, "check", noTips, "--schema", schema, "--env", "SERVING"); code != exitOK {
		t.Errorf("serving check in SERVING: exit %d %s", code, errs)
	}
	if _, _, code := runValidateT(t, "check", noTips, "--schema", schema, "--env", "TRAINING"); code != exitFound {
		t.Errorf("serving check in TRAINING: exit %d, want %d", code, exitFound)
	}
	if _, errs, code := runValidateT(t, "check", noTips, "--schema", schema, "--env", "STAGING"); code != exitUsage || !strings.Contains(errs, "STAGING") {
		t.Errorf("unknown environment: exit %d %s", code, errs)
	}
	// Drift from saved statistics equals drift from the raw files.
	sa, sb := filepath.Join(tmp, "a.json"), filepath.Join(tmp, "b.json")
	if _, errs, code := runValidateT(t, "stats", data, "--out", sa); code != exitOK {
		t.Fatalf("stats: %d %s", code, errs)
	}
	if _, errs, code := runValidateT(t, "stats", serving, "--out", sb, "--json"); code != exitOK {
		t.Fatalf("stats: %d %s", code, errs)
	}
	fromRaw, _, c1 := runValidateT(t, "drift", data, serving, "--schema", schema, "--json")
	fromStats, _, c2 := runValidateT(t, "drift", sa, sb, "--schema", schema, "--json")
	if c1 != exitOK || c2 != exitOK || fromRaw != fromStats {
		t.Errorf("drift from raw (exit %d) and from statistics (exit %d) differ:\n%s\n%s", c1, c2, fromRaw, fromStats)
	}
	// A tight threshold makes drift fail the step.
	if out, _, code := runValidateT(t, "drift", data, serving, "--threshold", "0.01"); code != exitFound || !strings.Contains(out, "OVER") {
		t.Errorf("drift over a 0.01 threshold: exit %d\n%s", code, out)
	}
	// Update proposes the new category.
	next := filepath.Join(tmp, "next.yaml")
	out, errs, code = runValidateT(t, "update", bad, "--schema", schema, "--out", next)
	if code != exitOK || !strings.Contains(out, `+ payment_type: domain value "Bitcoin"`) || !strings.Contains(out, "version 1 -> 2") {
		t.Errorf("update: exit %d %s %s", code, out, errs)
	}
	if _, _, code := runValidateT(t, "check", bad, "--schema", next); code != exitOK {
		t.Errorf("check against the updated schema: exit %d", code)
	}
	// Report: one self-contained page with both data sets drawn.
	rep := filepath.Join(tmp, "report.html")
	if _, errs, code := runValidateT(t, "report", bad, data, "--schema", schema, "--out", rep); code != exitFound {
		t.Errorf("report: exit %d, want %d (an anomaly): %s", code, exitFound, errs)
	}
	page, err := os.ReadFile(rep)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"<svg", "payment_type", "ENUM_TYPE_UNEXPECTED_STRING_VALUES", "#e08a2c", "trip_miles"} {
		if !bytes.Contains(page, []byte(want)) {
			t.Errorf("report lacks %q", want)
		}
	}
	if bytes.Contains(page, []byte("<script")) || bytes.Contains(page, []byte("http")) {
		t.Error("report is not self-contained")
	}
}

// TestValidateAdult reads UCI Adult through flags: no header, ", "
// separated, "|" comments, "?" missing.
func TestValidateAdult(t *testing.T) {
	dir := labelData(t, "adult")
	cols := "age,workclass,fnlwgt,education,education-num,marital-status,occupation,relationship,race,sex,capital-gain,capital-loss,hours-per-week,native-country,income"
	schema := filepath.Join(t.TempDir(), "adult.yaml")
	if _, errs, code := runValidateT(t, "infer", filepath.Join(dir, "adult.data"), "--columns", cols, "--comment", "|", "--trim-space", "--na", "?", "--out", schema); code != exitOK {
		t.Fatalf("infer: %d %s", code, errs)
	}
	// The schema remembers how to read the files.
	out, errs, code := runValidateT(t, "check", filepath.Join(dir, "adult.test"), "--schema", schema, "--json")
	if code != exitFound {
		t.Fatalf("check adult.test: exit %d %s", code, errs)
	}
	var res struct {
		Rows      int
		Anomalies []struct{ Kind, Feature string }
	}
	json.Unmarshal([]byte(out), &res)
	if res.Rows != 16281 || len(res.Anomalies) == 0 {
		t.Fatalf("rows %d anomalies %+v", res.Rows, res.Anomalies)
	}
	found := false
	for _, a := range res.Anomalies {
		if a.Feature == "income" && a.Kind == "ENUM_TYPE_UNEXPECTED_STRING_VALUES" {
			found = true
		}
	}
	if !found {
		t.Errorf("the test labels ending in '.' are not flagged: %+v", res.Anomalies)
	}
	// The same reading options from a --config file.
	cfg := filepath.Join(t.TempDir(), "read.yaml")
	os.WriteFile(cfg, []byte("columns: ["+cols+"]\ncomment: \"|\"\ntrim_space: true\nna: \"?\"\n"), 0o644)
	out, errs, code = runValidateT(t, "stats", filepath.Join(dir, "adult.test"), "--config", cfg, "--json")
	if code != exitOK {
		t.Fatalf("stats --config: exit %d %s", code, errs)
	}
	var sum struct {
		Rows     int
		Features []struct {
			Name    string
			Missing int
		}
	}
	json.Unmarshal([]byte(out), &sum)
	if sum.Rows != 16281 || len(sum.Features) != 15 || sum.Features[1].Name != "workclass" || sum.Features[1].Missing != 963 {
		t.Errorf("stats with --config: %+v", sum)
	}
}

func TestValidateUsage(t *testing.T) {
	for _, args := range [][]string{{}, {"frobnicate"}, {"stats"}, {"infer", "x.csv"}, {"check", "x.csv"}, {"drift", "a.csv"}, {"report", "a.csv"}, {"stats", "--sep", "ab", "x.csv"}} {
		if _, _, code := runValidateT(t, args...); code != exitUsage {
			t.Errorf("%v: exit %d, want %d", args, code, exitUsage)
		}
	}
	if _, errs, code := runValidateT(t, "stats", "/no/such/file.csv"); code != exitFailure || !strings.Contains(errs, "no such file") {
		t.Errorf("missing file: exit %d %s", code, errs)
	}
}

// TestPercent: a share that rounds to none or all is not printed as such.
func TestPercent(t *testing.T) {
	for _, c := range []struct {
		a, b int64
		want string
	}{{0, 10, "0.0%"}, {2, 15002, "<0.1%"}, {15000, 15002, ">99.9%"}, {10, 10, "100.0%"}, {1, 3, "33.3%"}, {1, 0, "-"}} {
		if got := percent(c.a, c.b); got != c.want {
			t.Errorf("percent(%d, %d) = %q, want %q", c.a, c.b, got, c.want)
		}
	}
}

// TestCheckTableExamples: the anomaly table shows where ragged rows are
// (file:line), which the sentence does not say.
func TestCheckTableExamples(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("KILN_STORE", "off")
	good, bad := filepath.Join(dir, "good.csv"), filepath.Join(dir, "r.csv")
	os.WriteFile(good, []byte("a,b\n1,2\n3,4\n"), 0o644)
	os.WriteFile(bad, []byte("a,b\n1,2\n3\n4,5\n"), 0o644)
	schema := filepath.Join(dir, "s.yaml")
	if _, errs, code := runValidateT(t, "infer", good, "--out", schema); code != exitOK {
		t.Fatalf("infer: %d %s", code, errs)
	}
	out, _, code := runValidateT(t, "check", bad, "--schema", schema)
	if code != exitFound || !strings.Contains(out, "RAGGED_ROWS") || !strings.Contains(out, "r.csv:3: 1 fields, want 2") {
		t.Errorf("exit %d\n%s", code, out)
	}
}

// TestDriftThresholdWithSchema: --threshold given beside a schema judges
// the features the schema gives no threshold; not given, they stay
// unjudged. It was silently ignored whenever a schema was given.
func TestDriftThresholdWithSchema(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("KILN_STORE", "off")
	base, cur := filepath.Join(dir, "base.csv"), filepath.Join(dir, "cur.csv")
	writeSpan(t, base, 300, 0, []string{"a", "b"})
	writeSpan(t, cur, 300, 3, []string{"a", "b"})
	schema := filepath.Join(dir, "s.yaml")
	if _, errs, code := runValidateT(t, "infer", base, "--out", schema, "--drift-threshold", "-1"); code != exitOK {
		t.Fatalf("infer: %d %s", code, errs)
	}
	if out, _, code := runValidateT(t, "drift", base, cur, "--schema", schema); code != exitOK || strings.Count(out, "OVER") != 1 { // the header's
		t.Errorf("no thresholds anywhere: exit %d\n%s", code, out)
	}
	out, _, code := runValidateT(t, "drift", base, cur, "--schema", schema, "--threshold", "0.05")
	if code != exitFound || strings.Count(out, "OVER") != 2 { // the header and x
		t.Errorf("--threshold 0.05 with a schema: exit %d\n%s", code, out)
	}
	rep := filepath.Join(dir, "r.html")
	if _, _, code := runValidateT(t, "report", cur, base, "--schema", schema, "--threshold", "0.05", "--out", rep); code != exitFound {
		t.Errorf("report --threshold 0.05 with a schema: exit %d", code)
	}
}

// TestStatsFilesMerge: statistics saved by `stats --out` and given where
// data is expected merge to the statistics of the data files themselves,
// alone or beside a data file.
func TestStatsFilesMerge(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("KILN_STORE", "off")
	var csvs, saved []string
	for i, cats := range [][]string{{"a", "b"}, {"b", "c"}, {"c", "d", "e"}} {
		p := filepath.Join(dir, fmt.Sprintf("span%d.csv", i))
		writeSpan(t, p, 200+100*i, float64(i), cats)
		s := filepath.Join(dir, fmt.Sprintf("span%d.json", i))
		if _, errs, code := runValidateT(t, "stats", p, "--out", s); code != exitOK {
			t.Fatalf("stats %s: exit %d %s", p, code, errs)
		}
		csvs, saved = append(csvs, p), append(saved, s)
	}
	summary := func(files ...string) validate.Summary {
		t.Helper()
		out, errs, code := runValidateT(t, append([]string{"stats", "--json"}, files...)...)
		if code != exitOK {
			t.Fatalf("stats %v: exit %d %s", files, code, errs)
		}
		var s validate.Summary
		if err := json.Unmarshal([]byte(out), &s); err != nil {
			t.Fatalf("%v: %s", err, out)
		}
		s.Seconds = 0
		return s
	}
	want := summary(csvs...)
	if want.Rows != 900 || len(want.Features) != 4 {
		t.Fatalf("data files: %d rows, %d features", want.Rows, len(want.Features))
	}
	for _, files := range [][]string{saved, {csvs[0], saved[1], saved[2]}} {
		if got := summary(files...); !reflect.DeepEqual(got, want) {
			t.Errorf("stats %v:\n%+v\nwant (from the data files)\n%+v", files, got, want)
		}
	}
}
