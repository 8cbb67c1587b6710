package autograd

import (
	"fmt"
	"math"

	"github.com/kiln-ml/kiln/tensor"
)

// Embedding returns the rows of weight (V, D) selected by ids: the output is
// (len(ids), D). Its backward scatters the gradient rows back (a sparse
// update, accumulated when an id repeats).
func Embedding(weight *Value, ids []int32) *Value {
	tp := weight.tape
	ws := weight.Data.Shape
	if len(ws) != 2 {
		panic(fmt.Sprintf("autograd.Embedding: weight %v, want (V, D)", ws))
	}
	v, d := ws[0], ws[1]
	out := tp.Alloc(len(ids), d)
	for i, id := range ids {
		if id < 0 || int(id) >= v {
			panic(fmt.Sprintf("autograd.Embedding: id %d at position %d outside vocabulary of %d", id, i, v))
		}
		copy(out.Data[i*d:(i+1)*d], weight.Data.Data[int(id)*d:])
	}
	r := tp.result(out, weight)
	if r.requiresGrad {
		r.backward = func() {
			g, fresh := weight.grad()
			if fresh {
				clear(g.Data)
			}
			for i, id := range ids {
				addTo(g.Data[int(id)*d:(int(id)+1)*d], r.Grad.Data[i*d:(i+1)*d])
			}
		}
	}
	return r
}

// LayerNorm normalises x over its last dimension D to zero mean and unit
// variance (biased variance, plus eps), then scales by weight (D) and adds
// bias (D); weight and bias may be nil. As PyTorch's LayerNorm.
func LayerNorm(x, weight, bias *Value, eps float32) *Value {
	tp := x.tape
	n, d := rows(x.Data, "LayerNorm")
	inputs := []*Value{x}
	for _, p := range []*Value{weight, bias} {
		if p != nil {
			if len(p.Data.Shape) != 1 || p.Data.Shape[0] != d {
				panic(fmt.Sprintf("autograd.LayerNorm: parameter %v for last dimension %d", p.Data.Shape, d))
			}
			inputs = append(inputs, p)
		}
	}
	xhat := tp.Alloc(x.Data.Shape...)
	rstd := tp.buf(n)
	out := tp.Alloc(x.Data.Shape...)
	for i := 0; i < n; i++ {
		row := x.Data.Data[i*d : (i+1)*d]
		var mean, vr float64
		for _, v := range row {
			mean += float64(v)
		}
		mean /= float64(d)
		for _, v := range row {
			dv := float64(v) - mean
			vr += dv * dv
		}
		vr /= float64(d)
		rs := 1 / math.Sqrt(vr+float64(eps))
		rstd[i] = float32(rs)
		xh, o := xhat.Data[i*d:(i+1)*d], out.Data[i*d:(i+1)*d]
		for j, v := range row {
			xh[j] = float32((float64(v) - mean) * rs)
			y := xh[j]
			if weight != nil {
				y *= weight.Data.Data[j]
			}
			if bias != nil {
				y += bias.Data.Data[j]
			}
			o[j] = y
		}
	}
	r := tp.result(out, inputs...)
	if r.requiresGrad {
		r.backward = func() {
			gy := r.Grad.Data
			if weight != nil && weight.requiresGrad {
				gw := tp.Zeros(d)
				for i := 0; i < n; i++ {
					for j := 0; j < d; j++ {
						gw.Data[j] += gy[i*d+j] * xhat.Data[i*d+j]
					}
				}
				weight.accumulate(gw.Data)
			}
			if bias != nil && bias.requiresGrad {
				reduceInto(bias, tensor.FromSlice(gy, n, d))
			}
			if !x.requiresGrad {
				return
			}
			// dx = rstd · (dxh − mean(dxh) − xhat·mean(dxh·xhat)), dxh = gy·w
			gx, fresh := x.grad()
			dxh := tp.buf(d)
			for i := 0; i < n; i++ {
				xh := xhat.Data[i*d : (i+1)*d]
				var m1, m2 float64
				for j := 0; j < d; j++ {
					v := gy[i*d+j]
					if weight != nil {
						v *= weight.Data.Data[j]
					}
					dxh[j] = v
					m1 += float64(v)
					m2 += float64(v) * float64(xh[j])
				}
				m1 /= float64(d)
				m2 /= float64(d)
				for j := 0; j < d; j++ {
					v := rstd[i] * float32(float64(dxh[j])-m1-float64(xh[j])*m2)
					if fresh {
						gx.Data[i*d+j] = v
					} else {
						gx.Data[i*d+j] += v
					}
				}
			}
		}
	}
	return r
}
