// Package nn builds neural networks from autograd operations: modules
// (layers with parameters), losses, optimizers and learning-rate schedules,
// a small model zoo, and weight files in the safetensors format.
//
// A Module maps an input Value to an output Value on a tape and owns its
// parameters. Parameter names follow PyTorch's state_dict: a Sequential
// names its children by position, so an MLP's first weight is "0.weight",
// and weight files load into PyTorch and back without renaming. Layers are
// initialised as PyTorch initialises them by default, drawing from an
// explicit *rand.Rand so that runs are repeatable.
//
// Optimizers (SGD, Adam, AdamW) follow the update rules of PyTorch 1.13
// step for step; tests check one training step against vectors that PyTorch
// produced.
package nn

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/kiln-ml/kiln/autograd"
	"github.com/kiln-ml/kiln/tensor"
)

// Param is a trainable tensor with its gradient (see autograd.Param).
type Param = autograd.Param

// Module is a layer or a network of layers.
type Module interface {
	// Forward applies the module to x, recording on x's tape.
	Forward(x *autograd.Value) *autograd.Value
	// Parameters returns the module's parameters in a fixed order.
	Parameters() []*Param
	// SetTraining switches between training mode (true: dropout active)
	// and evaluation mode.
	SetTraining(training bool)
}

// stateless is embedded by modules without parameters or modes.
type stateless struct{}

func (stateless) Parameters() []*Param { return nil }
func (stateless) SetTraining(bool)     {}

// uniform fills t with values drawn uniformly from [-bound, bound).
func uniform(rng *rand.Rand, t *tensor.Tensor, bound float64) {
	for i := range t.Data {
		t.Data[i] = float32((rng.Float64()*2 - 1) * bound)
	}
}

// Linear is a fully connected layer y = x·Wᵀ + b with W (out, in).
type Linear struct {
	Weight, Bias *Param
}

// NewLinear returns a Linear layer initialised as PyTorch's: W from
// kaiming_uniform(a=√5), i.e. U(−1/√in, 1/√in), and b from the same range.
// With bias false it has no bias.
func NewLinear(in, out int, bias bool, rng *rand.Rand) *Linear {
	l := &Linear{Weight: autograd.NewParam("weight", tensor.New(out, in))}
	bound := 1 / math.Sqrt(float64(in))
	uniform(rng, l.Weight.Data, bound)
	if bias {
		l.Bias = autograd.NewParam("bias", tensor.New(out))
		uniform(rng, l.Bias.Data, bound)
	}
	return l
}

// Forward implements Module.
func (l *Linear) Forward(x *autograd.Value) *autograd.Value {
	tp := x.Tape()
	var b *autograd.Value
	if l.Bias != nil {
		b = tp.Leaf(l.Bias)
	}
	return autograd.Linear(x, tp.Leaf(l.Weight), b)
}

// Parameters implements Module.
func (l *Linear) Parameters() []*Param { return nonNil(l.Weight, l.Bias) }

// SetTraining implements Module.
func (l *Linear) SetTraining(bool) {}

// Conv2d is a 2-D convolution with a square kernel.
type Conv2d struct {
	Weight, Bias *Param
	Stride, Pad  int
}

// NewConv2d returns a convolution from in to out channels with a k×k
// kernel, initialised as PyTorch's (U(−1/√fan_in, 1/√fan_in), fan_in =
// in·k·k).
func NewConv2d(in, out, k, stride, pad int, bias bool, rng *rand.Rand) *Conv2d {
	c := &Conv2d{Weight: autograd.NewParam("weight", tensor.New(out, in, k, k)), Stride: stride, Pad: pad}
	bound := 1 / math.Sqrt(float64(in*k*k))
	uniform(rng, c.Weight.Data, bound)
	if bias {
		c.Bias = autograd.NewParam("bias", tensor.New(out))
		uniform(rng, c.Bias.Data, bound)
	}
	return c
}

// Forward implements Module.
func (c *Conv2d) Forward(x *autograd.Value) *autograd.Value {
	tp := x.Tape()
	var b *autograd.Value
	if c.Bias != nil {
		b = tp.Leaf(c.Bias)
	}
	return autograd.Conv2D(x, tp.Leaf(c.Weight), b, c.Stride, c.Pad)
}

// Parameters implements Module.
func (c *Conv2d) Parameters() []*Param { return nonNil(c.Weight, c.Bias) }

// SetTraining implements Module.
func (c *Conv2d) SetTraining(bool) {}

// Embedding maps integer ids to rows of a (V, D) table. Its Forward takes
// ids as float32 values (as a data loader delivers them) and checks that
// each is an integer in range.
type Embedding struct {
	Weight *Param
}

// NewEmbedding returns a table of v rows of dimension d drawn from N(0, 1),
// as PyTorch's.
func NewEmbedding(v, d int, rng *rand.Rand) *Embedding {
	e := &Embedding{Weight: autograd.NewParam("weight", tensor.New(v, d))}
	for i := range e.Weight.Data.Data {
		e.Weight.Data.Data[i] = float32(rng.NormFloat64())
	}
	return e
}

// Lookup returns the rows for ids: (len(ids), D).
func (e *Embedding) Lookup(tp *autograd.Tape, ids []int32) *autograd.Value {
	return autograd.Embedding(tp.Leaf(e.Weight), ids)
}

// Forward implements Module: x holds ids of any shape; the output has
// shape x.shape + (D).
func (e *Embedding) Forward(x *autograd.Value) *autograd.Value {
	ids := make([]int32, len(x.Data.Data))
	for i, v := range x.Data.Data {
		ids[i] = int32(v)
		if float32(ids[i]) != v {
			panic(fmt.Sprintf("nn.Embedding: input %d is %v, not an integer id", i, v))
		}
	}
	out := e.Lookup(x.Tape(), ids)
	shape := append(append([]int(nil), x.Data.Shape...), e.Weight.Data.Shape[1])
	return autograd.Reshape(out, shape...)
}

// Parameters implements Module.
func (e *Embedding) Parameters() []*Param { return []*Param{e.Weight} }

// SetTraining implements Module.
func (e *Embedding) SetTraining(bool) {}

// LayerNorm normalises over the last dimension with a learned scale and
// shift (initialised to 1 and 0, as PyTorch's).
type LayerNorm struct {
	Weight, Bias *Param
	Eps          float32
}

// NewLayerNorm returns a LayerNorm over a last dimension of size d with
// eps 1e-5.
func NewLayerNorm(d int) *LayerNorm {
	return &LayerNorm{
		Weight: autograd.NewParam("weight", tensor.Full(1, d)),
		Bias:   autograd.NewParam("bias", tensor.New(d)),
		Eps:    1e-5,
	}
}

// Forward implements Module.
func (l *LayerNorm) Forward(x *autograd.Value) *autograd.Value {
	tp := x.Tape()
	return autograd.LayerNorm(x, tp.Leaf(l.Weight), tp.Leaf(l.Bias), l.Eps)
}

// Parameters implements Module.
func (l *LayerNorm) Parameters() []*Param { return []*Param{l.Weight, l.Bias} }

// SetTraining implements Module.
func (l *LayerNorm) SetTraining(bool) {}

// Dropout zeroes activations with probability P in training mode and is the
// identity in evaluation mode.
type Dropout struct {
	P        float64
	rng      *rand.Rand
	training bool
}

// NewDropout returns a Dropout layer drawing its masks from rng; it starts
// in training mode.
func NewDropout(p float64, rng *rand.Rand) *Dropout {
	return &Dropout{P: p, rng: rng, training: true}
}

// Forward implements Module.
func (d *Dropout) Forward(x *autograd.Value) *autograd.Value {
	if !d.training {
		return x
	}
	return autograd.Dropout(x, d.P, d.rng)
}

// Parameters implements Module.
func (d *Dropout) Parameters() []*Param { return nil }

// SetTraining implements Module.
func (d *Dropout) SetTraining(t bool) { d.training = t }

// Activation applies an element-wise function without parameters.
type Activation struct {
	stateless
	Name string
	fn   func(*autograd.Value) *autograd.Value
}

// ReLU returns a ReLU layer.
func ReLU() *Activation { return &Activation{Name: "relu", fn: autograd.ReLU} }

// GELU returns a GELU layer (exact erf form).
func GELU() *Activation { return &Activation{Name: "gelu", fn: autograd.GELU} }

// Tanh returns a tanh layer.
func Tanh() *Activation { return &Activation{Name: "tanh", fn: autograd.Tanh} }

// Sigmoid returns a sigmoid layer.
func Sigmoid() *Activation { return &Activation{Name: "sigmoid", fn: autograd.Sigmoid} }

// Forward implements Module.
func (a *Activation) Forward(x *autograd.Value) *autograd.Value { return a.fn(x) }

// MaxPool2d takes the maximum over K×K windows moved by Stride.
type MaxPool2d struct {
	stateless
	K, Stride int
}

// Forward implements Module.
func (m *MaxPool2d) Forward(x *autograd.Value) *autograd.Value {
	return autograd.MaxPool2D(x, m.K, m.Stride)
}

// AvgPool2d averages over K×K windows moved by Stride.
type AvgPool2d struct {
	stateless
	K, Stride int
}

// Forward implements Module.
func (m *AvgPool2d) Forward(x *autograd.Value) *autograd.Value {
	return autograd.AvgPool2D(x, m.K, m.Stride)
}

// Flatten reshapes (B, ...) to (B, product of the rest).
type Flatten struct{ stateless }

// Forward implements Module.
func (Flatten) Forward(x *autograd.Value) *autograd.Value {
	return autograd.Reshape(x, x.Data.Shape[0], -1)
}

// Sequential applies its layers in order.
type Sequential struct {
	Layers []Module
}

// NewSequential returns the layers in sequence and renames their
// parameters "INDEX.NAME", as PyTorch's nn.Sequential state_dict does.
func NewSequential(layers ...Module) *Sequential {
	for i, l := range layers {
		for _, p := range l.Parameters() {
			p.Name = fmt.Sprintf("%d.%s", i, p.Name)
		}
	}
	return &Sequential{Layers: layers}
}

// Forward implements Module.
func (s *Sequential) Forward(x *autograd.Value) *autograd.Value {
	for _, l := range s.Layers {
		x = l.Forward(x)
	}
	return x
}

// Parameters implements Module.
func (s *Sequential) Parameters() []*Param {
	var ps []*Param
	for _, l := range s.Layers {
		ps = append(ps, l.Parameters()...)
	}
	return ps
}

// SetTraining implements Module.
func (s *Sequential) SetTraining(t bool) {
	for _, l := range s.Layers {
		l.SetTraining(t)
	}
}

func nonNil(ps ...*Param) []*Param {
	out := ps[:0:0]
	for _, p := range ps {
		if p != nil {
			out = append(out, p)
		}
	}
	return out
}
