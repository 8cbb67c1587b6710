package serve

import (
	"context"
	"errors"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/kiln-ml/kiln/nn"
)

// An ensemble policy over versions that answer different numbers of
// classes is refused (the model serves its latest version, as for any
// policy that cannot apply), instead of averaging probabilities of
// different lengths: ensembleDecided and ensembleAverage indexed the
// longer answer with the shorter one's shape and panicked, which over
// gRPC ends the process (gRPC does not recover a handler's panic).
func TestEnsembleOfDifferentClassCountsRefused(t *testing.T) {
	repo := t.TempDir()
	saveMLP(t, repo, "m", "1", []int{8}, 1, nil) // 10 classes
	cfg := nn.ModelConfig{Name: "mlp", Input: []int{784}, Hidden: []int{8}, Classes: 3}
	net, err := nn.Build(cfg, rand.New(rand.NewPCG(2, 1)))
	if err != nil {
		t.Fatal(err)
	}
	if err := nn.SaveModel(filepath.Join(repo, "m", "2"), nn.SavedModel{Config: cfg, Mean: 0.1307, Std: 0.3081}, net); err != nil {
		t.Fatal(err)
	}
	writePolicy(t, repo, "m", "policy: ensemble\n")
	s, err := NewServer(Config{Repository: repo, SLO: 2 * time.Second, Poll: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	req := &InferRequest{Model: "m", Inputs: []InputTensor{{Name: InputName, Datatype: "FP32", Shape: []int64{1, 784}, Data: images(1, 1)}}}
	for range 5 { // either member may answer first
		var res *InferResult
		func() {
			defer func() {
				if r := recover(); r != nil {
					t.Fatalf("Infer panicked: %v", r)
				}
			}()
			res, err = s.Infer(context.Background(), req)
		}()
		if err != nil {
			t.Fatal(err)
		}
		if res.Version != "2" || res.Classes != 3 || res.EnsembleSize != 0 {
			t.Fatalf("answered by %q with %d classes (ensemble of %d), want the latest version, 2, alone with 3", res.Version, res.Classes, res.EnsembleSize)
		}
	}
}

// An ensemble whose members were all unloaded since its policy was read
// is tried again on what is loaded now (errRetry, as a single version is),
// not answered 503.
func TestEnsembleOfRetiredMembersRetries(t *testing.T) {
	repo := t.TempDir()
	saveMLP(t, repo, "e", "1", []int{8}, 1, nil)
	saveMLP(t, repo, "e", "2", []int{8}, 2, nil)
	writePolicy(t, repo, "e", "policy: ensemble\n")
	ts := startServer(t, Config{Repository: repo})
	ts.mu.RLock()
	sm := ts.models["e"]
	ts.mu.RUnlock()
	req := &InferRequest{Model: "e", Inputs: []InputTensor{{Name: InputName, Datatype: "FP32", Shape: []int64{1, 784}, Data: images(1, 1)}}}
	_, err := ts.inferEnsemble(context.Background(), req, sm, []string{"7", "8"}, []string{ProbabilitiesName}, time.Now().Add(time.Second))
	if !errors.Is(err, errRetry) {
		t.Fatalf("ensemble over versions no longer loaded: %v, want errRetry", err)
	}
	// Through Infer, the live policy answers.
	r, err := ts.Infer(context.Background(), req)
	if err != nil || r.Version != "1+2" {
		t.Fatalf("Infer: %+v %v, want an answer from versions 1+2", r, err)
	}
}
