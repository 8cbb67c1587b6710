package serve

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	pb "github.com/kiln-ml/kiln/serve/inferencepb"
)

// A server that is not ready says so as the protocol's health API does:
// "A 200 status code indicates true and a 4xx status code indicates
// false", with an empty body (Open Inference Protocol, health; Triton
// answers 400). It answered 503, which a client of the protocol reads as
// a server error rather than as "not ready". Here the only model's only
// version fails to load.
func TestHealthNotReadyIs4xx(t *testing.T) {
	repo := t.TempDir()
	broken := filepath.Join(repo, "mnist", "1")
	if err := os.MkdirAll(broken, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"model.json", "model.safetensors"} {
		if err := os.WriteFile(filepath.Join(broken, f), []byte("not a model"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ts := startServer(t, Config{Repository: repo})
	if code, body, _ := ts.do(t, "GET", "/v2/health/live", nil); code != 200 || len(body) != 0 {
		t.Errorf("live: %d %q, want 200 and no body", code, body)
	}
	if code, body, _ := ts.do(t, "GET", "/v2/health/ready", nil); code != 400 || len(body) != 0 {
		t.Errorf("ready with no version loaded: %d %q, want 400 and no body", code, body)
	}
	r, err := ts.grpc.ServerReady(context.Background(), &pb.ServerReadyRequest{})
	if err != nil || r.GetReady() {
		t.Errorf("gRPC ServerReady: %v %v, want ready false", r, err)
	}
}
