package autograd

import (
	"math"
	"math/rand/v2"

	"github.com/kiln-ml/kiln/tensor"
)

// unary applies an element-wise function f and records a backward that
// multiplies the upstream gradient by df(x, y), the local derivative given
// the input x and output y.
func unary(x *Value, f func(x float32) float32, df func(x, y float32) float32) *Value {
	tp := x.tape
	out := tp.Alloc(x.Data.Shape...)
	for i, v := range x.Data.Data {
		out.Data[i] = f(v)
	}
	r := tp.result(out, x)
	if r.requiresGrad {
		r.backward = func() {
			g, fresh := x.grad()
			xd, yd := x.Data.Data, out.Data
			for i, d := range r.Grad.Data {
				v := d * df(xd[i], yd[i])
				if fresh {
					g.Data[i] = v
				} else {
					g.Data[i] += v
				}
			}
		}
	}
	return r
}

// ReLU returns max(x, 0) element-wise; its gradient at 0 is 0, as PyTorch's.
func ReLU(x *Value) *Value {
	tp := x.tape
	out := tp.Alloc(x.Data.Shape...)
	tensor.ReLU(out.Data, x.Data.Data)
	r := tp.result(out, x)
	if r.requiresGrad {
		r.backward = func() {
			g, fresh := x.grad()
			tensor.ReLUBackward(g.Data, r.Grad.Data, out.Data, !fresh)
		}
	}
	return r
}

// GELU returns x·Φ(x) with the exact (erf) form of Φ, as PyTorch's default
// approximate='none'.
func GELU(x *Value) *Value {
	return unary(x,
		func(v float32) float32 {
			f := float64(v)
			return float32(0.5 * f * (1 + math.Erf(f/math.Sqrt2)))
		},
		func(v, _ float32) float32 {
			f := float64(v)
			cdf := 0.5 * (1 + math.Erf(f/math.Sqrt2))
			pdf := math.Exp(-0.5*f*f) / math.Sqrt(2*math.Pi)
			return float32(cdf + f*pdf)
		})
}

// Tanh returns tanh(x) element-wise.
func Tanh(x *Value) *Value {
	return unary(x,
		func(v float32) float32 { return float32(math.Tanh(float64(v))) },
		func(_, y float32) float32 { return 1 - y*y })
}

// Sigmoid returns 1/(1+e^-x) element-wise.
func Sigmoid(x *Value) *Value {
	return unary(x,
		func(v float32) float32 { return float32(1 / (1 + math.Exp(-float64(v)))) },
		func(_, y float32) float32 { return y * (1 - y) })
}

// Dropout zeroes each element with probability p and scales the survivors
// by 1/(1-p) (inverted dropout), drawing from rng. Callers apply it only in
// training mode; p = 0 returns x unchanged.
func Dropout(x *Value, p float64, rng *rand.Rand) *Value {
	if p <= 0 {
		return x
	}
	tp := x.tape
	mask := tp.Alloc(x.Data.Shape...)
	scale := float32(1 / (1 - p))
	if p >= 1 {
		scale = 0
	}
	out := tp.Alloc(x.Data.Shape...)
	for i, v := range x.Data.Data {
		if rng.Float64() < p {
			mask.Data[i] = 0
		} else {
			mask.Data[i] = scale
		}
		out.Data[i] = v * mask.Data[i]
	}
	r := tp.result(out, x)
	if r.requiresGrad {
		r.backward = func() {
			g, fresh := x.grad()
			for i, d := range r.Grad.Data {
				if fresh {
					g.Data[i] = d * mask.Data[i]
				} else {
					g.Data[i] += d * mask.Data[i]
				}
			}
		}
	}
	return r
}
