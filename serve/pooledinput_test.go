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

	pb "github.com/kiln-ml/kiln/serve/inferencepb"
)

// A caller that gives up while its batch runs gets its answer from
// Predict only once the batch is done: the batch reads the caller's rows
// until then, and the REST handler reuses that memory for the next
// request as soon as Predict has returned.
func TestBatcherPredictReturnsAfterItsRunningBatch(t *testing.T) {
	b := slowBatcher(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := startLongBatch(t, b, ctx)
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

// Binary REST and raw gRPC requests decode into buffers the server
// reuses: many concurrent requests of different sizes, each with its own
// images, each get the answer for their own images.
func TestPooledInputsKeepRequestsApart(t *testing.T) {
	repo := t.TempDir()
	saveMLP(t, repo, "mnist", "1", []int{64}, 1, nil)
	ts := startServer(t, Config{Repository: repo, MaxBatch: 64, CacheRows: 0})
	const clients, each = 8, 12
	var wg sync.WaitGroup
	errs := make(chan error, 2*clients*each)
	for c := range 2 * clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				rows := 1 + (c*each+i)%7
				x := images(rows, uint64(100+c*each+i))
				var got []float32
				var err error
				if c%2 == 0 {
					got, err = restBinaryProbs(ts, x, rows)
				} else {
					got, err = grpcRawProbs(ts, x, rows)
				}
				if err != nil {
					errs <- fmt.Errorf("client %d request %d: %v", c, i, err)
					return
				}
				ref := reference(t, repo, "mnist", "1", x, rows)
				if len(got) != len(ref) {
					errs <- fmt.Errorf("client %d request %d: %d values, want %d", c, i, len(got), len(ref))
					return
				}
				for j, v := range got {
					if math.Abs(float64(v-ref[j])) > 1e-5 {
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

func littleEndianFP32(x []float32) []byte {
	raw := make([]byte, 4*len(x))
	for j, v := range x {
		binary.LittleEndian.PutUint32(raw[4*j:], math.Float32bits(v))
	}
	return raw
}

// restBinaryProbs asks for the probabilities of rows of x over REST with
// the binary tensor data extension.
func restBinaryProbs(ts *testServer, x []float32, rows int) ([]float32, error) {
	raw := littleEndianFP32(x)
	hdr, _ := json.Marshal(map[string]any{
		"inputs":  []any{map[string]any{"name": "input", "shape": []int{rows, 784}, "datatype": "FP32", "parameters": map[string]any{"binary_data_size": len(raw)}}},
		"outputs": []any{map[string]any{"name": "probabilities"}}})
	req, _ := http.NewRequest("POST", ts.url+"/v2/models/mnist/infer", bytes.NewReader(append(hdr, raw...)))
	req.Header.Set("Inference-Header-Content-Length", strconv.Itoa(len(hdr)))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var r struct{ Outputs []struct{ Data []float32 } }
	if err := json.Unmarshal(body, &r); err != nil || resp.StatusCode != 200 || len(r.Outputs) != 1 {
		return nil, fmt.Errorf("REST %d %s", resp.StatusCode, body)
	}
	return r.Outputs[0].Data, nil
}

// grpcRawProbs asks for the probabilities of rows of x over gRPC with
// raw_input_contents.
func grpcRawProbs(ts *testServer, x []float32, rows int) ([]float32, error) {
	r, err := ts.grpc.ModelInfer(context.Background(), &pb.ModelInferRequest{ModelName: "mnist",
		Inputs:           []*pb.ModelInferRequest_InferInputTensor{{Name: "input", Datatype: "FP32", Shape: []int64{int64(rows), 784}}},
		Outputs:          []*pb.ModelInferRequest_InferRequestedOutputTensor{{Name: "probabilities"}},
		RawInputContents: [][]byte{littleEndianFP32(x)}})
	if err != nil {
		return nil, err
	}
	if len(r.RawOutputContents) != 1 || len(r.RawOutputContents[0]) != 4*rows*10 {
		return nil, fmt.Errorf("gRPC response %v", r)
	}
	out := make([]float32, rows*10)
	for j := range out {
		out[j] = math.Float32frombits(binary.LittleEndian.Uint32(r.RawOutputContents[0][4*j:]))
	}
	return out, nil
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
