package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kiln-ml/kiln/nn"
)

// kiln serve as a child process: it serves a repository, and on SIGTERM it
// stops taking connections, finishes the requests in flight, and exits 0.
//
// Whether any request is still in flight when the signal lands depends on
// the scheduler: the others may all still be in the kernel's accept queue.
// A trial with none in flight shows nothing, so the test runs up to three;
// a server that drops in-flight requests fails every one of them.
func TestServeGracefulShutdown(t *testing.T) {
	repo := mlpRepo(t, 1024, 1024)
	for trial := 1; ; trial++ {
		after, stop := gracefulTrial(t, repo)
		if stop || after > 0 {
			return
		}
		if trial == 3 {
			t.Fatalf("no request was answered after SIGTERM in %d trials: nothing was in flight to finish", trial)
		}
		t.Logf("trial %d: no request in flight at SIGTERM; again", trial)
	}
}

// gracefulTrial starts kiln serve, sends a burst, signals it after the
// first answer and checks every outcome. It returns how many requests were
// answered after the signal, and stop when the trial already failed.
func gracefulTrial(t *testing.T, repo string) (after int, stop bool) {
	t.Helper()
	cmd, rest, stderr := startKilnServe(t, repo, "--slo", "10s", "--max-batch", "8", "--queue-rows", "1024", "--cache-rows", "0")
	defer cmd.Process.Kill()
	url := "http://" + rest
	x := make([]float32, 8*784)
	body, _ := json.Marshal(map[string]any{"inputs": []any{map[string]any{"name": "input", "shape": []int{8, 784}, "datatype": "FP32", "data": x}}})
	if resp, err := http.Post(url+"/v2/models/mnist/infer", "application/json", bytes.NewReader(body)); err != nil || resp.StatusCode != 200 {
		t.Fatalf("first request: %v %v", resp, err)
	}

	// Many requests, one batch of 8 rows each: they queue; SIGTERM comes
	// when the first is answered, while the rest are in flight.
	const n = 32
	type outcome struct {
		code int
		at   time.Time
		err  error
	}
	// Fresh connections, no keep-alive: a request on a kept-alive
	// connection that the server closes as idle at shutdown is lost by
	// HTTP's design, not by the server.
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	outs := make([]outcome, n)
	first := make(chan struct{})
	var once sync.Once
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			resp, err := client.Post(url+"/v2/models/mnist/infer", "application/json", bytes.NewReader(body))
			outs[i] = outcome{at: time.Now(), err: err}
			if err == nil {
				outs[i].code = resp.StatusCode
				// Read the whole answer: a broken one fails here.
				var ans struct {
					Outputs []struct{ Data []float32 }
				}
				if derr := json.NewDecoder(resp.Body).Decode(&ans); derr != nil {
					outs[i].err = fmt.Errorf("reading the answer: %w", derr)
				} else if resp.StatusCode == 200 && (len(ans.Outputs) == 0 || len(ans.Outputs[0].Data) != 8*10) {
					outs[i].err = fmt.Errorf("answer has %d outputs", len(ans.Outputs))
				}
				resp.Body.Close()
			}
			once.Do(func() { close(first) })
		}()
	}
	// The first answer means the others have been sent and are queued
	// behind it (one batch of 8 rows each).
	<-first
	sigAt := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	err := cmd.Wait()
	if err != nil {
		t.Fatalf("kiln serve exited with %v; stderr:\n%s", err, stderr.String())
	}
	refused := 0
	for i, o := range outs {
		// A request either got in before the listener closed and was
		// answered in full, or was never accepted: no listener (refused),
		// or a connection still in the kernel's accept queue when the
		// listener closed, which the kernel resets. The reset can reach
		// the client while it is still sending the body, and the client
		// then reports its own closed connection or a broken pipe on the
		// write. Never a broken answer: those fail on reading it.
		if o.err != nil {
			if !notAccepted(o.err) {
				t.Errorf("request %d: %v", i, o.err)
			}
			refused++
			continue
		}
		if o.code != 200 {
			t.Errorf("request %d: status %d", i, o.code)
		}
		if o.at.After(sigAt) {
			after++
		}
	}
	logs := stderr.String()
	for _, want := range []string{`"msg":"model version loaded"`, `"msg":"shutting down: finishing in-flight requests"`, `"msg":"stopped"`} {
		if !strings.Contains(logs, want) {
			t.Errorf("logs lack %s:\n%s", want, logs)
		}
	}
	t.Logf("%d of %d requests answered after SIGTERM, %d not accepted", after, n, refused)
	return after, t.Failed()
}

// startKilnServe starts kiln serve on repo (one model, mnist) on free
// loopback ports and returns it, its REST address and its standard error.
func startKilnServe(t *testing.T, repo string, args ...string) (*exec.Cmd, string, *bytes.Buffer) {
	t.Helper()
	cmd := kilnProcess(os.Getenv("KILN_HOME"), append([]string{"serve", "--repo", repo, "--addr", "127.0.0.1:0", "--grpc-addr", "127.0.0.1:0",
		"--json", "--log-format", "json"}, args...)...)
	stderr := new(bytes.Buffer)
	cmd.Stderr = stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var addrs struct {
		REST, GRPC string
		Models     []string
	}
	if err := json.NewDecoder(bufio.NewReader(out)).Decode(&addrs); err != nil {
		cmd.Process.Kill()
		t.Fatalf("reading the addresses: %v (stderr: %s)", err, stderr.String())
	}
	if addrs.REST == "" || addrs.GRPC == "" || len(addrs.Models) != 1 || addrs.Models[0] != "mnist" {
		cmd.Process.Kill()
		t.Fatalf("addresses %+v", addrs)
	}
	return cmd, addrs.REST, stderr
}

// A connection that never sends a request does not hold up shutdown: it
// gets a second to send one, then is closed, and kiln serve exits 0 well
// within --drain (it waited for such a connection until the 10 s header
// timeout, past a shorter drain, and exited 1).
func TestServeShutdownWithASilentConnection(t *testing.T) {
	repo := mlpRepo(t, 16)
	cmd, rest, stderr := startKilnServe(t, repo, "--drain", "5s")
	defer cmd.Process.Kill()
	c, err := net.Dial("tcp", rest)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// A request on a second connection makes sure the server has
	// accepted the silent one (one accept loop, in order).
	if resp, err := http.Get("http://" + rest + "/v2/health/live"); err != nil || resp.StatusCode != 200 {
		t.Fatalf("health: %v %v", resp, err)
	}
	start := time.Now()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	err = cmd.Wait()
	el := time.Since(start)
	if err != nil {
		t.Fatalf("kiln serve exited with %v after %v; stderr:\n%s", err, el, stderr.String())
	}
	if el > 4*time.Second {
		t.Errorf("shutdown took %v with one silent connection", el)
	}
	t.Logf("stopped %v after SIGTERM", el.Round(time.Millisecond))
}

// notAccepted reports whether a client error means the server never
// took the request: refused, reset, or a write of the request that failed
// because of the reset.
func notAccepted(err error) bool {
	e := err.Error()
	if strings.Contains(e, "reading the answer") || strings.Contains(e, "answer has") {
		return false
	}
	if strings.Contains(e, "connection refused") || strings.Contains(e, "connection reset by peer") {
		return true
	}
	write := strings.Contains(e, "readfrom tcp") || strings.Contains(e, "write tcp")
	return write && (strings.Contains(e, "use of closed network connection") || strings.Contains(e, "broken pipe"))
}

func TestServeUsage(t *testing.T) {
	for _, args := range [][]string{{"serve"}, {"serve", "--repo", "x", "--log-format", "xml"}, {"serve", "--repo", "x", "extra"}} {
		if code, _, _ := kiln(t, args...); code != exitUsage {
			t.Errorf("kiln %v: exit %d, want %d", args, code, exitUsage)
		}
	}
	if code, _, errs := kiln(t, "serve", "--repo", filepath.Join(t.TempDir(), "missing")); code != exitFailure || !strings.Contains(errs, "model repository") {
		t.Errorf("missing repository: exit %d %q", code, errs)
	}
}

// kiln serve without gRPC (--grpc-addr "") whose drain runs out, because
// a client holds a request open, exits 1 saying so. It panicked about
// half of the time: with both the drain's deadline and the (absent) gRPC
// server's "stopped" ready, the select could pick the deadline and call
// Stop on the nil gRPC server. Several runs make the old coin flip show.
func TestServeDrainTimeoutWithoutGRPC(t *testing.T) {
	repo := mlpRepo(t, 8)
	for run := range 8 {
		cmd := kilnProcess(os.Getenv("KILN_HOME"), "serve", "--repo", repo, "--addr", "127.0.0.1:0", "--grpc-addr", "", "--drain", "50ms", "--json")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		var addrs struct{ REST string }
		if err := json.NewDecoder(out).Decode(&addrs); err != nil {
			cmd.Process.Kill()
			t.Fatalf("reading the address: %v (stderr: %s)", err, stderr.String())
		}
		// A request whose body never ends keeps its handler running
		// through the drain.
		conn, err := net.Dial("tcp", addrs.REST)
		if err != nil {
			cmd.Process.Kill()
			t.Fatal(err)
		}
		fmt.Fprintf(conn, "POST /v2/models/mnist/infer HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n{\"inputs\"")
		time.Sleep(20 * time.Millisecond) // the handler is reading the body
		if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		err = cmd.Wait()
		conn.Close()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != exitFailure || strings.Contains(stderr.String(), "panic") {
			t.Fatalf("run %d: kiln serve exited with %v, want exit %d without a panic; stderr:\n%s", run, err, exitFailure, stderr.String())
		}
		if !strings.Contains(stderr.String(), "REST shutdown did not finish") {
			t.Fatalf("run %d: the log does not say the drain ran out:\n%s", run, stderr.String())
		}
	}
}

// --max-body below 1 is a usage error. It bounded gRPC messages as given
// (grpc.MaxRecvMsgSize(0): every inference refused with
// RESOURCE_EXHAUSTED) while REST took it as "the default", so the server
// came up with gRPC unable to serve.
func TestServeMaxBodyMustBePositive(t *testing.T) {
	for _, v := range []string{"0", "-1"} {
		cmd := kilnProcess(os.Getenv("KILN_HOME"), "serve", "--repo", t.TempDir(), "--addr", "127.0.0.1:0", "--grpc-addr", "127.0.0.1:0", "--max-body", v)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != exitUsage || !strings.Contains(stderr.String(), "--max-body") {
				t.Errorf("--max-body %s: %v, want exit %d naming --max-body; stderr: %s", v, err, exitUsage, stderr.String())
			}
		case <-time.After(3 * time.Second):
			cmd.Process.Kill()
			<-done
			t.Errorf("--max-body %s: the server started (stderr: %s)", v, stderr.String())
		}
	}
}

// mlpRepo returns a model repository holding mnist/1, an untrained MNIST
// MLP with the given hidden layers.
func mlpRepo(t *testing.T, hidden ...int) string {
	t.Helper()
	repo := t.TempDir()
	cfg := nn.ModelConfig{Name: "mlp", Input: []int{784}, Hidden: hidden, Classes: 10}
	m, err := nn.Build(cfg, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	if err := nn.SaveModel(filepath.Join(repo, "mnist", "1"), nn.SavedModel{Config: cfg, Mean: 0.1307, Std: 0.3081}, m); err != nil {
		t.Fatal(err)
	}
	return repo
}
