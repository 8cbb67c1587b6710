package storetest

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/kiln-ml/kiln/store"
)

// envChild holds a child's orders (JSON) when the test binary runs itself
// as a recording process.
const envChild = "KILN_STORETEST_CHILD"

type childOrders struct {
	Mode    string // "record" or "hang"
	Home    string
	DSN     string
	Index   int
	Metrics int
}

// MaybeChild runs the child half of a multi-process test and exits when
// this process was started as one; otherwise it returns. Call it first in
// TestMain of every package that runs Suite.
func MaybeChild() {
	v := os.Getenv(envChild)
	if v == "" {
		return
	}
	var o childOrders
	if err := json.Unmarshal([]byte(v), &o); err != nil {
		fmt.Fprintf(os.Stderr, "storetest child: bad %s: %v\n", envChild, err)
		os.Exit(2)
	}
	if err := child(o); err != nil {
		fmt.Fprintf(os.Stderr, "storetest child %d: %v\n", o.Index, err)
		os.Exit(1)
	}
	os.Exit(0)
}

// child records one run: parameters, o.Metrics values of two metrics,
// an input and an output artifact, and a model version; in "hang" mode it
// prints the run id after its first metrics are flushed and waits to be
// killed.
func child(o childOrders) error {
	ctx := context.Background()
	s, err := store.Open(ctx, store.Options{Home: o.Home, DSN: o.DSN, Heartbeat: 50 * time.Millisecond})
	if err != nil {
		return err
	}
	defer s.Close()
	run, err := s.StartRun(ctx, store.RunSpec{Kind: "train", Name: fmt.Sprintf("child-%d", o.Index), Command: os.Args,
		Config: map[string]any{"index": o.Index}})
	if err != nil {
		return err
	}
	if err := run.SetParams(ctx, map[string]string{"index": strconv.Itoa(o.Index)}); err != nil {
		return err
	}
	if o.Mode == "hang" {
		for i := 0; i < 10; i++ {
			run.LogMetric("loss", int64(i), float64(i))
		}
		if err := run.Flush(ctx); err != nil {
			return err
		}
		fmt.Printf("RUN %d\n", run.ID())
		os.Stdout.Sync()
		select {} // until killed
	}
	dir := filepath.Join(o.Home, fmt.Sprintf("out-%d", o.Index))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "weights"), []byte(fmt.Sprintf("child %d", o.Index)), 0o644); err != nil {
		return err
	}
	for i := 0; i < o.Metrics; i++ {
		run.LogMetric("loss", int64(i), float64(o.Index*1_000_000+i))
		run.LogMetric("lr", int64(i), 0.5)
		if i%500 == 0 {
			time.Sleep(time.Millisecond) // let the processes interleave
		}
	}
	if _, err := run.UsePath(ctx, filepath.Join(o.Home, "shared-input.txt"), "data"); err != nil {
		return err
	}
	out, err := run.ProducePath(ctx, dir, "model")
	if err != nil {
		return err
	}
	if err := run.End(ctx, nil); err != nil {
		return err
	}
	stored, err := s.PutPath(ctx, out.Path)
	if err != nil {
		return err
	}
	_, err = s.RegisterModel(ctx, "shared", stored, run.ID())
	return err
}

// startChild starts the test binary as a child with orders o.
func startChild(t *testing.T, o childOrders) *exec.Cmd {
	t.Helper()
	b, _ := json.Marshal(o)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	// A race-built child would sleep 1 s at exit (GORACE atexit_sleep_ms).
	cmd.Env = append(os.Environ(), envChild+"="+string(b), "GORACE=atexit_sleep_ms=0")
	cmd.Stderr = os.Stderr
	return cmd
}

// readRunLine waits for the child's "RUN <id>" line.
func readRunLine(t *testing.T, cmd *exec.Cmd) int64 {
	t.Helper()
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	got := make(chan string, 1)
	go func() {
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "RUN ") {
				got <- sc.Text()
				return
			}
		}
		close(got)
	}()
	select {
	case line, ok := <-got:
		if !ok {
			t.Fatal("child exited without printing its run id")
		}
		id, err := strconv.ParseInt(strings.TrimPrefix(line, "RUN "), 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		return id
	case <-time.After(60 * time.Second):
		cmd.Process.Kill()
		t.Fatal("child did not print its run id within 60s")
	}
	return 0
}
