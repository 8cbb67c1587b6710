package autograd

import "github.com/kiln-ml/kiln/tensor"

// Reshape returns x with a new shape (one dimension may be -1). The data is
// shared; the gradient flows back unchanged.
func Reshape(x *Value, shape ...int) *Value {
	tp := x.tape
	r := tp.result(x.Data.Reshape(shape...), x)
	if r.requiresGrad {
		r.backward = func() { x.accumulate(r.Grad.Data) }
	}
	return r
}

// Transpose permutes x's dimensions (reverses them when perm is empty).
func Transpose(x *Value, perm ...int) *Value {
	tp := x.tape
	nd := len(x.Data.Shape)
	if len(perm) == 0 {
		perm = make([]int, nd)
		for i := range perm {
			perm[i] = nd - 1 - i
		}
	}
	r := tp.result(tensor.Transpose(x.Data, perm...), x)
	if r.requiresGrad {
		r.backward = func() {
			inv := make([]int, nd)
			for i, p := range perm {
				inv[p] = i
			}
			x.accumulate(tensor.Transpose(r.Grad, inv...).Data)
		}
	}
	return r
}

// Concat joins values along axis.
func Concat(axis int, xs ...*Value) *Value {
	tp := mustSameTape("Concat", xs...)
	ts := make([]*tensor.Tensor, len(xs))
	for i, x := range xs {
		ts[i] = x.Data
	}
	r := tp.result(tensor.Concat(axis, ts...), xs...)
	if r.requiresGrad {
		r.backward = func() {
			start := 0
			for _, x := range xs {
				ax := axis
				if ax < 0 {
					ax += len(x.Data.Shape)
				}
				n := x.Data.Shape[ax]
				if x.requiresGrad {
					x.accumulate(tensor.Slice(r.Grad, ax, start, start+n).Data)
				}
				start += n
			}
		}
	}
	return r
}

// Slice returns x restricted to [start, end) along axis.
func Slice(x *Value, axis, start, end int) *Value {
	tp := x.tape
	r := tp.result(tensor.Slice(x.Data, axis, start, end), x)
	if r.requiresGrad {
		r.backward = func() {
			// Scatter the gradient into a zero tensor of x's shape.
			ax := axis
			if ax < 0 {
				ax += len(x.Data.Shape)
			}
			full := tp.Zeros(x.Data.Shape...)
			outer, inner := 1, 1
			for i := 0; i < ax; i++ {
				outer *= x.Data.Shape[i]
			}
			for i := ax + 1; i < len(x.Data.Shape); i++ {
				inner *= x.Data.Shape[i]
			}
			n := x.Data.Shape[ax]
			w := (end - start) * inner
			for o := 0; o < outer; o++ {
				copy(full.Data[(o*n+start)*inner:], r.Grad.Data[o*w:(o+1)*w])
			}
			x.accumulate(full.Data)
		}
	}
	return r
}
