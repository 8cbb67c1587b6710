package train

import (
	"context"
	"math/rand/v2"
	"testing"
)

// metricLog keeps what the loop logs, as a store run would.
type metricLog struct {
	byName map[string][]float64
	steps  map[string][]int64
}

func (l *metricLog) LogMetric(name string, step int64, v float64) {
	if l.byName == nil {
		l.byName, l.steps = map[string][]float64{}, map[string][]int64{}
	}
	l.byName[name] = append(l.byName[name], v)
	l.steps[name] = append(l.steps[name], step)
}

// TestMetricsEveryStep checks that the loop logs each step's loss and
// learning rate, matching what the step hook sees, and the epoch metrics
// at each epoch's last step.
func TestMetricsEveryStep(t *testing.T) {
	rng := rand.New(rand.NewPCG(6, 6))
	x, y := blobs(rng, 400, 8, 4)
	m, opt := newMLP(t, 8)
	log := &metricLog{}
	tr := &Trainer{Model: m, Opt: opt, Cfg: Config{SampleShape: []int{8}, Epochs: 2}, Metrics: log}
	var hookLoss []float64
	tr.Hooks.Step = func(s StepInfo) { hookLoss = append(hookLoss, s.Loss) }
	test := &EvalSet{X: x[:100*8], Y: y[:100], N: 100}
	res, err := tr.Run(context.Background(), &sliceBatches{x: x, y: y, feat: 8, bs: 50}, test)
	if err != nil {
		t.Fatal(err)
	}
	if len(log.byName["loss"]) != res.Steps || len(log.byName["lr"]) != res.Steps || res.Steps != 16 {
		t.Fatalf("%d loss and %d lr values for %d steps", len(log.byName["loss"]), len(log.byName["lr"]), res.Steps)
	}
	for i, v := range log.byName["loss"] {
		if v != hookLoss[i] || log.steps["loss"][i] != int64(i+1) {
			t.Fatalf("loss %d: logged %v at step %d, hook saw %v", i, v, log.steps["loss"][i], hookLoss[i])
		}
	}
	acc := log.byName["test_accuracy"]
	if len(acc) != 2 || acc[1] != res.TestAccuracy || log.steps["test_accuracy"][1] != 16 || log.steps["test_accuracy"][0] != 8 {
		t.Fatalf("test_accuracy logged %v at %v, result %v", acc, log.steps["test_accuracy"], res.TestAccuracy)
	}
	if len(log.byName["train_loss"]) != 2 || log.byName["train_loss"][0] != res.Epochs[0].TrainLoss {
		t.Fatalf("train_loss %v, epochs %+v", log.byName["train_loss"], res.Epochs)
	}
}
