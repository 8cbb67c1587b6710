package serve

import (
	"bytes"
	"context"
	"net/http"
	"strings"
	"testing"
	"time"
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
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
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
