package autograd

import (
	"fmt"

	"github.com/kiln-ml/kiln/tensor"
)

// MatMul returns a × b for 2-D values: (m, k) × (k, n) → (m, n).
func MatMul(a, b *Value) *Value {
	tp := mustSameTape("MatMul", a, b)
	as, bs := a.Data.Shape, b.Data.Shape
	if len(as) != 2 || len(bs) != 2 || as[1] != bs[0] {
		panic(fmt.Sprintf("autograd.MatMul: shapes %v × %v", as, bs))
	}
	out := tp.Alloc(as[0], bs[1])
	tensor.MatMulInto(out, a.Data, b.Data, false, false, 1, 0)
	r := tp.result(out, a, b)
	if r.requiresGrad {
		r.backward = func() {
			if a.requiresGrad { // dA = dC × Bᵀ
				g, fresh := a.grad()
				tensor.MatMulInto(g, r.Grad, b.Data, false, true, 1, beta(fresh))
			}
			if b.requiresGrad { // dB = Aᵀ × dC
				g, fresh := b.grad()
				tensor.MatMulInto(g, a.Data, r.Grad, true, false, 1, beta(fresh))
			}
		}
	}
	return r
}

// Linear returns x × wᵀ + bias, the affine map of a fully connected layer:
// x is (B, in), w is (out, in) as PyTorch stores it, bias is (out) or nil.
func Linear(x, w, bias *Value) *Value {
	tp := mustSameTape("Linear", x, w)
	xs, ws := x.Data.Shape, w.Data.Shape
	if len(xs) != 2 || len(ws) != 2 || xs[1] != ws[1] {
		panic(fmt.Sprintf("autograd.Linear: input %v with weight %v (want input (B, %d))", xs, ws, safeDim(ws, 1)))
	}
	bsz, nout := xs[0], ws[0]
	out := tp.Alloc(bsz, nout)
	var inputs = []*Value{x, w}
	if bias != nil {
		if len(bias.Data.Shape) != 1 || bias.Data.Shape[0] != nout {
			panic(fmt.Sprintf("autograd.Linear: bias %v for weight %v", bias.Data.Shape, ws))
		}
		for r := 0; r < bsz; r++ {
			copy(out.Data[r*nout:(r+1)*nout], bias.Data.Data)
		}
		tensor.MatMulInto(out, x.Data, w.Data, false, true, 1, 1)
		inputs = append(inputs, bias)
	} else {
		tensor.MatMulInto(out, x.Data, w.Data, false, true, 1, 0)
	}
	r := tp.result(out, inputs...)
	if r.requiresGrad {
		r.backward = func() {
			dy := r.Grad        // (B, out)
			if x.requiresGrad { // dx = dy × w
				g, fresh := x.grad()
				tensor.MatMulInto(g, dy, w.Data, false, false, 1, beta(fresh))
			}
			if w.requiresGrad { // dw = dyᵀ × x
				g, fresh := w.grad()
				tensor.MatMulInto(g, dy, x.Data, true, false, 1, beta(fresh))
			}
			if bias != nil && bias.requiresGrad { // db = Σ_rows dy
				g, fresh := bias.grad()
				if fresh {
					copy(g.Data, dy.Data[:nout])
				} else {
					addTo(g.Data, dy.Data[:nout])
				}
				for r := 1; r < bsz; r++ {
					addTo(g.Data, dy.Data[r*nout:(r+1)*nout])
				}
			}
		}
	}
	return r
}

func beta(fresh bool) float32 {
	if fresh {
		return 0
	}
	return 1
}

func addTo(dst, src []float32) {
	src = src[:len(dst)]
	for i, v := range src {
		dst[i] += v
	}
}

func safeDim(s []int, i int) int {
	if i < len(s) {
		return s[i]
	}
	return -1
}
