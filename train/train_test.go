package train

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/kiln-ml/kiln/nn"
	"github.com/kiln-ml/kiln/tensor"
)

// sliceBatches serves fixed in-memory batches, in order.
type sliceBatches struct {
	x    []float32
	y    []int32
	feat int
	bs   int
}

func (s *sliceBatches) Len() int { return (len(s.y) + s.bs - 1) / s.bs }

func (s *sliceBatches) Epoch(_ context.Context, _ int) (func() (Batch, bool, error), func()) {
	i := 0
	return func() (Batch, bool, error) {
		if i >= len(s.y) {
			return Batch{}, false, nil
		}
		n := min(s.bs, len(s.y)-i)
		b := Batch{X: s.x[i*s.feat : (i+n)*s.feat], Y: s.y[i : i+n], N: n}
		i += n
		return b, true, nil
	}, func() {}
}

// blobs returns a separable synthetic problem: class c's samples are drawn
// around a random centre.
func blobs(rng *rand.Rand, n, feat, classes int) ([]float32, []int32) {
	centres := make([][]float64, classes)
	for c := range centres {
		centres[c] = make([]float64, feat)
		for j := range centres[c] {
			centres[c][j] = rng.NormFloat64() * 2
		}
	}
	x := make([]float32, n*feat)
	y := make([]int32, n)
	for i := 0; i < n; i++ {
		c := rng.IntN(classes)
		y[i] = int32(c)
		for j := 0; j < feat; j++ {
			x[i*feat+j] = float32(centres[c][j] + rng.NormFloat64())
		}
	}
	return x, y
}

func newMLP(t testing.TB, feat int) (nn.Module, nn.Optimizer) {
	m, err := nn.Build(nn.ModelConfig{Name: "mlp", Input: []int{feat}, Hidden: []int{32}, Classes: 4}, rand.New(rand.NewPCG(1, 1)))
	if err != nil {
		t.Fatal(err)
	}
	opt, err := nn.NewSGD(m.Parameters(), nn.SGDConfig{LR: 0.05, Momentum: 0.9})
	if err != nil {
		t.Fatal(err)
	}
	return m, opt
}

func TestTrainerLearns(t *testing.T) {
	rng := rand.New(rand.NewPCG(2, 2))
	x, y := blobs(rng, 2000, 20, 4)
	m, opt := newMLP(t, 20)
	tr := &Trainer{Model: m, Opt: opt, Cfg: Config{SampleShape: []int{20}, Epochs: 3}}
	var steps int
	tr.Hooks.Step = func(StepInfo) { steps++ }
	test := &EvalSet{X: x[:500*20], Y: y[:500], N: 500}
	res, err := tr.Run(context.Background(), &sliceBatches{x: x, y: y, feat: 20, bs: 50}, test)
	if err != nil {
		t.Fatal(err)
	}
	if res.Steps != 120 || steps != 120 || len(res.Epochs) != 3 {
		t.Fatalf("steps %d (hooks %d), epochs %d; want 120 and 3", res.Steps, steps, len(res.Epochs))
	}
	if res.TestAccuracy < 0.95 {
		t.Fatalf("accuracy %.3f on separable blobs, want ≥ 0.95", res.TestAccuracy)
	}
	if res.Epochs[2].TrainLoss >= res.Epochs[0].TrainLoss {
		t.Fatalf("loss did not fall: %v", res.Epochs)
	}
	if res.TrainSamplesPerS <= 0 {
		t.Fatal("no throughput measured")
	}
}

func TestMaxSteps(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 3))
	x, y := blobs(rng, 1000, 8, 4)
	m, opt := newMLP(t, 8)
	tr := &Trainer{Model: m, Opt: opt, Cfg: Config{SampleShape: []int{8}, Epochs: 5, MaxSteps: 7}}
	res, err := tr.Run(context.Background(), &sliceBatches{x: x, y: y, feat: 8, bs: 100}, nil)
	if err != nil || res.Steps != 7 {
		t.Fatalf("steps %d, err %v; want 7", res.Steps, err)
	}
}

// TestNonFiniteLossStops feeds a batch with an infinite input at step 4 and
// checks that training stops there, naming the step, with the weights of
// step 3 intact.
func TestNonFiniteLossStops(t *testing.T) {
	rng := rand.New(rand.NewPCG(4, 4))
	x, y := blobs(rng, 400, 8, 4)
	x[3*50*8+5] = float32(math.Inf(1)) // inside the 4th batch
	m, opt := newMLP(t, 8)
	var snapshot []float32
	tr := &Trainer{Model: m, Opt: opt, Cfg: Config{SampleShape: []int{8}, Epochs: 1}}
	tr.Hooks.Step = func(s StepInfo) {
		if s.Step == 3 {
			snapshot = append([]float32(nil), m.Parameters()[0].Data.Data...)
		}
	}
	res, err := tr.Run(context.Background(), &sliceBatches{x: x, y: y, feat: 8, bs: 50}, nil)
	var nf *NonFiniteLossError
	if !errors.As(err, &nf) || nf.Step != 4 {
		t.Fatalf("error %v, want a non-finite loss at step 4", err)
	}
	if res == nil || res.Steps != 4 {
		t.Fatalf("result %+v", res)
	}
	for i, v := range m.Parameters()[0].Data.Data {
		if v != snapshot[i] {
			t.Fatalf("weight %d changed after the bad step: %v vs %v", i, v, snapshot[i])
		}
	}
}

func benchStep(b *testing.B, cfg nn.ModelConfig, batch int) {
	tensor.SetThreads(1)
	rng := rand.New(rand.NewPCG(5, 5))
	m, err := nn.Build(cfg, rng)
	if err != nil {
		b.Fatal(err)
	}
	opt, _ := nn.NewSGD(m.Parameters(), nn.SGDConfig{LR: 0.01, Momentum: 0.9})
	feat := 1
	for _, d := range cfg.Input {
		feat *= d
	}
	x := make([]float32, batch*feat)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	y := make([]int32, batch)
	for i := range y {
		y[i] = int32(rng.IntN(cfg.Classes))
	}
	tr := &Trainer{Model: m, Opt: opt, Cfg: Config{SampleShape: cfg.Input}}
	bt := Batch{X: x, Y: y, N: batch}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if _, _, err := tr.Step(bt); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.N*batch)/b.Elapsed().Seconds(), "samples/s")
}

func BenchmarkStepMLP128(b *testing.B) {
	benchStep(b, nn.ModelConfig{Name: "mlp", Input: []int{784}, Hidden: []int{256, 128}, Classes: 10}, 128)
}

func BenchmarkStepLeNet64(b *testing.B) {
	benchStep(b, nn.ModelConfig{Name: "lenet5", Input: []int{1, 28, 28}, Classes: 10}, 64)
}

func TestWorkerFromEnv(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	w, err := WorkerFromEnv(env(map[string]string{}))
	if w != nil || err != nil {
		t.Fatalf("no environment: %v %v", w, err)
	}
	w, err = WorkerFromEnv(env(map[string]string{EnvRank: "2", EnvWorldSize: "4", EnvRdzvEndpoint: "h:1"}))
	if err != nil || w.Rank != 2 || w.World != 4 || w.Rdzv != "h:1" {
		t.Fatalf("%+v %v", w, err)
	}
	for _, bad := range []map[string]string{{EnvRank: "4", EnvWorldSize: "4"}, {EnvRank: "x", EnvWorldSize: "2"}, {EnvRank: "0", EnvWorldSize: "0"}} {
		if _, err := WorkerFromEnv(env(bad)); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}
