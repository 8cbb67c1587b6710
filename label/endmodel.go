package label

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/kiln-ml/kiln/autograd"
	"github.com/kiln-ml/kiln/nn"
	"github.com/kiln-ml/kiln/tensor"
)

// SoftClassifier is an end model: a classifier trained on the
// probabilistic labels of a label model rather than on hard labels.
type SoftClassifier interface {
	// Fit trains on the rows of X with target distributions P (one row of
	// P per row of X).
	Fit(X *Sparse, P *Probs) error
	// PredictProba returns a class distribution per row of X.
	PredictProba(X *Sparse) (*Probs, error)
}

// NNClassifier is a SoftClassifier built from Kiln's nn and autograd
// packages: logistic regression (no hidden layer) or an MLP with ReLU
// hidden layers, trained with AdamW on the soft-label cross-entropy
// −Σ_y P(y) log softmax(f(x))_y (autograd.SoftCrossEntropy).
//
// Bag-of-words inputs are wide and sparse, so the first layer is applied
// sparsely: its weight is a (features, width) table whose rows are
// gathered for a row's features (autograd.Embedding), scaled by the
// feature values and summed, which costs the row's non-zeros instead of
// its width. SparseNet.Forward computes the same layer densely; the tests
// compare the two.
type NNClassifier struct {
	// Hidden holds the hidden layer sizes; empty is logistic regression.
	Hidden []int
	// Epochs (default 30), Batch (default 32), LR (default 0.01) and
	// WeightDecay (AdamW's decoupled decay, default 0) set the training.
	Epochs      int
	Batch       int
	LR          float64
	WeightDecay float64
	// Seed seeds the initialisation and the batch order.
	Seed uint64

	// Net is set by Fit (or by loading a saved model).
	Net *SparseNet
	// Losses holds the mean training loss of each epoch of the last Fit.
	Losses []float64
}

// SparseNet is the network of an NNClassifier: a first linear layer over
// sparse inputs, then ReLU and linear layers.
type SparseNet struct {
	In, Classes int
	Hidden      []int
	// W (In, width) and B (width) form the first layer; Rest the layers
	// after it (nil for logistic regression).
	W, B *autograd.Param
	Rest *nn.Sequential
}

// NewSparseNet builds a network initialised as PyTorch initialises linear
// layers (uniform in ±1/√fan_in).
func NewSparseNet(in int, hidden []int, classes int, rng *rand.Rand) (*SparseNet, error) {
	if in < 1 || classes < 1 {
		return nil, fmt.Errorf("end model: %d inputs and %d classes, want at least 1 each", in, classes)
	}
	width := classes
	if len(hidden) > 0 {
		width = hidden[0]
	}
	for _, h := range hidden {
		if h < 1 {
			return nil, fmt.Errorf("end model: hidden size %d, want at least 1", h)
		}
	}
	bound := 1 / math.Sqrt(float64(in))
	w := tensor.New(in, width)
	b := tensor.New(width)
	for _, t := range []*tensor.Tensor{w, b} {
		for i := range t.Data {
			t.Data[i] = float32((2*rng.Float64() - 1) * bound)
		}
	}
	net := &SparseNet{In: in, Classes: classes, Hidden: hidden,
		W: autograd.NewParam("input.weight", w), B: autograd.NewParam("input.bias", b)}
	if len(hidden) > 0 {
		var layers []nn.Module
		prev := hidden[0]
		for _, h := range append(append([]int(nil), hidden[1:]...), classes) {
			layers = append(layers, nn.ReLU(), nn.NewLinear(prev, h, true, rng))
			prev = h
		}
		net.Rest = nn.NewSequential(layers...)
	}
	return net, nil
}

// Parameters returns the first layer's weight and bias, then the rest's.
func (n *SparseNet) Parameters() []*nn.Param {
	ps := []*nn.Param{n.W, n.B}
	if n.Rest != nil {
		ps = append(ps, n.Rest.Parameters()...)
	}
	return ps
}

// SetTraining is a no-op: the network has no dropout.
func (n *SparseNet) SetTraining(bool) {}

// Forward applies the network to dense inputs x (B, In): the reference
// for ForwardSparse.
func (n *SparseNet) Forward(x *autograd.Value) *autograd.Value {
	tp := x.Tape()
	h := autograd.Add(autograd.MatMul(x, tp.Leaf(n.W)), tp.Leaf(n.B))
	if n.Rest != nil {
		h = n.Rest.Forward(h)
	}
	return h
}

// ForwardSparse applies the network to rows of X on tape tp.
func (n *SparseNet) ForwardSparse(tp *autograd.Tape, X *Sparse, rows []int) *autograd.Value {
	b := len(rows)
	nnz := 1
	for _, i := range rows {
		nnz = max(nnz, X.RowPtr[i+1]-X.RowPtr[i])
	}
	ids := make([]int32, b*nnz) // padding: feature 0 with value 0
	vals := tp.Zeros(b, nnz, 1)
	for r, i := range rows {
		a := X.RowPtr[i]
		copy(ids[r*nnz:], X.Idx[a:X.RowPtr[i+1]])
		copy(vals.Data[r*nnz:], X.Val[a:X.RowPtr[i+1]])
	}
	width := n.W.Data.Shape[1]
	g := autograd.Embedding(tp.Leaf(n.W), ids)                           // (B·nnz, width)
	g = autograd.Mul(autograd.Reshape(g, b, nnz, width), tp.Const(vals)) // (B, nnz, width)
	h := autograd.Add(autograd.SumAxis(g, 1, false), tp.Leaf(n.B))       // (B, width)
	if n.Rest != nil {
		h = n.Rest.Forward(h)
	}
	return h
}

// Fit trains the network from scratch.
func (c *NNClassifier) Fit(X *Sparse, P *Probs) error {
	n := X.N()
	if n == 0 {
		return errors.New("end model: no training rows")
	}
	if P.N() != n {
		return fmt.Errorf("end model: %d label rows for %d feature rows", P.N(), n)
	}
	for i, x := range P.P {
		if math.IsNaN(x) || x < 0 || x > 1 {
			return fmt.Errorf("end model: label probability %g at row %d is not in [0, 1]", x, i/P.K)
		}
	}
	epochs, batch, lr := c.Epochs, c.Batch, c.LR
	if epochs <= 0 {
		epochs = 30
	}
	if batch <= 0 {
		batch = 32
	}
	if lr <= 0 {
		lr = 0.01
	}
	rng := rand.New(rand.NewPCG(c.Seed, 0xe4d))
	net, err := NewSparseNet(X.Dim, c.Hidden, P.K, rng)
	if err != nil {
		return err
	}
	opt, err := nn.NewAdamW(net.Parameters(), nn.AdamConfig{LR: lr, WeightDecay: c.WeightDecay})
	if err != nil {
		return fmt.Errorf("end model: %w", err)
	}
	order := make([]int, n)
	for i := range order {
		order[i] = i
	}
	tp := autograd.NewTape()
	c.Losses = c.Losses[:0]
	for ep := 0; ep < epochs; ep++ {
		rng.Shuffle(n, func(a, b int) { order[a], order[b] = order[b], order[a] })
		sum := 0.0
		for s := 0; s < n; s += batch {
			rows := order[s:min(s+batch, n)]
			b := len(rows)
			tp.Reset()
			target := tp.Zeros(b, P.K)
			for r, i := range rows {
				for y := 0; y < P.K; y++ {
					target.Data[r*P.K+y] = float32(P.P[i*P.K+y])
				}
			}
			loss := autograd.SoftCrossEntropy(net.ForwardSparse(tp, X, rows), target)
			l := float64(loss.Data.Data[0])
			if math.IsNaN(l) || math.IsInf(l, 0) {
				return fmt.Errorf("end model: loss is %g at epoch %d", l, ep)
			}
			sum += l * float64(b)
			opt.ZeroGrad()
			if err := tp.Backward(loss); err != nil {
				return fmt.Errorf("end model: %w", err)
			}
			opt.Step()
		}
		c.Losses = append(c.Losses, sum/float64(n))
	}
	c.Net = net
	return nil
}

// PredictProba returns the softmax of the network's outputs.
func (c *NNClassifier) PredictProba(X *Sparse) (*Probs, error) {
	if c.Net == nil {
		return nil, errors.New("end model: not trained")
	}
	if X.Dim != c.Net.In {
		return nil, fmt.Errorf("end model: %d features, the model takes %d", X.Dim, c.Net.In)
	}
	tp := autograd.NewTape()
	tp.SetNoGrad(true)
	const batch = 256
	n := X.N()
	k := c.Net.Classes
	out := NewProbs(n, k)
	rows := make([]int, 0, batch)
	for s := 0; s < n; s += batch {
		rows = rows[:0]
		for i := s; i < min(s+batch, n); i++ {
			rows = append(rows, i)
		}
		tp.Reset()
		probs := autograd.Softmax(c.Net.ForwardSparse(tp, X, rows))
		for i, v := range probs.Data.Data {
			out.P[s*k+i] = float64(v)
		}
	}
	return out, nil
}

// Ensemble is a SoftClassifier that averages the distributions of its
// members (for example one network per seed), which lowers the variance
// that a small training set leaves in any one of them.
type Ensemble struct {
	Members []SoftClassifier
}

// Fit fits every member on the same data.
func (e *Ensemble) Fit(X *Sparse, P *Probs) error {
	if len(e.Members) == 0 {
		return errors.New("end model: empty ensemble")
	}
	for i, m := range e.Members {
		if err := m.Fit(X, P); err != nil {
			return fmt.Errorf("ensemble member %d: %w", i, err)
		}
	}
	return nil
}

// PredictProba returns the mean of the members' distributions.
func (e *Ensemble) PredictProba(X *Sparse) (*Probs, error) {
	var out *Probs
	for i, m := range e.Members {
		p, err := m.PredictProba(X)
		if err != nil {
			return nil, fmt.Errorf("ensemble member %d: %w", i, err)
		}
		if out == nil {
			out = NewProbs(p.N(), p.K)
		}
		for j, x := range p.P {
			out.P[j] += x / float64(len(e.Members))
		}
	}
	return out, nil
}
