package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/kiln-ml/kiln/store"
)

func TestLabelIO(t *testing.T) {
	for _, c := range []struct {
		verb    string
		args    string
		in, out []string
	}{
		{"apply", "--lfs s.yaml --out L.klm --json a.csv b.csv", []string{"s.yaml", "a.csv", "b.csv"}, []string{"L.klm"}},
		{"apply", "--json --lfs=s.yaml a.csv --out=L.klm", []string{"s.yaml", "a.csv"}, []string{"L.klm"}},
		{"fit", "--matrix L.klm --model mc --seed 3 --end-model end --valid-data v1.csv,v2.csv --keep-uncovered d.csv",
			[]string{"L.klm", "v1.csv", "v2.csv", "d.csv"}, []string{"end"}},
		{"predict", "--end-model end --out p.jsonl -- x.csv", []string{"end", "x.csv"}, []string{"p.jsonl"}},
		{"analyze", "--matrix L.klm --gold-field gold d.csv", []string{"L.klm", "d.csv"}, nil},
	} {
		in, out := labelIO(c.verb, strings.Fields(c.args))
		if !slices.Equal(in, c.in) || !slices.Equal(out, c.out) {
			t.Errorf("%s %s: in %v out %v, want %v and %v", c.verb, c.args, in, out, c.in, c.out)
		}
	}
}

// TestLabelApplyRecorded checks that kiln label apply records its spec and
// data as inputs and the label matrix as output.
func TestLabelApplyRecorded(t *testing.T) {
	home := t.TempDir()
	t.Setenv("KILN_HOME", home)
	t.Setenv("KILN_PARENT_RUN", "")
	spec := filepath.Join(home, "lfs.yaml")
	os.WriteFile(spec, []byte(cliSpec), 0o644)
	data := filepath.Join(home, "d.csv")
	os.WriteFile(data, []byte("text,stars,gold\nsubscribe to my channel,1,SPAM\nnice song,5,HAM\n"), 0o644)
	mat := filepath.Join(home, "L.klm")
	if _, errs, code := runLabelT(t, "apply", "--lfs", spec, "--out", mat, data); code != 0 {
		t.Fatalf("apply: %s", errs)
	}
	_, stdout, _ := kiln(t, "runs", "ls", "--kind", "label.apply", "--json")
	var runs []store.RunInfo
	mustJSON(t, stdout, &runs)
	if len(runs) != 1 || runs[0].Status != store.Succeeded {
		t.Fatalf("runs %+v", runs)
	}
	_, stdout, _ = kiln(t, "runs", "show", jsonInt(runs[0].ID), "--json")
	var d runDetail
	mustJSON(t, stdout, &d)
	if len(d.Inputs) != 2 || len(d.Outputs) != 1 || d.Outputs[0].Path != mat {
		t.Fatalf("inputs %+v outputs %+v", d.Inputs, d.Outputs)
	}
	// A failing verb is recorded as failed.
	if _, _, code := runLabelT(t, "apply", "--lfs", filepath.Join(home, "missing.yaml"), data); code == 0 {
		t.Fatal("apply with a missing spec succeeded")
	}
	_, stdout, _ = kiln(t, "runs", "ls", "--kind", "label.apply", "--status", "failed", "--json")
	mustJSON(t, stdout, &runs)
	if len(runs) != 1 || !strings.Contains(runs[0].Error, "exited with code") {
		t.Fatalf("failed runs %+v", runs)
	}
}
