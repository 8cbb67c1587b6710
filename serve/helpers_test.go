package serve

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"path/filepath"
	"testing"
	"time"

	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/kiln-ml/kiln/nn"
	pb "github.com/kiln-ml/kiln/serve/inferencepb"
	"github.com/kiln-ml/kiln/train"
)

// saveMLP writes an initialised MLP 784-hidden-10 to repo/name/version and
// returns the network. tweak (may be nil) edits it before the save.
func saveMLP(t testing.TB, repo, name, version string, hidden []int, seed uint64, tweak func(nn.Module)) nn.Module {
	t.Helper()
	cfg := nn.ModelConfig{Name: "mlp", Input: []int{784}, Hidden: hidden, Classes: 10}
	m, err := nn.Build(cfg, rand.New(rand.NewPCG(seed, 1)))
	if err != nil {
		t.Fatal(err)
	}
	if tweak != nil {
		tweak(m)
	}
	if err := nn.SaveModel(filepath.Join(repo, name, version), nn.SavedModel{Config: cfg, Mean: 0.1307, Std: 0.3081, Data: "mnist"}, m); err != nil {
		t.Fatal(err)
	}
	return m
}

// confident makes an MLP answer class c with probability ≈ 1 for any input:
// the last layer's weights are zeroed and its bias favours c.
func confident(c int) func(nn.Module) {
	return func(m nn.Module) {
		ps := m.Parameters()
		w, b := ps[len(ps)-2], ps[len(ps)-1]
		clear(w.Data.Data)
		clear(b.Data.Data)
		b.Data.Data[c] = 20
	}
}

// uniform makes an MLP answer every class with probability 0.1.
func uniformOut(m nn.Module) {
	ps := m.Parameters()
	clear(ps[len(ps)-2].Data.Data)
	clear(ps[len(ps)-1].Data.Data)
}

// testServer is a Server behind real REST and gRPC listeners on loopback.
type testServer struct {
	*Server
	url  string
	grpc pb.GRPCInferenceServiceClient
	hs   *http.Server
	gs   *grpc.Server
	conn *grpc.ClientConn
}

func startServer(t testing.TB, cfg Config) *testServer {
	t.Helper()
	if cfg.Poll == 0 {
		cfg.Poll = 20 * time.Millisecond
	}
	if cfg.SLO == 0 {
		// Functional tests are not about latency: a generous objective
		// keeps a loaded machine from failing them with deadlines.
		cfg.SLO = 2 * time.Second
	}
	s, err := NewServer(cfg)
	if err != nil {
		t.Fatal(err)
	}
	go s.Watch()
	hl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	gl, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ts := &testServer{Server: s, url: "http://" + hl.Addr().String(), hs: &http.Server{Handler: s.Handler()}, gs: grpc.NewServer(s.GRPCOptions()...)}
	s.RegisterGRPC(ts.gs)
	go ts.hs.Serve(hl)
	go ts.gs.Serve(gl)
	ts.conn, err = grpc.NewClient(gl.Addr().String(), grpc.WithTransportCredentials(insecure.NewCredentials()))
	if err != nil {
		t.Fatal(err)
	}
	ts.grpc = pb.NewGRPCInferenceServiceClient(ts.conn)
	t.Cleanup(ts.stop)
	return ts
}

func (ts *testServer) stop() {
	ts.conn.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	ts.hs.Shutdown(ctx)
	ts.gs.GracefulStop()
	ts.Close()
	ts.WaitWatch()
}

// do sends a REST request and returns the status, body and headers.
func (ts *testServer) do(t testing.TB, method, path string, body []byte) (int, []byte, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, ts.url+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, b, resp.Header
}

// inferBody returns a REST inference body for rows of x.
func inferBody(t testing.TB, id string, x []float32, rows int) []byte {
	t.Helper()
	b, err := json.Marshal(map[string]any{"id": id, "inputs": []map[string]any{{"name": "input", "shape": []int{rows, 784}, "datatype": "FP32", "data": x}}})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// images returns n rows of pseudo-random pixels.
func images(n int, seed uint64) []float32 {
	rng := rand.New(rand.NewPCG(seed, 2))
	x := make([]float32, n*784)
	for i := range x {
		x[i] = rng.Float32()
	}
	return x
}

// reference computes the probabilities a network gives for raw pixels x,
// normalised as the server normalises them, without the server.
func reference(t testing.TB, repo, name, version string, x []float32, n int) []float32 {
	t.Helper()
	info, m, err := nn.LoadModel(filepath.Join(repo, name, version))
	if err != nil {
		t.Fatal(err)
	}
	xs := make([]float32, len(x))
	for i, v := range x {
		xs[i] = (v - info.Mean) / info.Std
	}
	return train.Predict(m, xs, n, info.Config.Input).Data
}
