package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
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
	if _, err := os.Stat("/proc/locks"); err != nil {
		t.Skipf("no /proc/locks to see the run wait: %v", err)
	}
	unlock, err := vfs.LockDir(lockDir, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Freed on every way out, so that a failing test does not leave the
	// run blocked for ever.
	var once sync.Once
	free := func() { once.Do(unlock) }
	defer free()
	type result struct {
		code           int
		stdout, stderr string
	}
	done := make(chan result, 1)
	go func() {
		code, stdout, stderr := kiln(t, "pipeline", "run", file)
		done <- result{code, stdout, stderr}
	}()
	// The run reaches the lock after checking its steps' flags, which
	// takes a while under the race detector: wait until the kernel shows
	// a request blocked on the lock (/proc/locks marks it "->").
	var st syscall.Stat_t
	if err := syscall.Stat(lockDir, &st); err != nil {
		t.Fatal(err)
	}
	ino := fmt.Sprintf(":%d ", st.Ino)
	blocked := func() bool {
		b, err := os.ReadFile("/proc/locks")
		if err != nil {
			t.Fatalf("reading /proc/locks: %v", err)
		}
		for _, line := range strings.Split(string(b), "\n") {
			if strings.Contains(line, "->") && strings.Contains(line, "FLOCK") && strings.Contains(line, ino) {
				return true
			}
		}
		return false
	}
	for deadline := time.Now().Add(60 * time.Second); !blocked(); time.Sleep(10 * time.Millisecond) {
		select {
		case r := <-done:
			t.Fatalf("the run did not wait for the lock: exit %d\n%s", r.code, r.stderr)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("the run never waited on the lock")
		}
	}
	if _, err := os.Stat(filepath.Join(home, "store.db")); err == nil {
		t.Fatal("the waiting run opened the store (a step ran?)")
	}
	free()
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
