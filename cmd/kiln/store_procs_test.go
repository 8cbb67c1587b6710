package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kiln-ml/kiln/store"
)

// kilnProcess returns the test binary set up to run as kiln (see
// TestMain) with KILN_HOME=home.
func kilnProcess(home string, args ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], args...)
	cmd.Env = append(os.Environ(), "KILN_TEST_AS_MAIN=1", "KILN_HOME="+home, "KILN_PARENT_RUN=", "GORACE=atexit_sleep_ms=0")
	return cmd
}

// TestEightKilnProcessesRecordAtOnce runs eight kiln train processes on
// one SQLite store at the same time: every run, every step's loss and
// every output is recorded.
func TestEightKilnProcessesRecordAtOnce(t *testing.T) {
	data := mnistDir(t)
	home := t.TempDir()
	const procs, steps = 8, 25
	var wg sync.WaitGroup
	outs := make([][]byte, procs)
	errs := make([]error, procs)
	for i := 0; i < procs; i++ {
		cmd := kilnProcess(home, "train", "--model", "mlp", "--hidden", "8", "--data-dir", data, "--max-steps", fmt.Sprint(steps),
			"--seed", fmt.Sprint(i+1), "--out", filepath.Join(home, fmt.Sprintf("m%d", i)))
		wg.Add(1)
		go func() {
			defer wg.Done()
			outs[i], errs[i] = cmd.CombinedOutput()
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("process %d: %v\n%s", i, err, outs[i])
		}
	}
	ctx := context.Background()
	s, err := store.Open(ctx, store.Options{Home: home})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	runs, err := s.ListRuns(ctx, store.RunFilter{Kind: "train"})
	if err != nil || len(runs) != procs {
		t.Fatalf("%d train runs recorded, want %d (%v)", len(runs), procs, err)
	}
	pids := map[int]bool{}
	for _, r := range runs {
		pids[r.PID] = true
		ms, err := s.Metrics(ctx, r.ID, "loss")
		if err != nil || len(ms) != steps || r.Status != store.Succeeded {
			t.Fatalf("run %d (%s): %d loss values, want %d (%v)", r.ID, r.Status, len(ms), steps, err)
		}
		if outs, _ := s.RunOutputs(ctx, r.ID); len(outs) != 1 {
			t.Fatalf("run %d outputs %+v", r.ID, outs)
		}
	}
	if len(pids) != procs {
		t.Fatalf("runs came from %d processes, want %d", len(pids), procs)
	}
}

// TestKilledKilnTrainMarkedFailed kills a kiln train process mid-run:
// the next kiln command marks its run failed and keeps the metrics it had
// written.
func TestKilledKilnTrainMarkedFailed(t *testing.T) {
	data := mnistDir(t)
	home := t.TempDir()
	cmd := kilnProcess(home, "train", "--model", "mlp", "--hidden", "8", "--data-dir", data, "--epochs", "50")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer cmd.Process.Kill()
	ctx := context.Background()
	var id int64
	deadline := time.Now().Add(60 * time.Second)
	for id == 0 {
		if time.Now().After(deadline) {
			t.Fatal("the training run did not record metrics within 60s")
		}
		time.Sleep(200 * time.Millisecond)
		if _, err := os.Stat(filepath.Join(home, "store.db")); err != nil {
			continue
		}
		s, err := store.Open(ctx, store.Options{Home: home})
		if err != nil {
			t.Fatal(err)
		}
		runs, _ := s.ListRuns(ctx, store.RunFilter{Status: store.Running})
		n := 0
		if len(runs) == 1 {
			ms, _ := s.Metrics(ctx, runs[0].ID, "loss")
			n = len(ms)
		}
		s.Close()
		if n > 0 {
			id = runs[0].ID
			break
		}
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	code, stdout, stderr := kilnEnv(t, home, "runs", "show", jsonInt(id), "--json")
	if code != exitOK {
		t.Fatalf("runs show: %d %s", code, stderr)
	}
	var d runDetail
	mustJSON(t, stdout, &d)
	if d.Status != store.Failed || d.Metrics["loss"].Count == 0 || d.Ended.IsZero() {
		t.Fatalf("killed run: %s %q, %d loss values", d.Status, d.Error, d.Metrics["loss"].Count)
	}
}

// kilnEnv runs kiln in this process with KILN_HOME=home.
func kilnEnv(t *testing.T, home string, args ...string) (int, string, string) {
	t.Helper()
	t.Setenv("KILN_HOME", home)
	return kiln(t, args...)
}
