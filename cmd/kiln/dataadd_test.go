package main

import (
	"os"
	"path/filepath"
	"testing"
)

// TestDataAddSpacedCSV: a CSV written "a, b" (UCI Adult) gets the same
// column names, kinds and statistics as one written "a,b": the numeric
// columns have their min, max and mean.
func TestDataAddSpacedCSV(t *testing.T) {
	home := t.TempDir()
	t.Setenv("KILN_HOME", home)
	t.Setenv("KILN_PARENT_RUN", "")
	t.Setenv("KILN_STORE", "")
	p := filepath.Join(home, "adult.csv")
	os.WriteFile(p, []byte("age, workclass, hours-per-week\n39, State-gov, 40\n50, Self-emp-not-inc, 13\n38, , 60\n"), 0o644)
	code, stdout, stderr := kiln(t, "data", "add", "adult", p, "--json")
	if code != exitOK {
		t.Fatalf("data add: exit %d %s", code, stderr)
	}
	var d struct {
		Rows   int64 `json:"rows"`
		Schema struct {
			Columns []struct{ Name, Type string }
		}
		Stats struct {
			Columns []columnStats
		}
	}
	mustJSON(t, stdout, &d)
	if d.Rows != 3 || len(d.Schema.Columns) != 3 || len(d.Stats.Columns) != 3 {
		t.Fatalf("data set %s", stdout)
	}
	want := []struct {
		name, kind string
		missing    int64
		mean       float64
	}{{"age", "int", 0, 127.0 / 3}, {"workclass", "string", 1, 0}, {"hours-per-week", "int", 0, 113.0 / 3}}
	for i, w := range want {
		c, s := d.Schema.Columns[i], d.Stats.Columns[i]
		if c.Name != w.name || c.Type != w.kind || s.Missing != w.missing {
			t.Errorf("column %d: %+v %+v, want %+v", i, c, s, w)
		}
		if w.kind == "int" && (s.Mean == nil || *s.Mean-w.mean > 1e-9 || w.mean-*s.Mean > 1e-9) {
			t.Errorf("column %s: mean %v, want %v", w.name, s.Mean, w.mean)
		}
	}
}
