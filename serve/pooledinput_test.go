package serve

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"strconv"
	"sync"
	"testing"
	"time"
)

// A caller that gives up while its batch runs gets its answer from
// Predict only once the batch is done: the batch reads the caller's rows
// until then, and the REST handler reuses that memory for the next
// request as soon as Predict has returned.
func TestBatcherPredictReturnsAfterItsRunningBatch(t *testing.T) {
	b := slowBatcher(t)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		_, err := b.Predict(ctx, images(256, 1), 256, time.Now().Add(10*time.Second))
		done <- err
	}()
	waitFor(t, "the batch to start", func() bool {
		b.mu.Lock()
		defer b.mu.Unlock()
		return b.busy
	})
	cancel()
	switch err := <-done; err {
	case context.Canceled:
	case nil:
		// The batch ended between the check and the cancel: answered,
		// so nothing was left running.
		t.Log("the batch ended before its caller gave up")
	default:
		t.Fatalf("Predict after its caller gave up: %v", err)
	}
	b.mu.Lock()
	busy := b.busy
	b.mu.Unlock()
	if busy {
		t.Error("Predict returned while the batch holding its rows still ran")
	}
}

// Binary REST requests decode into buffers the server reuses: many
// concurrent requests of different sizes, each with its own images, each
// get the answer for their own images.
func TestPooledInputsKeepRequestsApart(t *testing.T) {
	repo := t.TempDir()
	saveMLP(t, repo, "mnist", "1", []int{64}, 1, nil)
	ts := startServer(t, Config{Repository: repo, MaxBatch: 64, CacheRows: 0})
	const clients, each = 8, 12
	var wg sync.WaitGroup
	errs := make(chan error, clients*each)
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				rows := 1 + (c*each+i)%7
				x := images(rows, uint64(100+c*each+i))
				raw := make([]byte, 4*len(x))
				for j, v := range x {
					binary.LittleEndian.PutUint32(raw[4*j:], math.Float32bits(v))
				}
				hdr, _ := json.Marshal(map[string]any{
					"inputs":  []any{map[string]any{"name": "input", "shape": []int{rows, 784}, "datatype": "FP32", "parameters": map[string]any{"binary_data_size": len(raw)}}},
					"outputs": []any{map[string]any{"name": "probabilities"}}})
				req, _ := http.NewRequest("POST", ts.url+"/v2/models/mnist/infer", bytes.NewReader(append(hdr, raw...)))
				req.Header.Set("Inference-Header-Content-Length", strconv.Itoa(len(hdr)))
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					errs <- err
					return
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				var r struct{ Outputs []struct{ Data []float64 } }
				if err := json.Unmarshal(body, &r); err != nil || resp.StatusCode != 200 || len(r.Outputs) != 1 {
					errs <- fmt.Errorf("client %d request %d: %d %s", c, i, resp.StatusCode, body)
					return
				}
				ref := reference(t, repo, "mnist", "1", x, rows)
				if len(r.Outputs[0].Data) != len(ref) {
					errs <- fmt.Errorf("client %d request %d: %d values, want %d", c, i, len(r.Outputs[0].Data), len(ref))
					return
				}
				for j, v := range r.Outputs[0].Data {
					if math.Abs(v-float64(ref[j])) > 1e-5 {
						errs <- fmt.Errorf("client %d request %d: probability %d is %v, want %v: another request's rows", c, i, j, v, ref[j])
						return
					}
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// An ensemble's members may run after it answers, so they get inputs of
// their own, not the request's pooled ones.
func TestWithOwnInputsCopies(t *testing.T) {
	var wp wordPool
	w := wp.get(2)
	data := []float32{1, 2, 3}
	req := &InferRequest{Inputs: []InputTensor{{Name: "input", Data: data}}, pooled: []*[]uint64{w}}
	own := req.withOwnInputs()
	data[0] = 9
	if own.Inputs[0].Data[0] != 1 || len(own.pooled) != 0 || req.Inputs[0].Data[0] != 9 {
		t.Errorf("own inputs %v (pooled %d); the request's %v", own.Inputs[0].Data, len(own.pooled), req.Inputs[0].Data)
	}
	if plain := (&InferRequest{Inputs: req.Inputs}); plain.withOwnInputs() != plain {
		t.Error("a request with nothing pooled was copied")
	}
}
