package autograd

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"github.com/kiln-ml/kiln/tensor"
)

// The gradient checks compare every op's backward against central finite
// differences. The ops compute in float32, so the difference quotient uses
// the fourth-order five-point stencil with h = 1e-2 and every loss is the
// float64 sum Σ wᵢ·outᵢ with fixed random weights w; the quotient and the
// comparison are computed in float64.

func randTensor(rng *rand.Rand, lo, hi float64, shape ...int) *tensor.Tensor {
	t := tensor.New(shape...)
	for i := range t.Data {
		t.Data[i] = float32(lo + (hi-lo)*rng.Float64())
	}
	return t
}

// awayFromZero returns a random tensor whose values are at least 0.1 from
// zero, so that a ±2h step never crosses a kink of ReLU.
func awayFromZero(rng *rand.Rand, shape ...int) *tensor.Tensor {
	t := tensor.New(shape...)
	for i := range t.Data {
		v := 0.1 + rng.Float64()
		if rng.IntN(2) == 0 {
			v = -v
		}
		t.Data[i] = float32(v)
	}
	return t
}

// distinct returns a tensor holding a random permutation of values spaced
// 0.1 apart, so that max-pooling has no near ties.
func distinct(rng *rand.Rand, shape ...int) *tensor.Tensor {
	t := tensor.New(shape...)
	for i, p := range rng.Perm(len(t.Data)) {
		t.Data[i] = float32(p)*0.1 - float32(len(t.Data))*0.05
	}
	return t
}

type opFunc func(tp *Tape, xs []*Value) *Value

func weightedLoss(out *tensor.Tensor, w []float64) float64 {
	var s float64
	for i, v := range out.Data {
		s += float64(v) * w[i]
	}
	return s
}

// checkGrad checks the analytic gradient of Σ w·f(xs) with respect to every
// input against finite differences.
func checkGrad(t *testing.T, name string, xs []*tensor.Tensor, f opFunc) {
	t.Helper()
	rng := rand.New(rand.NewPCG(7, 11))
	// Analytic.
	tp := NewTape()
	vals := make([]*Value, len(xs))
	for i, x := range xs {
		vals[i] = tp.Var(x)
	}
	out := f(tp, vals)
	w := make([]float64, len(out.Data.Data))
	wt := tensor.New(out.Data.Shape...)
	for i := range w {
		w[i] = rng.Float64()*2 - 1
		wt.Data[i] = float32(w[i])
	}
	loss := Sum(Mul(out, tp.Const(wt)))
	if err := tp.Backward(loss); err != nil {
		t.Fatalf("%s: backward: %v", name, err)
	}
	// Numeric.
	eval := func() float64 {
		ntp := NewTape()
		ntp.SetNoGrad(true)
		nv := make([]*Value, len(xs))
		for i, x := range xs {
			nv[i] = ntp.Const(x)
		}
		return weightedLoss(f(ntp, nv).Data, w)
	}
	const h = 1e-2
	for i, x := range xs {
		g := vals[i].Grad
		if g == nil {
			t.Fatalf("%s: input %d received no gradient", name, i)
		}
		for j := range x.Data {
			orig := x.Data[j]
			at := func(d float64) float64 {
				x.Data[j] = float32(float64(orig) + d)
				return eval()
			}
			num := (-at(2*h) + 8*at(h) - 8*at(-h) + at(-2*h)) / (12 * h)
			x.Data[j] = orig
			ana := float64(g.Data[j])
			if diff := math.Abs(ana - num); diff > 2e-3+1e-2*math.Abs(num) {
				t.Fatalf("%s: input %d element %d: analytic %.6g, numeric %.6g", name, i, j, ana, num)
			}
		}
	}
}

func TestGradients(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	r := func(shape ...int) *tensor.Tensor { return randTensor(rng, -1, 1, shape...) }
	pos := func(shape ...int) *tensor.Tensor { return randTensor(rng, 0.5, 2, shape...) }
	cases := []struct {
		name string
		xs   []*tensor.Tensor
		f    opFunc
	}{
		{"matmul", []*tensor.Tensor{r(3, 4), r(4, 5)}, func(_ *Tape, v []*Value) *Value { return MatMul(v[0], v[1]) }},
		{"linear", []*tensor.Tensor{r(3, 4), r(5, 4), r(5)}, func(_ *Tape, v []*Value) *Value { return Linear(v[0], v[1], v[2]) }},
		{"linear-nobias", []*tensor.Tensor{r(2, 3), r(4, 3)}, func(_ *Tape, v []*Value) *Value { return Linear(v[0], v[1], nil) }},
		{"add-same", []*tensor.Tensor{r(3, 4), r(3, 4)}, func(_ *Tape, v []*Value) *Value { return Add(v[0], v[1]) }},
		{"add-row", []*tensor.Tensor{r(3, 4), r(4)}, func(_ *Tape, v []*Value) *Value { return Add(v[0], v[1]) }},
		{"add-col", []*tensor.Tensor{r(3, 1), r(2, 3, 4)}, func(_ *Tape, v []*Value) *Value { return Add(v[0], v[1]) }},
		{"sub-bcast", []*tensor.Tensor{r(2, 1, 4), r(3, 1)}, func(_ *Tape, v []*Value) *Value { return Sub(v[0], v[1]) }},
		{"mul-bcast", []*tensor.Tensor{r(2, 3, 4), r(1, 3, 1)}, func(_ *Tape, v []*Value) *Value { return Mul(v[0], v[1]) }},
		{"mul-scalar", []*tensor.Tensor{r(3, 4), r()}, func(_ *Tape, v []*Value) *Value { return Mul(v[0], v[1]) }},
		{"div-bcast", []*tensor.Tensor{r(3, 4), pos(4)}, func(_ *Tape, v []*Value) *Value { return Div(v[0], v[1]) }},
		{"scale", []*tensor.Tensor{r(5)}, func(_ *Tape, v []*Value) *Value { return Scale(v[0], -2.5) }},
		{"relu", []*tensor.Tensor{awayFromZero(rng, 4, 5)}, func(_ *Tape, v []*Value) *Value { return ReLU(v[0]) }},
		{"gelu", []*tensor.Tensor{randTensor(rng, -3, 3, 20)}, func(_ *Tape, v []*Value) *Value { return GELU(v[0]) }},
		{"tanh", []*tensor.Tensor{r(4, 5)}, func(_ *Tape, v []*Value) *Value { return Tanh(v[0]) }},
		{"sigmoid", []*tensor.Tensor{randTensor(rng, -3, 3, 4, 5)}, func(_ *Tape, v []*Value) *Value { return Sigmoid(v[0]) }},
		{"softmax", []*tensor.Tensor{r(3, 5)}, func(_ *Tape, v []*Value) *Value { return Softmax(v[0]) }},
		{"logsoftmax", []*tensor.Tensor{r(2, 3, 4)}, func(_ *Tape, v []*Value) *Value { return LogSoftmax(v[0]) }},
		{"cross-entropy", []*tensor.Tensor{r(4, 5)}, func(_ *Tape, v []*Value) *Value { return CrossEntropy(v[0], []int32{0, 4, 2, 2}) }},
		{"soft-cross-entropy", []*tensor.Tensor{r(3, 4)}, func(_ *Tape, v []*Value) *Value {
			p := tensor.FromSlice([]float32{.1, .2, .3, .4, 1, 0, 0, 0, .25, .25, .25, .25}, 3, 4)
			return SoftCrossEntropy(v[0], p)
		}},
		{"sum", []*tensor.Tensor{r(3, 4)}, func(_ *Tape, v []*Value) *Value { return Sum(v[0]) }},
		{"mean", []*tensor.Tensor{r(3, 4)}, func(_ *Tape, v []*Value) *Value { return Mean(v[0]) }},
		{"sum-axis0", []*tensor.Tensor{r(3, 4, 2)}, func(_ *Tape, v []*Value) *Value { return SumAxis(v[0], 0, false) }},
		{"mean-axis-last-keep", []*tensor.Tensor{r(3, 4)}, func(_ *Tape, v []*Value) *Value { return MeanAxis(v[0], -1, true) }},
		{"reshape", []*tensor.Tensor{r(3, 4)}, func(_ *Tape, v []*Value) *Value { return Tanh(Reshape(v[0], 2, -1)) }},
		{"transpose2d", []*tensor.Tensor{r(3, 4)}, func(_ *Tape, v []*Value) *Value { return Transpose(v[0]) }},
		{"permute3d", []*tensor.Tensor{r(2, 3, 4)}, func(_ *Tape, v []*Value) *Value { return Transpose(v[0], 1, 2, 0) }},
		{"concat", []*tensor.Tensor{r(2, 3), r(2, 2)}, func(_ *Tape, v []*Value) *Value { return Concat(1, v[0], v[1]) }},
		{"slice", []*tensor.Tensor{r(3, 5)}, func(_ *Tape, v []*Value) *Value { return Slice(v[0], 1, 1, 4) }},
		{"conv2d-pad", []*tensor.Tensor{r(2, 2, 5, 5), r(3, 2, 3, 3), r(3)}, func(_ *Tape, v []*Value) *Value { return Conv2D(v[0], v[1], v[2], 1, 1) }},
		{"conv2d-stride", []*tensor.Tensor{r(1, 3, 6, 7), r(2, 3, 3, 3)}, func(_ *Tape, v []*Value) *Value { return Conv2D(v[0], v[1], nil, 2, 1) }},
		{"maxpool", []*tensor.Tensor{distinct(rng, 2, 2, 4, 6)}, func(_ *Tape, v []*Value) *Value { return MaxPool2D(v[0], 2, 0) }},
		{"maxpool-overlap", []*tensor.Tensor{distinct(rng, 1, 2, 5, 5)}, func(_ *Tape, v []*Value) *Value { return MaxPool2D(v[0], 3, 1) }},
		{"avgpool", []*tensor.Tensor{r(2, 2, 4, 4)}, func(_ *Tape, v []*Value) *Value { return AvgPool2D(v[0], 2, 0) }},
		{"avgpool-overlap", []*tensor.Tensor{r(1, 1, 5, 5)}, func(_ *Tape, v []*Value) *Value { return AvgPool2D(v[0], 3, 2) }},
		{"embedding", []*tensor.Tensor{r(5, 3)}, func(_ *Tape, v []*Value) *Value { return Embedding(v[0], []int32{4, 0, 4, 2}) }},
		{"layernorm", []*tensor.Tensor{r(3, 6), r(6), r(6)}, func(_ *Tape, v []*Value) *Value { return LayerNorm(v[0], v[1], v[2], 1e-5) }},
		{"dropout", []*tensor.Tensor{r(4, 6)}, func(_ *Tape, v []*Value) *Value {
			return Dropout(v[0], 0.4, rand.New(rand.NewPCG(3, 3)))
		}},
		{"reuse", []*tensor.Tensor{r(3, 3)}, func(_ *Tape, v []*Value) *Value { return Mul(Tanh(v[0]), v[0]) }},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { checkGrad(t, c.name, c.xs, c.f) })
	}
}

func TestParamGradientAccumulates(t *testing.T) {
	p := NewParam("w", tensor.FromSlice([]float32{1, 2, 3}, 3))
	for step := 0; step < 2; step++ {
		tp := NewTape()
		loss := Sum(Scale(tp.Leaf(p), 2))
		if err := tp.Backward(loss); err != nil {
			t.Fatal(err)
		}
	}
	for i, g := range p.Grad.Data {
		if g != 4 {
			t.Fatalf("grad[%d] = %v after two backward passes, want 4 (accumulated)", i, g)
		}
	}
	p.ZeroGrad()
	tp := NewTape()
	if err := tp.Backward(Sum(tp.Leaf(p))); err != nil {
		t.Fatal(err)
	}
	if p.Grad.Data[0] != 1 {
		t.Fatalf("grad after ZeroGrad = %v, want 1 (overwritten)", p.Grad.Data[0])
	}
}

func TestBackwardErrors(t *testing.T) {
	tp := NewTape()
	x := tp.Var(tensor.New(2))
	if err := tp.Backward(Scale(x, 1)); err == nil {
		t.Fatal("backward from a non-scalar loss succeeded")
	}
	c := tp.Const(tensor.New(1))
	if err := tp.Backward(Sum(c)); err == nil {
		t.Fatal("backward from a constant loss succeeded")
	}
}

func TestNoGradRecordsNothing(t *testing.T) {
	tp := NewTape()
	tp.SetNoGrad(true)
	p := NewParam("w", tensor.Full(1, 2, 2))
	y := ReLU(MatMul(tp.Leaf(p), tp.Var(tensor.Full(1, 2, 2))))
	if y.RequiresGrad() || len(tp.nodes) != 0 {
		t.Fatalf("no-grad tape recorded %d nodes", len(tp.nodes))
	}
}

func TestTapeReusesBuffers(t *testing.T) {
	tp := NewTape()
	x := tensor.Full(1, 64, 64)
	step := func() {
		tp.Reset()
		v := tp.Var(x)
		if err := tp.Backward(Sum(ReLU(Scale(v, 2)))); err != nil {
			t.Fatal(err)
		}
	}
	step()
	allocs := testing.AllocsPerRun(10, step)
	// Only small headers (Values, closures, shapes) remain; no 16 KB buffers.
	if allocs > 40 {
		t.Fatalf("%v allocations per step, want a pooled steady state", allocs)
	}
}

// TestOnParamReady checks that each parameter is reported once, after its
// gradient is final, in reverse order of use.
func TestOnParamReady(t *testing.T) {
	w1 := NewParam("w1", tensor.Full(0.5, 3, 4))
	w2 := NewParam("w2", tensor.Full(0.25, 2, 3))
	unused := NewParam("u", tensor.Full(1, 2))
	tp := NewTape()
	x := tp.Const(tensor.Full(1, 5, 4))
	h := Linear(x, tp.Leaf(w1), nil)
	h2 := Linear(h, tp.Leaf(w2), nil)
	// w2 is used twice; it is ready only after both uses.
	y := Add(h2, Linear(h, tp.Leaf(w2), nil))
	_ = Scale(tp.Leaf(unused), 2) // never reaches the loss
	var order []string
	tp.OnParamReady(func(p *Param) {
		order = append(order, p.Name)
		if p.Name == "w2" && p.Grad.Data[0] != 2*5*0.5*4 {
			t.Errorf("w2 reported before both uses: grad %v", p.Grad.Data[0])
		}
	})
	if err := tp.Backward(Sum(y)); err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(order); got != "[u w2 w1]" {
		t.Fatalf("ready order %s, want [u w2 w1] (u is final as soon as backward passes its unused op)", got)
	}
}
