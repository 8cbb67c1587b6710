package serve

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/metadata"
	"google.golang.org/grpc/status"

	pb "github.com/kiln-ml/kiln/serve/inferencepb"
)

func rawRequest(x []float32, rows int) *pb.ModelInferRequest {
	raw := make([]byte, 4*len(x))
	for i, v := range x {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(v))
	}
	return &pb.ModelInferRequest{ModelName: "mnist",
		Inputs:           []*pb.ModelInferRequest_InferInputTensor{{Name: "input", Datatype: "FP32", Shape: []int64{int64(rows), 784}}},
		Outputs:          []*pb.ModelInferRequest_InferRequestedOutputTensor{{Name: "class"}},
		RawInputContents: [][]byte{raw}}
}

// Overload: offered twice the rate the server sustains, it stays up, the
// requests it admits finish within twice the objective at the 99th
// percentile, the excess is refused at once with RESOURCE_EXHAUSTED and a
// retry-after header (429 over REST: TestOverloadREST429), and its queues
// and memory stay bounded. The load generator runs in the test, on the
// same two cores as the server, and other processes may share them: a
// trial whose p99 was inflated by a descheduled process is run again, up
// to three trials; every other property must hold in every trial.
// (Timing is the p99 and the share of admitted requests that expired in
// the queue instead of being refused at once: at most 5%.)
func TestOverloadAtTwiceSustainableRate(t *testing.T) {
	repo := t.TempDir()
	// A model and request size whose compute outweighs the cost of a gRPC
	// round trip: were a request nearly all protocol overhead, twice the
	// sustainable rate would saturate the CPU before a request reached
	// admission control, in the generator as much as in the server.
	saveMLP(t, repo, "mnist", "1", []int{2048, 2048}, 1, nil)
	// Rows per request such that one request is about 2 ms of compute
	// with this build's kernels (pure Go or OpenBLAS), at most 16 so that
	// requests stay small.
	m, err := LoadModel("mnist", "1", filepath.Join(repo, "mnist", "1"))
	if err != nil {
		t.Fatal(err)
	}
	perRow := time.Hour
	for range 3 {
		x := images(64, 4)
		t0 := time.Now()
		m.Predict(x, 64)
		perRow = min(perRow, time.Since(t0)/64)
	}
	rows := int(min(max(2*time.Millisecond/perRow, 1), 16))
	const slo = 20 * time.Millisecond
	const maxQueue = 512
	ts := startServer(t, Config{Repository: repo, SLO: slo, MaxQueueRows: maxQueue})
	req := rawRequest(images(rows, 1), rows)
	var trials []string
	for trial := 1; trial <= 3; trial++ {
		p99, expired, sent := overloadTrial(t, ts, req, slo, maxQueue)
		timely := p99 <= 2*slo && expired <= sent/20
		trials = append(trials, fmt.Sprintf("p99 %v, %d of %d expired in the queue", p99, expired, sent))
		if raceEnabled || timely {
			return
		}
	}
	// Timing depends on having the CPU: when other processes hold more
	// than this machine's cores, say so rather than fail on their account.
	if load := loadAverage(); load > float64(runtime.NumCPU()) {
		t.Logf("timing not met in three trials (%v) with the load average at %.1f on %d CPUs: other processes held the CPU; not failing", trials, load, runtime.NumCPU())
		return
	}
	t.Errorf("in three trials (%v): want the p99 of admitted requests within twice the objective %v and at most 5%% expired in the queue (the excess refused at once)", trials, slo)
}

// loadAverage returns the one-minute load average, or 0 if unknown.
func loadAverage() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return 0
	}
	v, _ := strconv.ParseFloat(f[0], 64)
	return v
}

// overloadTrial measures the sustainable rate, offers twice that for
// 1.5 s, checks everything but timing, and returns the admitted p99 and
// how many of the requests sent expired in the queue.
func overloadTrial(t *testing.T, ts *testServer, req *pb.ModelInferRequest, slo time.Duration, maxQueue int) (time.Duration, int, int) {
	ctx := context.Background()
	// The sustainable rate: what 32 closed-loop clients (that back off for
	// 2 ms when refused) get for 0.5 s, after 0.3 s for AIMD to settle.
	var done, failed atomic.Int64
	t0 := time.Now()
	measureFrom, stopAt := t0.Add(300*time.Millisecond), t0.Add(800*time.Millisecond)
	var wg sync.WaitGroup
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for now := time.Now(); now.Before(stopAt); now = time.Now() {
				_, err := ts.grpc.ModelInfer(ctx, req)
				if err == nil && now.After(measureFrom) {
					done.Add(1)
				}
				if err != nil {
					failed.Add(1)
					time.Sleep(2 * time.Millisecond)
				}
			}
		}()
	}
	wg.Wait()
	sustain := float64(done.Load()) / 0.5
	// Other processes on this machine can make that measure low; the
	// model's own batched speed bounds what the server can sustain, so
	// take the larger of the two: twice it is surely an overload.
	direct, err := LoadModel("mnist", "1", filepath.Join(ts.cfg.Repository, "mnist", "1"))
	if err != nil {
		t.Fatal(err)
	}
	xb := images(64, 5)
	rowsPer := int(req.Inputs[0].Shape[0])
	t1 := time.Now()
	nb := 0
	for time.Since(t1) < 200*time.Millisecond {
		direct.Predict(xb, 64)
		nb++
	}
	inProcess := float64(nb*64) / time.Since(t1).Seconds() / float64(rowsPer)
	sustain = math.Max(sustain, inProcess)
	if sustain < 20 && !raceEnabled {
		t.Fatalf("the server sustains only %.0f requests/s (%d refused)", sustain, failed.Load())
	}

	var ms0 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms0)

	// Open loop at twice that rate for 1.5 s.
	rate := 2 * sustain
	dur := 1500 * time.Millisecond
	var mu sync.Mutex
	var lat []time.Duration
	var refused, expired atomic.Int64
	var retryHeader atomic.Bool
	var maxQueued atomic.Int64
	stopSample := make(chan struct{})
	ts.mu.RLock()
	b := ts.models["mnist"].versions["1"].batcher
	ts.mu.RUnlock()
	go func() {
		for {
			select {
			case <-stopSample:
				return
			case <-time.After(time.Millisecond):
				if q := int64(b.QueuedRows()); q > maxQueued.Load() {
					maxQueued.Store(q)
				}
			}
		}
	}()
	start := time.Now()
	sent, skipped := 0, 0
	// The generator keeps at most 1024 requests outstanding: past that
	// the server is far behind, and more would only measure the
	// generator's own memory (it shares this process).
	outstanding := make(chan struct{}, 1024)
	for time.Since(start) < dur {
		due := int(time.Since(start).Seconds() * rate)
		for sent+skipped < due {
			select {
			case outstanding <- struct{}{}:
			default:
				skipped++
				continue
			}
			sent++
			wg.Add(1)
			go func() {
				defer wg.Done()
				defer func() { <-outstanding }()
				var hdr metadata.MD
				t0 := time.Now()
				_, err := ts.grpc.ModelInfer(ctx, req, grpc.Header(&hdr))
				el := time.Since(t0)
				switch status.Code(err) {
				case codes.OK:
					mu.Lock()
					lat = append(lat, el)
					mu.Unlock()
				case codes.ResourceExhausted:
					refused.Add(1)
					if v := hdr.Get("retry-after"); len(v) == 1 {
						if n, err := strconv.Atoi(v[0]); err == nil && n >= 1 {
							retryHeader.Store(true)
						}
					}
				case codes.DeadlineExceeded:
					expired.Add(1)
				default:
					t.Errorf("unexpected error under overload: %v", err)
				}
			}()
		}
		time.Sleep(500 * time.Microsecond)
	}
	wg.Wait()
	close(stopSample)
	offered := float64(sent+skipped) / time.Since(start).Seconds()

	var ms1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms1)
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	if len(lat) == 0 {
		t.Fatal("nothing was admitted")
	}
	p99 := lat[len(lat)*99/100]
	t.Logf("sustainable %.0f req/s; offered %.0f req/s (%d sent, %d not sent with 1024 outstanding): %d served (p50 %v, p99 %v), %d refused, %d expired in queue; max queue %d rows; heap %d → %d MB",
		sustain, offered, sent, skipped, len(lat), lat[len(lat)/2], p99, refused.Load(), expired.Load(), maxQueued.Load(), ms0.HeapInuse>>20, ms1.HeapInuse>>20)
	if refused.Load() == 0 {
		t.Error("no request was refused at twice the sustainable rate")
	}
	if !retryHeader.Load() {
		t.Error("refusals carried no retry-after header")
	}
	if q := maxQueued.Load(); q > int64(maxQueue) {
		t.Errorf("queue reached %d rows, over its bound of %d", q, maxQueue)
	}
	if grow := int64(ms1.HeapInuse) - int64(ms0.HeapInuse); grow > 64<<20 {
		t.Errorf("heap grew by %d MB under overload", grow>>20)
	}
	// Still serving.
	if code, body, _ := ts.do(t, "GET", "/v2/health/live", nil); code != 200 {
		t.Fatalf("after the overload: %d %s", code, body)
	}
	if _, err := ts.grpc.ModelInfer(ctx, req); err != nil {
		t.Fatalf("after the overload: %v", err)
	}
	return p99, int(expired.Load()), sent
}

// Over REST, a request that finds the queue full is refused with 429 and
// a Retry-After header; so is one over the in-flight bound.
func TestOverloadREST429(t *testing.T) {
	repo := t.TempDir()
	saveMLP(t, repo, "mnist", "1", []int{1024, 1024}, 1, nil)
	ts := startServer(t, Config{Repository: repo, SLO: time.Second, MaxBatch: 8, MaxQueueRows: 8})
	body := inferBody(t, "", images(8, 1), 8)
	var wg sync.WaitGroup
	var ok, refused, retry atomic.Int64
	for range 24 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			code, b, hdr := ts.do(t, "POST", "/v2/models/mnist/infer", body)
			switch code {
			case 200:
				ok.Add(1)
			case 429:
				refused.Add(1)
				if n, err := strconv.Atoi(hdr.Get("Retry-After")); err == nil && n >= 1 {
					retry.Add(1)
				}
			case 504: // admitted, then late on a machine busy with other work
			default:
				t.Errorf("%d %s", code, b)
			}
		}()
	}
	wg.Wait()
	if ok.Load() == 0 || refused.Load() == 0 || retry.Load() != refused.Load() {
		t.Errorf("%d served, %d refused (%d with Retry-After); want both, all refusals with Retry-After", ok.Load(), refused.Load(), retry.Load())
	}
	code, b, _ := ts.do(t, "GET", "/metrics", nil)
	if code != 200 || !containsAll(string(b), `kiln_serve_rejections_total{model="mnist",reason="queue_full"}`, `kiln_serve_requests_total{code="429",model="mnist",protocol="rest"}`) {
		t.Errorf("metrics miss the rejections")
	}

	ts2 := startServer(t, Config{Repository: repo, MaxInFlight: 1, SLO: time.Second})
	ts2.inFlight.Add(1) // one request is inside
	if code, _, hdr := ts2.do(t, "POST", "/v2/models/mnist/infer", body); code != 429 || hdr.Get("Retry-After") == "" {
		t.Errorf("over the in-flight bound: %d", code)
	}
	ts2.inFlight.Add(-1)
	if code, b, _ := ts2.do(t, "POST", "/v2/models/mnist/infer", body); code != 200 {
		t.Errorf("under the bound again: %d %s", code, b)
	}
}

func containsAll(s string, subs ...string) bool {
	for _, sub := range subs {
		if !strings.Contains(s, sub) {
			return false
		}
	}
	return true
}
