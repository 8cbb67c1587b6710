package serve

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"strings"
	"testing"
	"time"
	"weak"
)

// A REST client that gives up while its request waits in the queue is
// counted as a client that left (status 499, reason "canceled"), not as
// a server failure: its context's error reached statusOf's default, a
// 500 logged as "inference failed", so every client timeout raised the
// server's error rate.
func TestRESTClientGoneIsNotAServerError(t *testing.T) {
	repo := t.TempDir()
	saveMLP(t, repo, "mnist", "1", []int{1024, 1024}, 1, nil)
	ts := startServer(t, Config{Repository: repo, SLO: 10 * time.Second, MaxBatch: 1024})
	// A long batch keeps the model busy while the small request waits.
	big := make(chan int, 1)
	go func() {
		code, _, _ := ts.do(t, "POST", "/v2/models/mnist/infer", inferBody(t, "", images(256, 1), 256))
		big <- code
	}()
	waitFor(t, "the long batch to start", func() bool {
		ts.Server.mu.RLock()
		b := ts.models["mnist"].versions["1"].batcher
		ts.Server.mu.RUnlock()
		b.mu.Lock()
		defer b.mu.Unlock()
		return b.busy
	})
	// The client gives up once its request waits in the queue (a fixed
	// timeout could run out before a loaded machine had even sent it, and
	// then the server has nothing to count).
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() {
		defer cancel()
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			ts.Server.mu.RLock()
			b := ts.models["mnist"].versions["1"].batcher
			ts.Server.mu.RUnlock()
			b.mu.Lock()
			queued := len(b.queue) > 0
			b.mu.Unlock()
			if queued {
				return
			}
			time.Sleep(100 * time.Microsecond)
		}
	}()
	req, err := http.NewRequestWithContext(ctx, "POST", ts.url+"/v2/models/mnist/infer", bytes.NewReader(inferBody(t, "", images(1, 2), 1)))
	if err != nil {
		t.Fatal(err)
	}
	if resp, err := http.DefaultClient.Do(req); err == nil {
		resp.Body.Close()
		t.Skipf("the small request was answered (%d) before the client gave up: the long batch was too short", resp.StatusCode)
	}
	if code := <-big; code != 200 {
		t.Fatalf("the long request got %d", code)
	}
	var text string
	waitFor(t, "the abandoned request to be counted", func() bool {
		_, b, _ := ts.do(t, "GET", "/metrics", nil)
		text = string(b)
		return strings.Contains(text, `reason="canceled"`) || strings.Contains(text, `reason="error"`)
	})
	if !containsAll(text, `kiln_serve_requests_total{code="499",model="mnist",protocol="rest"} 1`, `kiln_serve_rejections_total{model="mnist",reason="canceled"} 1`) ||
		strings.Contains(text, `code="500"`) {
		t.Errorf("an abandoned request is not counted as status 499, reason canceled:\n%s", grepLines(text, "_total{"))
	}
}

// grepLines returns the lines of text that hold sub.
func grepLines(text, sub string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, sub) && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// Over the in-flight bound, a REST request is refused before its body is
// read: the bound is there to shed load, and reading and decoding a body
// of megabytes (up to MaxBody) before the refusal is the work it must
// shed. The server used to read and decode it first, so a client that
// sends its body slowly held the refusal (and a handler) until the body
// was in.
func TestInFlightRefusalDoesNotReadTheBody(t *testing.T) {
	repo := t.TempDir()
	saveMLP(t, repo, "mnist", "1", []int{8}, 1, nil)
	ts := startServer(t, Config{Repository: repo, MaxInFlight: 1})
	ts.inFlight.Add(1) // one request is inside
	defer ts.inFlight.Add(-1)
	conn, err := net.Dial("tcp", strings.TrimPrefix(ts.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	// 4 MB announced, 9 bytes sent.
	fmt.Fprintf(conn, "POST /v2/models/mnist/infer HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n{\"inputs\"", 4<<20)
	conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("no answer while the body is outstanding: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") == "" {
		t.Errorf("over the in-flight bound: %d (Retry-After %q), want 429 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
}

// A request whose caller has already gone is not queued: it would hold
// queue rows (which admission counts against new requests) until its
// batch came up, only to be skipped. Ensemble members that the answer
// left behind reach the batcher with their context cancelled this way.
func TestBatcherDoesNotQueueACancelledRequest(t *testing.T) {
	b := slowBatcher(t)
	// A long batch keeps the model busy, so that a queued request stays.
	long := startLongBatch(t, b, context.Background())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := b.Predict(ctx, images(8, 2), 8, time.Now().Add(10*time.Second)); err != context.Canceled {
		t.Fatalf("Predict with a cancelled context: %v", err)
	}
	b.mu.Lock()
	rows, busy := b.rows, b.busy
	b.mu.Unlock()
	if busy && rows != 0 {
		t.Errorf("%d rows of a cancelled request wait in the queue", rows)
	}
	if !busy {
		t.Skip("the long batch ended before the check")
	}
	if err := <-long; err != nil {
		t.Fatal(err)
	}
}

// slowBatcher returns a batcher over a 784-1024-1024-10 MLP, whose batch
// of 256 rows takes long enough to be seen running; the test's end stops
// it.
func slowBatcher(t *testing.T) *Batcher {
	t.Helper()
	repo := t.TempDir()
	saveMLP(t, repo, "m", "1", []int{1024, 1024}, 1, nil)
	m, err := LoadModel("m", "1", repo+"/m/1")
	if err != nil {
		t.Fatal(err)
	}
	b := NewBatcher(m, BatchConfig{Objective: time.Second, MaxBatch: 256, MaxQueueRows: 256}, nil)
	t.Cleanup(b.Stop)
	return b
}

// startLongBatch queues a batch of 256 rows on b with ctx and returns,
// once the batch is seen running, the channel its Predict's error comes
// on. A batch over before the test saw it run (its goroutine was
// descheduled throughout) is tried again, three times at most, then the
// test is skipped.
func startLongBatch(t *testing.T, b *Batcher, ctx context.Context) <-chan error {
	t.Helper()
	for range 3 {
		done := make(chan error, 1)
		go func() {
			_, err := b.Predict(ctx, images(256, 1), 256, time.Now().Add(10*time.Second))
			done <- err
		}()
		deadline := time.Now().Add(10 * time.Second)
		for time.Now().Before(deadline) {
			b.mu.Lock()
			busy := b.busy
			b.mu.Unlock()
			if busy {
				return done
			}
			select {
			case err := <-done:
				if err != nil {
					t.Fatalf("the long batch: %v", err)
				}
				deadline = time.Time{} // over unseen: again
			case <-time.After(time.Millisecond):
			}
		}
	}
	t.Skip("never saw the long batch running")
	return nil
}

// A request answered is not kept by its batcher: the queue was shifted
// in place, leaving the answered requests in its backing array past the
// new length, so an idle version kept the inputs (and contexts) of up to
// its peak queue's requests until new ones overwrote them.
func TestBatcherKeepsNoAnsweredRequest(t *testing.T) {
	repo := t.TempDir()
	saveMLP(t, repo, "m", "1", []int{8}, 1, nil)
	m, err := LoadModel("m", "1", repo+"/m/1")
	if err != nil {
		t.Fatal(err)
	}
	b := NewBatcher(m, BatchConfig{Objective: time.Second, MaxBatch: 8}, nil)
	defer b.Stop()
	x := images(1, 1)
	wx := weak.Make(&x[0])
	if _, err := b.Predict(context.Background(), x, 1, time.Now().Add(10*time.Second)); err != nil {
		t.Fatal(err)
	}
	x = nil
	for range 3 {
		runtime.GC()
	}
	if wx.Value() != nil {
		t.Error("the batcher still holds the input of a request it has answered")
	}
}
