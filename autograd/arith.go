package autograd

import (
	"fmt"

	"github.com/kiln-ml/kiln/tensor"
)

// binary is the shared forward of the broadcasting arithmetic ops.
func binary(op tensor.BinaryOp, a, b *Value) *Value {
	tp := mustSameTape(op.String(), a, b)
	shape, err := tensor.BroadcastShape(a.Data.Shape, b.Data.Shape)
	if err != nil {
		panic(fmt.Sprintf("autograd.%v: %v", op, err))
	}
	out := tp.Alloc(shape...)
	tensor.BinaryInto(op, out, a.Data, b.Data)
	return tp.result(out, a, b)
}

// reduceInto adds g (of the broadcast shape) into v's gradient, summing
// over the broadcast dimensions.
func reduceInto(v *Value, g *tensor.Tensor) {
	if tensor.SameShape(v.Data.Shape, g.Shape) {
		v.accumulate(g.Data)
		return
	}
	v.accumulate(tensor.SumTo(g, v.Data.Shape).Data)
}

// Add returns a + b with NumPy broadcasting.
func Add(a, b *Value) *Value {
	out := binary(tensor.OpAdd, a, b)
	if out.requiresGrad {
		out.backward = func() {
			if a.requiresGrad {
				reduceInto(a, out.Grad)
			}
			if b.requiresGrad {
				reduceInto(b, out.Grad)
			}
		}
	}
	return out
}

// Sub returns a - b with broadcasting.
func Sub(a, b *Value) *Value {
	out := binary(tensor.OpSub, a, b)
	if out.requiresGrad {
		out.backward = func() {
			if a.requiresGrad {
				reduceInto(a, out.Grad)
			}
			if b.requiresGrad {
				neg := out.tape.Alloc(out.Grad.Shape...)
				for i, g := range out.Grad.Data {
					neg.Data[i] = -g
				}
				reduceInto(b, neg)
			}
		}
	}
	return out
}

// Mul returns a * b element-wise with broadcasting.
func Mul(a, b *Value) *Value {
	out := binary(tensor.OpMul, a, b)
	if out.requiresGrad {
		out.backward = func() {
			tp := out.tape
			if a.requiresGrad {
				ga := tp.Alloc(out.Grad.Shape...)
				tensor.BinaryInto(tensor.OpMul, ga, out.Grad, b.Data) // dL/da = g·b
				reduceInto(a, ga)
			}
			if b.requiresGrad {
				gb := tp.Alloc(out.Grad.Shape...)
				tensor.BinaryInto(tensor.OpMul, gb, out.Grad, a.Data) // dL/db = g·a
				reduceInto(b, gb)
			}
		}
	}
	return out
}

// Div returns a / b element-wise with broadcasting.
func Div(a, b *Value) *Value {
	out := binary(tensor.OpDiv, a, b)
	if out.requiresGrad {
		out.backward = func() {
			tp := out.tape
			if a.requiresGrad {
				ga := tp.Alloc(out.Grad.Shape...)
				tensor.BinaryInto(tensor.OpDiv, ga, out.Grad, b.Data) // g/b
				reduceInto(a, ga)
			}
			if b.requiresGrad {
				// dL/db = -g·a/b² = -g·out/b
				gb := tp.Alloc(out.Grad.Shape...)
				tensor.BinaryInto(tensor.OpMul, gb, out.Grad, out.Data)
				tensor.BinaryInto(tensor.OpDiv, gb, gb, b.Data)
				for i := range gb.Data {
					gb.Data[i] = -gb.Data[i]
				}
				reduceInto(b, gb)
			}
		}
	}
	return out
}

// Scale returns s·x.
func Scale(x *Value, s float32) *Value {
	tp := x.tape
	out := tp.Alloc(x.Data.Shape...)
	for i, v := range x.Data.Data {
		out.Data[i] = v * s
	}
	r := tp.result(out, x)
	if r.requiresGrad {
		r.backward = func() {
			g, fresh := x.grad()
			for i, d := range r.Grad.Data {
				if fresh {
					g.Data[i] = d * s
				} else {
					g.Data[i] += d * s
				}
			}
		}
	}
	return r
}
