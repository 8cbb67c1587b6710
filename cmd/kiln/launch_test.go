package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestMain lets the test binary act as kiln itself when the launcher
// starts it as a worker, so that the launcher tests run real child
// processes without building the command separately.
func TestMain(m *testing.M) {
	if os.Getenv("KILN_TEST_AS_MAIN") == "1" {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	// Commands record into KILN_HOME's store: keep the tests out of ~/.kiln.
	if os.Getenv("KILN_HOME") == "" {
		home, err := os.MkdirTemp("", "kiln-test-home-")
		if err != nil {
			panic(err)
		}
		os.Setenv("KILN_HOME", home)
		code := m.Run()
		os.RemoveAll(home)
		os.Exit(code)
	}
	os.Exit(m.Run())
}

// freePort returns a loopback address whose port was free a moment ago.
func freePort(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func TestLaunchDataParallel(t *testing.T) {
	data := mnistDir(t)
	t.Setenv("KILN_TEST_AS_MAIN", "1")
	out := t.TempDir()
	code, stdout, stderr := kiln(t, "train", "--model", "mlp", "--hidden", "32", "--data-dir", data, "--batch", "64",
		"--max-steps", "60", "--nproc", "2", "--rdzv-endpoint", freePort(t), "--out", out, "--json")
	if code != exitOK {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var sum trainSummary
	if err := json.Unmarshal([]byte(stdout), &sum); err != nil {
		t.Fatalf("stdout %q: %v", stdout, err)
	}
	if sum.Ranks != 2 || sum.Steps != 60 || sum.TestAccuracy < 0.8 {
		t.Fatalf("summary %+v", sum)
	}
	// Both ranks logged, prefixed, and reached the same test accuracy
	// (identical replicas).
	var accs []string
	for _, line := range strings.Split(stderr, "\n") {
		if i := strings.Index(line, "test loss"); i >= 0 && strings.HasPrefix(line, "[rank ") {
			accs = append(accs, strings.SplitN(line[i:], ", ", 2)[0])
		}
	}
	if len(accs) != 2 || accs[0] != accs[1] {
		t.Fatalf("per-rank epoch lines %q, want two identical ones", accs)
	}
}

// TestLaunchWorkerKilled kills one worker with SIGKILL mid-run: the
// launcher must stop the others and exit 1, naming the dead rank, well
// within the timeout.
func TestLaunchWorkerKilled(t *testing.T) {
	data := mnistDir(t)
	exe, _ := os.Executable()
	cmd := exec.Command(exe, "train", "--model", "mlp", "--hidden", "32", "--data-dir", data, "--batch", "96",
		"--epochs", "50", "--nproc", "3", "--rdzv-endpoint", freePort(t), "--timeout", "10s")
	cmd.Env = append(os.Environ(), "KILN_TEST_AS_MAIN=1")
	var stderr syncBuffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// Find the worker of rank 1 among the launcher's children.
	var victim int
	deadline := time.Now().Add(30 * time.Second)
	for victim == 0 && time.Now().Before(deadline) {
		time.Sleep(200 * time.Millisecond)
		victim = childWithEnv(cmd.Process.Pid, "KILN_RANK=1")
	}
	if victim == 0 {
		cmd.Process.Kill()
		t.Fatal("worker of rank 1 not found")
	}
	time.Sleep(1500 * time.Millisecond) // mid-step
	syscall.Kill(victim, syscall.SIGKILL)
	start := time.Now()
	err := cmd.Wait()
	if took := time.Since(start); took > 20*time.Second {
		t.Fatalf("the job took %v to stop", took)
	}
	if err == nil {
		t.Fatalf("launcher exited 0 after a worker was killed; stderr:\n%s", stderr.String())
	}
	if !strings.Contains(stderr.String(), "rank 1 failed") {
		t.Fatalf("stderr does not name the dead rank:\n%s", stderr.String())
	}
}

// childWithEnv returns the pid of a child of parent whose environment
// holds kv, or 0.
func childWithEnv(parent int, kv string) int {
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		var pid int
		if _, err := fmt.Sscan(e.Name(), &pid); err != nil {
			continue
		}
		stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...
		fields := strings.Fields(string(stat[bytes.LastIndexByte(stat, ')')+1:]))
		if len(fields) < 2 || fields[1] != fmt.Sprint(parent) {
			continue
		}
		env, _ := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
		if bytes.Contains(env, []byte("\x00"+kv+"\x00")) || bytes.HasPrefix(env, []byte(kv+"\x00")) {
			return pid
		}
	}
	return 0
}

// syncBuffer is a bytes.Buffer safe for the writer goroutine of exec and
// the test reading it.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestLaunchEtcdRendezvous(t *testing.T) {
	data := mnistDir(t)
	bin, err := exec.LookPath("etcd")
	if err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("etcd not installed (Debian package etcd-server)")
		}
		t.Skip("etcd not installed; skipping")
	}
	client, peer := "http://"+freePort(t), "http://"+freePort(t)
	etcd := exec.Command(bin, "--data-dir", t.TempDir(), "--listen-client-urls", client, "--advertise-client-urls", client,
		"--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer, "--initial-cluster", "default="+peer, "--log-level", "error")
	if err := etcd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { etcd.Process.Kill(); etcd.Wait() }()
	t.Setenv("KILN_TEST_AS_MAIN", "1")
	code, stdout, stderr := kiln(t, "train", "--model", "mlp", "--hidden", "16", "--data-dir", data, "--batch", "64",
		"--max-steps", "20", "--nproc", "2", "--rdzv-backend", "etcd", "--rdzv-endpoint", client, "--rdzv-id", "t1", "--json")
	if code != exitOK || !strings.Contains(stdout, `"ranks": 2`) {
		t.Fatalf("exit %d: %s %s", code, stdout, stderr)
	}
}

func TestLaunchParameterServer(t *testing.T) {
	data := mnistDir(t)
	t.Setenv("KILN_TEST_AS_MAIN", "1")
	for _, mode := range []string{"sync", "ssp"} {
		code, stdout, stderr := kiln(t, "train", "--model", "mlp", "--hidden", "32", "--data-dir", data, "--batch", "64",
			"--max-steps", "40", "--nproc", "2", "--strategy", "ps", "--ps-servers", "2", "--ps-mode", mode,
			"--straggler", "1", "--rdzv-endpoint", freePort(t), "--json")
		if code != exitOK {
			t.Fatalf("%s: exit %d: %s", mode, code, stderr)
		}
		var sum trainSummary
		if err := json.Unmarshal([]byte(stdout), &sum); err != nil {
			t.Fatalf("%s: stdout %q: %v", mode, stdout, err)
		}
		if sum.Strategy != "ps" || sum.Steps != 40 || sum.TestAccuracy < 0.75 {
			t.Fatalf("%s: summary %+v", mode, sum)
		}
	}
	if code, _, _ := kiln(t, "train", "--strategy", "allreduce"); code != exitUsage {
		t.Fatalf("unknown strategy: exit %d", code)
	}
}

// TestLaunchTwoNodes runs the same command twice as two "hosts" (node
// ranks 0 and 1, one process each), joined through the rendezvous
// endpoint.
func TestLaunchTwoNodes(t *testing.T) {
	data := mnistDir(t)
	exe, _ := os.Executable()
	ep := freePort(t)
	args := func(node string) []string {
		return []string{"train", "--model", "mlp", "--hidden", "16", "--data-dir", data, "--batch", "64", "--max-steps", "20",
			"--nproc", "1", "--nnodes", "2", "--node-rank", node, "--rdzv-endpoint", ep, "--json"}
	}
	n1 := exec.Command(exe, args("1")...)
	n1.Env = append(os.Environ(), "KILN_TEST_AS_MAIN=1")
	var err1 syncBuffer
	n1.Stderr = &err1
	if err := n1.Start(); err != nil {
		t.Fatal(err)
	}
	n0 := exec.Command(exe, args("0")...)
	n0.Env = append(os.Environ(), "KILN_TEST_AS_MAIN=1")
	out, err := n0.Output()
	if err != nil {
		t.Fatalf("node 0: %v", err)
	}
	if err := n1.Wait(); err != nil {
		t.Fatalf("node 1: %v\n%s", err, err1.String())
	}
	var sum trainSummary
	if err := json.Unmarshal(out, &sum); err != nil || sum.Ranks != 2 || sum.Steps != 20 {
		t.Fatalf("node 0 printed %q (%v)", out, err)
	}
}
