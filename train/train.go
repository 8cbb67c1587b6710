// Package train runs Kiln's training loop: epochs of mini-batch steps over a
// model, evaluation after each epoch, metrics (loss, accuracy, samples per
// second), a stop on a non-finite loss, and a progress line on a terminal.
//
// The loop is written against two small interfaces, Batches (where the
// training batches come from) and Hooks (who is told about each step), so
// that it can be driven by the data loader, by a distributed sampler or by
// a test, and report to a terminal, a JSON summary or a metadata store.
package train

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/kiln-ml/kiln/autograd"
	"github.com/kiln-ml/kiln/nn"
	"github.com/kiln-ml/kiln/tensor"
)

// Batch is one mini-batch: N samples of Features values each, row-major,
// and their class labels.
type Batch struct {
	X []float32
	Y []int32
	N int
}

// Batches yields the training batches of an epoch.
type Batches interface {
	// Epoch returns an iterator over the batches of epoch e: next returns
	// the next batch and false when the epoch is over; stop releases the
	// iterator early and must be called once either way. A batch is valid
	// until the following call to next.
	Epoch(ctx context.Context, e int) (next func() (Batch, bool, error), stop func())
	// Len returns the number of batches in an epoch.
	Len() int
}

// EvalSet is a labelled data set for evaluation, held in memory.
type EvalSet struct {
	X []float32
	Y []int32
	N int
}

// Config holds the settings of a training run.
type Config struct {
	// SampleShape is the shape of one input sample as the model takes it,
	// e.g. [784] for an MLP or [1, 28, 28] for LeNet-5.
	SampleShape []int
	// Epochs is the number of passes over the data; MaxSteps, when above
	// zero, stops earlier after that many steps.
	Epochs   int
	MaxSteps int
	// EvalBatch is the batch size for evaluation (default 1000).
	EvalBatch int
	// Schedule, when set, gives the learning rate of each step.
	Schedule nn.Schedule
	// TargetAccuracy, when above zero, stops training after the first
	// epoch whose test accuracy reaches it.
	TargetAccuracy float64
}

// EpochStats are the metrics of one epoch.
type EpochStats struct {
	Epoch        int     `json:"epoch"`
	Steps        int     `json:"steps"`
	TrainLoss    float64 `json:"train_loss"`
	TrainAcc     float64 `json:"train_accuracy"`
	TestLoss     float64 `json:"test_loss"`
	TestAcc      float64 `json:"test_accuracy"`
	SamplesPerS  float64 `json:"samples_per_s"`
	TrainSeconds float64 `json:"train_seconds"`
}

// Result summarises a run.
type Result struct {
	Epochs []EpochStats `json:"epochs"`
	Steps  int          `json:"steps"`
	// Samples is the number of training samples processed.
	Samples int `json:"samples"`
	// TrainSeconds counts the time of the training loops (steps and
	// waiting for batches, not evaluation), from which TrainSamplesPerS is
	// computed.
	TrainSeconds     float64 `json:"train_seconds"`
	TrainSamplesPerS float64 `json:"train_samples_per_s"`
	FinalLoss        float64 `json:"final_loss"`
	TestAccuracy     float64 `json:"test_accuracy"`
	TestLoss         float64 `json:"test_loss"`
}

// StepInfo describes a finished training step, for hooks.
type StepInfo struct {
	Epoch, Step, StepInEpoch, StepsPerEpoch int
	Loss                                    float64
	LR                                      float64
	Elapsed                                 time.Duration
}

// Hooks receive events from the loop; nil fields are skipped.
type Hooks struct {
	Step  func(StepInfo)
	Epoch func(EpochStats)
}

// MetricLogger receives metric values over steps; a metadata store's run
// (store.Run) implements it. LogMetric is called on the training loop's
// goroutine after every step, so it must only buffer: the store writes
// its buffer in batches from another goroutine.
type MetricLogger interface {
	LogMetric(name string, step int64, value float64)
}

// NonFiniteLossError reports that a step's loss was NaN or infinite.
// Training stops before that step's update, so the model keeps the weights
// of the last step whose loss was finite.
type NonFiniteLossError struct {
	Step int
	Loss float64
}

func (e *NonFiniteLossError) Error() string {
	return fmt.Sprintf("train: loss is %v at step %d; stopped before applying it, the model keeps the weights of step %d", e.Loss, e.Step, e.Step-1)
}

// Trainer runs the training loop of one model and optimizer.
type Trainer struct {
	Model nn.Module
	Opt   nn.Optimizer
	Cfg   Config
	Hooks Hooks
	// Metrics, when set, is given every step's "loss" and "lr" and every
	// epoch's "train_loss", "train_accuracy", "test_loss",
	// "test_accuracy" and "samples_per_s" (at the epoch's last step).
	Metrics MetricLogger
	// Backward, when set, replaces tape.Backward(loss): data-parallel
	// training uses it to average gradients across ranks.
	Backward func(tp *autograd.Tape, loss *autograd.Value) error

	tape *autograd.Tape
}

// Run trains for the configured epochs and evaluates on test (may be nil)
// after each. On a non-finite loss it returns the result so far and a
// *NonFiniteLossError.
func (t *Trainer) Run(ctx context.Context, batches Batches, test *EvalSet) (*Result, error) {
	if t.tape == nil {
		t.tape = autograd.NewTape()
	}
	if t.Cfg.Epochs < 1 {
		return nil, fmt.Errorf("train: %d epochs, want at least 1", t.Cfg.Epochs)
	}
	res := &Result{}
	step := 0
	start := time.Now()
	for e := 0; e < t.Cfg.Epochs; e++ {
		st, err := t.epoch(ctx, batches, e, &step, start)
		res.Steps = step
		res.Samples += st.samples
		res.TrainSeconds += st.seconds
		stats := EpochStats{Epoch: e + 1, Steps: st.steps, TrainLoss: st.meanLoss(), TrainAcc: st.acc(), TrainSeconds: st.seconds}
		if st.seconds > 0 {
			stats.SamplesPerS = float64(st.samples) / st.seconds
		}
		if st.steps > 0 {
			res.FinalLoss = st.lastLoss
		}
		if err != nil {
			res.Epochs = append(res.Epochs, stats)
			t.finish(res)
			return res, err
		}
		if test != nil {
			stats.TestLoss, stats.TestAcc = t.Evaluate(test)
			res.TestLoss, res.TestAccuracy = stats.TestLoss, stats.TestAcc
		}
		res.Epochs = append(res.Epochs, stats)
		if t.Metrics != nil {
			t.logEpoch(int64(step), stats, test != nil)
		}
		if t.Hooks.Epoch != nil {
			t.Hooks.Epoch(stats)
		}
		if t.Cfg.MaxSteps > 0 && step >= t.Cfg.MaxSteps {
			break
		}
		if t.Cfg.TargetAccuracy > 0 && test != nil && stats.TestAcc >= t.Cfg.TargetAccuracy {
			break
		}
	}
	t.finish(res)
	return res, nil
}

func (t *Trainer) logEpoch(step int64, s EpochStats, tested bool) {
	t.Metrics.LogMetric("train_loss", step, s.TrainLoss)
	t.Metrics.LogMetric("train_accuracy", step, s.TrainAcc)
	t.Metrics.LogMetric("samples_per_s", step, s.SamplesPerS)
	if tested {
		t.Metrics.LogMetric("test_loss", step, s.TestLoss)
		t.Metrics.LogMetric("test_accuracy", step, s.TestAcc)
	}
}

func (t *Trainer) finish(res *Result) {
	if res.TrainSeconds > 0 {
		res.TrainSamplesPerS = float64(res.Samples) / res.TrainSeconds
	}
}

type epochStats struct {
	steps, samples, correct int
	lossSum, lastLoss       float64
	seconds                 float64
}

func (s epochStats) meanLoss() float64 {
	if s.steps == 0 {
		return math.NaN()
	}
	return s.lossSum / float64(s.steps)
}

func (s epochStats) acc() float64 {
	if s.samples == 0 {
		return math.NaN()
	}
	return float64(s.correct) / float64(s.samples)
}

func (t *Trainer) epoch(ctx context.Context, batches Batches, e int, step *int, start time.Time) (st epochStats, err error) {
	t.Model.SetTraining(true)
	next, stop := batches.Epoch(ctx, e)
	defer stop()
	perEpoch := batches.Len()
	// Throughput counts the whole loop, waiting for batches included, so
	// that a slow input pipeline shows in samples per second.
	t0 := time.Now()
	defer func() { st.seconds = time.Since(t0).Seconds() }()
	for {
		if t.Cfg.MaxSteps > 0 && *step >= t.Cfg.MaxSteps {
			return st, nil
		}
		if err := ctx.Err(); err != nil {
			return st, err
		}
		b, ok, err := next()
		if err != nil {
			return st, fmt.Errorf("train: epoch %d: %w", e+1, err)
		}
		if !ok {
			return st, nil
		}
		if t.Cfg.Schedule != nil {
			t.Opt.SetLR(t.Cfg.Schedule.LR(*step))
		}
		loss, correct, err := t.Step(b)
		*step++
		if err != nil {
			var nf *NonFiniteLossError
			if errors.As(err, &nf) {
				nf.Step = *step
			}
			return st, err
		}
		st.steps++
		st.samples += b.N
		st.correct += correct
		st.lossSum += loss
		st.lastLoss = loss
		if t.Metrics != nil {
			t.Metrics.LogMetric("loss", int64(*step), loss)
			t.Metrics.LogMetric("lr", int64(*step), t.Opt.LR())
		}
		if t.Hooks.Step != nil {
			t.Hooks.Step(StepInfo{Epoch: e + 1, Step: *step, StepInEpoch: st.steps, StepsPerEpoch: perEpoch, Loss: loss, LR: t.Opt.LR(), Elapsed: time.Since(start)})
		}
	}
}

// Step runs one forward, backward and optimizer step on b and returns the
// batch's loss and the number of correctly classified samples. When the
// loss is not finite it returns a *NonFiniteLossError (with Step unset) and
// leaves the weights untouched.
func (t *Trainer) Step(b Batch) (loss float64, correct int, err error) {
	if t.tape == nil {
		t.tape = autograd.NewTape()
	}
	tp := t.tape
	tp.Reset()
	x := tp.Const(t.input(b.X, b.N))
	logits := t.Model.Forward(x)
	lv := autograd.CrossEntropy(logits, b.Y[:b.N])
	loss = float64(lv.Data.Data[0])
	if math.IsNaN(loss) || math.IsInf(loss, 0) {
		return loss, 0, &NonFiniteLossError{Loss: loss}
	}
	correct = countCorrect(logits.Data, b.Y[:b.N])
	t.Opt.ZeroGrad()
	backward := tp.Backward
	if t.Backward != nil {
		backward = func(l *autograd.Value) error { return t.Backward(tp, l) }
	}
	if err := backward(lv); err != nil {
		return loss, correct, err
	}
	t.Opt.Step()
	return loss, correct, nil
}

func (t *Trainer) input(x []float32, n int) *tensor.Tensor {
	shape := append([]int{n}, t.Cfg.SampleShape...)
	return &tensor.Tensor{Data: x[:tensor.Numel(shape)], Shape: shape}
}

func countCorrect(logits *tensor.Tensor, y []int32) int {
	c := 0
	for i, p := range tensor.ArgMaxRows(logits) {
		if int32(p) == y[i] {
			c++
		}
	}
	return c
}

// Evaluate returns the mean loss and the accuracy of the model on set, in
// evaluation mode and without recording gradients.
func (t *Trainer) Evaluate(set *EvalSet) (loss, acc float64) {
	bs := t.Cfg.EvalBatch
	if bs <= 0 {
		bs = 1000
	}
	return Evaluate(t.Model, set, t.Cfg.SampleShape, bs)
}

// Evaluate returns the mean cross-entropy and the accuracy of m on set,
// batch by batch, in evaluation mode.
func Evaluate(m nn.Module, set *EvalSet, sampleShape []int, batch int) (loss, acc float64) {
	if set.N == 0 {
		return math.NaN(), math.NaN()
	}
	m.SetTraining(false)
	defer m.SetTraining(true)
	tp := autograd.NewTape()
	tp.SetNoGrad(true)
	feat := tensor.Numel(sampleShape)
	correct := 0
	var lossSum float64
	for i := 0; i < set.N; i += batch {
		n := min(batch, set.N-i)
		tp.Reset()
		shape := append([]int{n}, sampleShape...)
		x := tp.Const(&tensor.Tensor{Data: set.X[i*feat : (i+n)*feat], Shape: shape})
		logits := m.Forward(x)
		lossSum += float64(autograd.CrossEntropy(logits, set.Y[i:i+n]).Data.Data[0]) * float64(n)
		correct += countCorrect(logits.Data, set.Y[i:i+n])
	}
	return lossSum / float64(set.N), float64(correct) / float64(set.N)
}

// Predict returns the class probabilities (N, classes) of m for n samples
// in x.
func Predict(m nn.Module, x []float32, n int, sampleShape []int) *tensor.Tensor {
	m.SetTraining(false)
	defer m.SetTraining(true)
	tp := autograd.NewTape()
	tp.SetNoGrad(true)
	shape := append([]int{n}, sampleShape...)
	probs := autograd.Softmax(m.Forward(tp.Const(&tensor.Tensor{Data: x, Shape: shape})))
	return probs.Data.Clone()
}
