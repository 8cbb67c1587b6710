package main

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/kiln-ml/kiln/store"
)

// TestDataPullFromRecordsSource: kiln data pull --from records the folder
// it copied from as the run's input, so that lineage reaches the raw
// files, and the pulled folder as its output.
func TestDataPullFromRecordsSource(t *testing.T) {
	src := mnistDir(t)
	home := t.TempDir()
	t.Setenv("KILN_HOME", home)
	t.Setenv("KILN_PARENT_RUN", "")
	t.Setenv("KILN_STORE", "")
	if code, _, stderr := kiln(t, "data", "pull", "mnist", "--from", src); code != exitOK {
		t.Fatalf("data pull: exit %d %s", code, stderr)
	}
	_, stdout, _ := kiln(t, "runs", "show", "1", "--json")
	var d runDetail
	mustJSON(t, stdout, &d)
	abs, _ := filepath.Abs(src)
	if d.Kind != "data.pull" || len(d.Inputs) != 1 || d.Inputs[0].Role != "source" || d.Inputs[0].Path != abs ||
		len(d.Outputs) != 1 || d.Outputs[0].Path != filepath.Join(home, "datasets", "mnist") {
		t.Fatalf("pull run: inputs %+v outputs %+v", d.Inputs, d.Outputs)
	}
	// The data set version knows its sample counts, read from the label
	// files.
	_, stdout, _ = kiln(t, "lineage", "--uses", "mnist", "--json")
	var g store.Graph
	mustJSON(t, stdout, &g)
	var ds []store.Dataset
	for _, n := range g.Kinds("artifact") {
		ds = append(ds, n.Datasets...)
	}
	var schema bytes.Buffer
	if len(ds) == 1 {
		json.Compact(&schema, ds[0].Schema)
	}
	if len(ds) != 1 || ds[0].Rows != 70000 || schema.String() != `{"format":"idx","splits":{"test":10000,"train":60000}}` {
		t.Fatalf("mnist data set %+v", ds)
	}
}
