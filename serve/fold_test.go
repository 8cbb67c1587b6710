package serve

import (
	"math"
	"testing"

	"github.com/kiln-ml/kiln/nn"
)

// With the normalisation folded into the MLP's first layer, raw inputs
// give the probabilities the network gives their normalised rows, for one
// request and for a batch of several; the network passed in is left as
// it was; and a convolution first is not folded.
func TestFoldedNormalisationMatchesTheNetwork(t *testing.T) {
	repo := t.TempDir()
	saveMLP(t, repo, "m", "1", []int{64, 32}, 3, nil)
	m, err := LoadModel("m", "1", repo+"/m/1")
	if err != nil {
		t.Fatal(err)
	}
	if !m.folded {
		t.Fatal("the MLP's normalisation is not folded")
	}
	x := images(12, 9)
	ref := reference(t, repo, "m", "1", x, 12)
	check := func(what string, got []float32) {
		t.Helper()
		if len(got) != len(ref) {
			t.Fatalf("%s: %d values, want %d", what, len(got), len(ref))
		}
		for i := range got {
			if math.Abs(float64(got[i]-ref[i])) > 1e-5 {
				t.Fatalf("%s: probability %d is %v, the network gives %v", what, i, got[i], ref[i])
			}
		}
	}
	check("one part", m.Predict(x, 12))
	check("three parts", m.PredictParts([][]float32{x[:2*784], x[2*784 : 7*784], x[7*784:]}, 12))
	for i, v := range images(12, 9) {
		if x[i] != v {
			t.Fatalf("Predict changed its input at %d", i)
		}
	}

	info, net, err := nn.LoadModel(repo + "/m/1")
	if err != nil {
		t.Fatal(err)
	}
	w0 := net.Parameters()[0].Data.Data[0]
	if _, err := NewModel("m", "1", info, net); err != nil {
		t.Fatal(err)
	}
	if net.Parameters()[0].Data.Data[0] != w0 {
		t.Error("NewModel changed the network it was given")
	}

	cfg := nn.ModelConfig{Name: "lenet5", Input: []int{1, 28, 28}, Classes: 10}
	lenet, err := nn.Build(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	lm, err := NewModel("l", "1", &nn.SavedModel{Config: cfg, Mean: 0.1307, Std: 0.3081}, lenet)
	if err != nil {
		t.Fatal(err)
	}
	if lm.folded {
		t.Error("LeNet-5, a convolution first, was folded")
	}
}
