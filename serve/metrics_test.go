package serve

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
)

// The same image twice is answered from the cache the second time, with
// the same answer, and /metrics shows requests, latency, batch sizes,
// queue depth, the AIMD limit, cache hits and misses with the hit rate,
// and rejections.
func TestMetricsAndCache(t *testing.T) {
	repo := t.TempDir()
	saveMLP(t, repo, "mnist", "1", []int{16}, 1, nil)
	ts := startServer(t, Config{Repository: repo, CacheRows: 100})
	x := images(2, 1)
	body := inferBody(t, "a", x, 2)
	var first, second map[string]any
	for i, dst := range []*map[string]any{&first, &second} {
		code, b, _ := ts.do(t, "POST", "/v2/models/mnist/infer", body)
		if code != 200 {
			t.Fatalf("request %d: %d %s", i, code, b)
		}
		json.Unmarshal(b, dst)
	}
	if !reflect.DeepEqual(first, second) {
		t.Errorf("the cached answer differs:\n%v\n%v", first, second)
	}
	if h, m := ts.cache.Stats(); h != 2 || m != 2 {
		t.Errorf("cache hits %d misses %d, want 2 and 2 (two rows, twice)", h, m)
	}
	ts.do(t, "POST", "/v2/models/mnist/infer", []byte(`{`)) // a rejection
	// A batcher answers before it records the batch's metrics, so the
	// batch's series may come a moment after the answer.
	var text string
	waitFor(t, "the batch to be recorded in /metrics", func() bool {
		code, b, _ := ts.do(t, "GET", "/metrics", nil)
		if code != 200 {
			t.Fatal(code)
		}
		text = string(b)
		return strings.Contains(text, `kiln_serve_batch_size_count{model="mnist",version="1"}`)
	})
	for _, want := range []string{
		`kiln_serve_requests_total{code="200",model="mnist",protocol="rest"} 2`,
		`kiln_serve_requests_total{code="400",model="mnist",protocol="rest"} 1`,
		`kiln_serve_request_duration_seconds_count{model="mnist",protocol="rest"} 2`,
		`kiln_serve_batch_size_count{model="mnist",version="1"} 1`,
		`kiln_serve_batch_size_sum{model="mnist",version="1"} 2`,
		`kiln_serve_queue_rows{model="mnist",version="1"} 0`,
		`kiln_serve_batch_limit{model="mnist",version="1"}`,
		`kiln_serve_cache_hits_total{model="mnist"} 2`,
		`kiln_serve_cache_misses_total{model="mnist"} 2`,
		`kiln_serve_cache_hit_ratio 0.5`,
		`kiln_serve_rejections_total{model="mnist",reason="bad_request"} 1`,
		`kiln_serve_model_versions_loaded{model="mnist"} 1`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("/metrics lacks %s", want)
		}
	}
	// Requests for made-up models do not create series of their own.
	ts.do(t, "POST", "/v2/models/made-up-1/infer", body)
	_, b, _ := ts.do(t, "GET", "/metrics", nil)
	if strings.Contains(string(b), "made-up-1") || !strings.Contains(string(b), `model="(unknown)"`) {
		t.Error("an unknown model's name reached the metrics")
	}
}
