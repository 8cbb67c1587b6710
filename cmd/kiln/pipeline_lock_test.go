package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kiln-ml/kiln/internal/vfs"
)

// TestPipelineRunsOneAtATime: while another kiln pipeline run holds
// KILN_HOME/pipeline, a run says it waits and starts no step; it runs
// once the other one ends.
func TestPipelineRunsOneAtATime(t *testing.T) {
	home := t.TempDir()
	t.Setenv("KILN_HOME", home)
	t.Setenv("KILN_TEST_AS_MAIN", "1")
	t.Setenv("KILN_PARENT_RUN", "")
	t.Setenv("KILN_STORE", "")
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "x.csv"), []byte("a\n1\n"), 0o644)
	file := filepath.Join(dir, "p.yaml")
	os.WriteFile(file, []byte("steps:\n  add:\n    kind: data add\n    args: [x, \"${inputs.data}\"]\n    inputs: {data: x.csv}\n"), 0o644)
	lockDir := filepath.Join(home, "pipeline")
	os.MkdirAll(lockDir, 0o755)
	unlock, err := vfs.LockDir(lockDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		code           int
		stdout, stderr string
	}
	done := make(chan result, 1)
	go func() {
		code, stdout, stderr := kiln(t, "pipeline", "run", file)
		done <- result{code, stdout, stderr}
	}()
	select {
	case r := <-done:
		t.Fatalf("the run did not wait for the lock: exit %d\n%s", r.code, r.stderr)
	case <-time.After(500 * time.Millisecond):
	}
	if _, err := os.Stat(filepath.Join(home, "store.db")); err == nil {
		t.Fatal("the waiting run opened the store (a step ran?)")
	}
	unlock()
	var r result
	select {
	case r = <-done:
	case <-time.After(60 * time.Second):
		t.Fatal("the run did not start once the lock was free")
	}
	if r.code != exitOK || !strings.Contains(r.stderr, "waiting for it to finish") || !strings.Contains(r.stdout, "1 ran") {
		t.Fatalf("exit %d\nstdout %s\nstderr %s", r.code, r.stdout, r.stderr)
	}
}
