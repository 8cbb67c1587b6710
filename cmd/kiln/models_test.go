package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/kiln-ml/kiln/store"
)

// TestModelsBadStage: an unknown stage is a usage error (exit 2) for
// promote and for register --stage, and register checks it before it
// records anything, so that a failed command leaves no new version.
func TestModelsBadStage(t *testing.T) {
	home := t.TempDir()
	t.Setenv("KILN_HOME", home)
	t.Setenv("KILN_PARENT_RUN", "")
	t.Setenv("KILN_STORE", "")
	dir := filepath.Join(home, "m")
	os.MkdirAll(dir, 0o755)
	os.WriteFile(filepath.Join(dir, "weights"), []byte("w"), 0o644)
	if code, _, stderr := kiln(t, "models", "register", "m", dir, "--stage", "prod"); code != exitUsage || !strings.Contains(stderr, `"prod"`) || !strings.Contains(stderr, "production") {
		t.Fatalf("register --stage prod: exit %d %q", code, stderr)
	}
	if code, stdout, _ := kiln(t, "models", "ls", "--json"); code != exitOK || strings.TrimSpace(stdout) != "[]" {
		t.Fatalf("a refused register left a model behind: %s", stdout)
	}
	if code, _, stderr := kiln(t, "models", "register", "m", dir, "--stage", "staging"); code != exitOK {
		t.Fatalf("register --stage staging: exit %d %s", code, stderr)
	}
	if code, _, stderr := kiln(t, "models", "promote", "m@1", "prod"); code != exitUsage || !strings.Contains(stderr, `"prod"`) {
		t.Fatalf("promote m@1 prod: exit %d %q", code, stderr)
	}
	if code, _, stderr := kiln(t, "models", "promote", "m@2", "production"); code != exitFailure || !strings.Contains(stderr, "m@2") {
		t.Fatalf("promote m@2 (absent): exit %d %q", code, stderr)
	}
}

// TestModelsPromoteRecorded: each promotion is a run of kind
// models.promote holding the version and its stage before and after, so
// that the history of stages stays on record.
func TestModelsPromoteRecorded(t *testing.T) {
	home := t.TempDir()
	t.Setenv("KILN_HOME", home)
	t.Setenv("KILN_PARENT_RUN", "")
	t.Setenv("KILN_STORE", "")
	dir := filepath.Join(home, "m")
	os.MkdirAll(dir, 0o755)
	os.WriteFile(filepath.Join(dir, "weights"), []byte("w"), 0o644)
	if code, _, stderr := kiln(t, "models", "register", "m", dir); code != exitOK {
		t.Fatal(stderr)
	}
	for _, stage := range []string{"staging", "production"} {
		if code, _, stderr := kiln(t, "models", "promote", "m@1", stage); code != exitOK {
			t.Fatalf("promote %s: %s", stage, stderr)
		}
	}
	if code, _, _ := kiln(t, "models", "promote", "m@7", "staging"); code != exitFailure {
		t.Fatalf("promote of a missing version: exit %d", code)
	}
	_, stdout, _ := kiln(t, "runs", "ls", "--kind", "models.promote", "--json")
	var runs []store.RunInfo
	mustJSON(t, stdout, &runs)
	if len(runs) != 3 || runs[0].Status != store.Failed || !strings.Contains(runs[0].Error, "m@7") {
		t.Fatalf("promotion runs %+v", runs)
	}
	for i, want := range [][2]string{{"staging", "production"}, {"none", "staging"}} {
		_, stdout, _ := kiln(t, "runs", "show", jsonInt(runs[i+1].ID), "--json")
		var d runDetail
		mustJSON(t, stdout, &d)
		if d.Status != store.Succeeded || d.Params["model"] != "m@1" || d.Params["from_stage"] != want[0] || d.Params["stage"] != want[1] {
			t.Fatalf("promotion %d: %+v", i, d.RunInfo)
		}
	}
}
