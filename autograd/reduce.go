package autograd

import "github.com/kiln-ml/kiln/tensor"

// Sum returns the sum of every element of x as a scalar.
func Sum(x *Value) *Value {
	return sumScaled(x, 1)
}

// Mean returns the mean of every element of x as a scalar.
func Mean(x *Value) *Value {
	n := len(x.Data.Data)
	if n == 0 {
		return sumScaled(x, 0)
	}
	return sumScaled(x, 1/float32(n))
}

func sumScaled(x *Value, s float32) *Value {
	tp := x.tape
	out := tp.Alloc()
	var acc float64
	for _, v := range x.Data.Data {
		acc += float64(v)
	}
	out.Data[0] = float32(acc) * s
	r := tp.result(out, x)
	if r.requiresGrad {
		r.backward = func() {
			g, fresh := x.grad()
			d := r.Grad.Data[0] * s
			for i := range g.Data {
				if fresh {
					g.Data[i] = d
				} else {
					g.Data[i] += d
				}
			}
		}
	}
	return r
}

// SumAxis returns the sum of x along axis (negative counts from the end);
// with keepDim the axis stays as size 1.
func SumAxis(x *Value, axis int, keepDim bool) *Value {
	return reduceAxis(x, axis, keepDim, false)
}

// MeanAxis returns the mean of x along axis.
func MeanAxis(x *Value, axis int, keepDim bool) *Value {
	return reduceAxis(x, axis, keepDim, true)
}

func reduceAxis(x *Value, axis int, keepDim, mean bool) *Value {
	tp := x.tape
	var res *tensor.Tensor
	if mean {
		res = tensor.Mean(x.Data, axis, keepDim)
	} else {
		res = tensor.Sum(x.Data, axis, keepDim)
	}
	r := tp.result(res, x)
	if r.requiresGrad {
		r.backward = func() {
			// Broadcast the gradient back along the reduced axis.
			ks := append([]int(nil), x.Data.Shape...)
			ax := axis
			if ax < 0 {
				ax += len(ks)
			}
			n := ks[ax]
			ks[ax] = 1
			gk := r.Grad.Reshape(ks...)
			ex := tp.Alloc(x.Data.Shape...)
			tensor.BinaryInto(tensor.OpAdd, ex, tensor.New(x.Data.Shape...), gk)
			if mean && n > 0 {
				inv := 1 / float32(n)
				for i := range ex.Data {
					ex.Data[i] *= inv
				}
			}
			x.accumulate(ex.Data)
		}
	}
	return r
}
