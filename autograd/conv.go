package autograd

import (
	"fmt"

	"github.com/kiln-ml/kiln/tensor"
	"github.com/kiln-ml/kiln/tensor/blas"
)

// Conv2D returns the 2-D cross-correlation of x (B, C, H, W) with weights w
// (O, C, K, K) and optional bias (O), with the given stride and zero
// padding: out is (B, O, OH, OW), as PyTorch's Conv2d.
//
// It is computed as im2col + one GEMM over the whole batch: cols (C·K·K,
// B·OH·OW) holds the input under every kernel tap, and out' = w × cols is
// (O, B·OH·OW), which is then permuted to (B, O, OH·OW).
func Conv2D(x, w, bias *Value, stride, pad int) *Value {
	tp := mustSameTape("Conv2D", x, w)
	xs, ws := x.Data.Shape, w.Data.Shape
	if len(xs) != 4 || len(ws) != 4 || ws[1] != xs[1] || ws[2] != ws[3] {
		panic(fmt.Sprintf("autograd.Conv2D: input %v with weight %v (want input (B, %d, H, W) and a square kernel)", xs, ws, safeDim(ws, 1)))
	}
	g := tensor.ConvGeom{B: xs[0], C: xs[1], H: xs[2], W: xs[3], K: ws[2], S: stride, P: pad}
	if err := g.Check(); err != nil {
		panic(fmt.Sprintf("autograd.Conv2D: %v", err))
	}
	if tensor.DirectConv && stride == 1 && !x.requiresGrad {
		return conv2DDirect(tp, x, w, bias, g)
	}
	o, q := ws[0], ws[1]*ws[2]*ws[3]
	oh, ow := g.OutH(), g.OutW()
	p := oh * ow
	np := g.B * p
	cols := tp.buf(q * np)
	tensor.Im2Col(cols, x.Data.Data, g)
	tmp := tp.buf(o * np) // (O, B·P)
	tensor.Backend().Sgemm(blas.NoTrans, blas.NoTrans, o, np, q, 1, w.Data.Data, q, cols, np, 0, tmp, np)
	out := tp.Alloc(g.B, o, oh, ow)
	inputs := []*Value{x, w}
	if bias != nil {
		if len(bias.Data.Shape) != 1 || bias.Data.Shape[0] != o {
			panic(fmt.Sprintf("autograd.Conv2D: bias %v for %d output channels", bias.Data.Shape, o))
		}
		inputs = append(inputs, bias)
	}
	var bd []float32
	if bias != nil {
		bd = bias.Data.Data
	}
	tensor.ConvFromGEMM(out.Data, tmp, bd, g.B, o, p)
	r := tp.result(out, inputs...)
	if r.requiresGrad {
		r.backward = func() {
			dtmp := tp.buf(o * np) // dout permuted to (O, B·P)
			var db []float32
			accumulate := false
			if bias != nil && bias.requiresGrad {
				gb, fresh := bias.grad()
				db, accumulate = gb.Data, !fresh
			}
			tensor.ConvToGEMM(dtmp, r.Grad.Data, db, g.B, o, p, accumulate)
			if w.requiresGrad { // dw = dout' × colsᵀ
				gw, fresh := w.grad()
				if q > o {
					// OpenBLAS is faster with the long side first: compute
					// dwᵀ = cols × dout'ᵀ (Q, O) and transpose it back.
					dwt := tp.buf(q * o)
					tensor.Backend().Sgemm(blas.NoTrans, blas.Trans, q, o, np, 1, cols, np, dtmp, np, 0, dwt, o)
					for i := 0; i < o; i++ {
						row := gw.Data[i*q : (i+1)*q]
						for j := range row {
							if fresh {
								row[j] = dwt[j*o+i]
							} else {
								row[j] += dwt[j*o+i]
							}
						}
					}
				} else {
					tensor.Backend().Sgemm(blas.NoTrans, blas.Trans, o, q, np, 1, dtmp, np, cols, np, beta(fresh), gw.Data, q)
				}
			}
			if x.requiresGrad { // dcols = wᵀ × dout', then fold back
				dcols := tp.buf(q * np)
				tensor.Backend().Sgemm(blas.Trans, blas.NoTrans, q, np, o, 1, w.Data.Data, q, dtmp, np, 0, dcols, np)
				gx, fresh := x.grad()
				if fresh {
					clear(gx.Data)
				}
				tensor.Col2Im(gx.Data, dcols, g)
			}
		}
	}
	return r
}

func poolGeom(op string, x *Value, k, stride int) tensor.ConvGeom {
	xs := x.Data.Shape
	if len(xs) != 4 {
		panic(fmt.Sprintf("autograd.%s: input %v, want (B, C, H, W)", op, xs))
	}
	if stride <= 0 {
		stride = k
	}
	g := tensor.ConvGeom{B: xs[0], C: xs[1], H: xs[2], W: xs[3], K: k, S: stride}
	if err := g.Check(); err != nil {
		panic(fmt.Sprintf("autograd.%s: %v", op, err))
	}
	return g
}

// MaxPool2D returns the maximum over k×k windows of x (B, C, H, W) moved by
// stride (stride ≤ 0 means stride = k).
func MaxPool2D(x *Value, k, stride int) *Value {
	tp := x.tape
	g := poolGeom("MaxPool2D", x, k, stride)
	out := tp.Alloc(g.B, g.C, g.OutH(), g.OutW())
	arg := tp.ibuf(len(out.Data))
	tensor.MaxPool2D(out.Data, arg, x.Data.Data, g)
	r := tp.result(out, x)
	if r.requiresGrad {
		r.backward = func() {
			gx, fresh := x.grad()
			if fresh {
				clear(gx.Data)
			}
			tensor.MaxPool2DBackward(gx.Data, r.Grad.Data, arg, g)
		}
	}
	return r
}

// AvgPool2D returns the mean over k×k windows of x moved by stride.
func AvgPool2D(x *Value, k, stride int) *Value {
	tp := x.tape
	g := poolGeom("AvgPool2D", x, k, stride)
	out := tp.Alloc(g.B, g.C, g.OutH(), g.OutW())
	tensor.AvgPool2D(out.Data, x.Data.Data, g)
	r := tp.result(out, x)
	if r.requiresGrad {
		r.backward = func() {
			gx, fresh := x.grad()
			if fresh {
				clear(gx.Data)
			}
			tensor.AvgPool2DBackward(gx.Data, r.Grad.Data, g)
		}
	}
	return r
}

// conv2DDirect is Conv2D for a stride-1 convolution whose input needs no
// gradient (a network's first layer): the vectorised direct kernels skip
// the im2col buffer, whose GEMMs are inefficient when there are few input
// channels (for LeNet-5's first layer, (6 × 25) × (25 × B·784)).
func conv2DDirect(tp *Tape, x, w, bias *Value, g tensor.ConvGeom) *Value {
	o := w.Data.Shape[0]
	out := tp.Alloc(g.B, o, g.OutH(), g.OutW())
	inputs := []*Value{x, w}
	var bd []float32
	if bias != nil {
		if len(bias.Data.Shape) != 1 || bias.Data.Shape[0] != o {
			panic(fmt.Sprintf("autograd.Conv2D: bias %v for %d output channels", bias.Data.Shape, o))
		}
		bd = bias.Data.Data
		inputs = append(inputs, bias)
	}
	tensor.ConvDirect(out.Data, x.Data.Data, w.Data.Data, bd, o, g)
	r := tp.result(out, inputs...)
	if r.requiresGrad {
		r.backward = func() {
			var gw, gb []float32
			accW, accB := false, false
			if w.requiresGrad {
				t, fresh := w.grad()
				gw, accW = t.Data, !fresh
			}
			if bias != nil && bias.requiresGrad {
				t, fresh := bias.grad()
				gb, accB = t.Data, !fresh
			}
			if gw != nil && (gb == nil || accW == accB) {
				tensor.ConvDirectWeightGrad(gw, gb, r.Grad.Data, x.Data.Data, o, g, accW)
				return
			}
			// Mixed accumulation states (or only the bias needs a
			// gradient): compute into scratch and combine.
			sw, sb := tp.buf(len(w.Data.Data)), tp.buf(o)
			tensor.ConvDirectWeightGrad(sw, sb, r.Grad.Data, x.Data.Data, o, g, false)
			if gw != nil {
				combine(gw, sw, accW)
			}
			if gb != nil {
				combine(gb, sb, accB)
			}
		}
	}
	return r
}

func combine(dst, src []float32, accumulate bool) {
	if !accumulate {
		copy(dst, src)
		return
	}
	addTo(dst, src)
}
