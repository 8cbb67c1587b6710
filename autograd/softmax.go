package autograd

import (
	"fmt"
	"math"

	"github.com/kiln-ml/kiln/tensor"
)

// rows views a value's data as (rows, cols) with cols the last dimension.
func rows(t *tensor.Tensor, op string) (n, c int) {
	if len(t.Shape) == 0 {
		panic(fmt.Sprintf("autograd.%s: scalar input", op))
	}
	c = t.Shape[len(t.Shape)-1]
	if c == 0 {
		return 0, 0
	}
	return len(t.Data) / c, c
}

// logSoftmaxRows writes log-softmax of each row of src into dst, computed
// in float64 after subtracting the row maximum.
func logSoftmaxRows(dst, src []float32, n, c int) {
	for r := 0; r < n; r++ {
		row := src[r*c : (r+1)*c]
		m := row[0]
		for _, v := range row {
			m = max(m, v)
		}
		var s float64
		for _, v := range row {
			s += math.Exp(float64(v - m))
		}
		lse := m + float32(math.Log(s))
		d := dst[r*c : (r+1)*c]
		for j, v := range row {
			d[j] = v - lse
		}
	}
}

// Softmax returns the softmax of x along its last dimension.
func Softmax(x *Value) *Value {
	tp := x.tape
	n, c := rows(x.Data, "Softmax")
	out := tp.Alloc(x.Data.Shape...)
	logSoftmaxRows(out.Data, x.Data.Data, n, c)
	for i, v := range out.Data {
		out.Data[i] = float32(math.Exp(float64(v)))
	}
	r := tp.result(out, x)
	if r.requiresGrad {
		r.backward = func() { // dx = y ⊙ (g − Σ g·y)
			g, fresh := x.grad()
			for i := 0; i < n; i++ {
				y, gy := out.Data[i*c:(i+1)*c], r.Grad.Data[i*c:(i+1)*c]
				var dot float32
				for j := range y {
					dot += y[j] * gy[j]
				}
				gx := g.Data[i*c : (i+1)*c]
				for j := range y {
					v := y[j] * (gy[j] - dot)
					if fresh {
						gx[j] = v
					} else {
						gx[j] += v
					}
				}
			}
		}
	}
	return r
}

// LogSoftmax returns log(softmax(x)) along the last dimension, computed
// stably.
func LogSoftmax(x *Value) *Value {
	tp := x.tape
	n, c := rows(x.Data, "LogSoftmax")
	out := tp.Alloc(x.Data.Shape...)
	logSoftmaxRows(out.Data, x.Data.Data, n, c)
	r := tp.result(out, x)
	if r.requiresGrad {
		r.backward = func() { // dx = g − softmax · Σ g
			g, fresh := x.grad()
			for i := 0; i < n; i++ {
				y, gy := out.Data[i*c:(i+1)*c], r.Grad.Data[i*c:(i+1)*c]
				var sum float32
				for _, v := range gy {
					sum += v
				}
				gx := g.Data[i*c : (i+1)*c]
				for j := range y {
					v := gy[j] - float32(math.Exp(float64(y[j])))*sum
					if fresh {
						gx[j] = v
					} else {
						gx[j] += v
					}
				}
			}
		}
	}
	return r
}

// CrossEntropy returns the mean over rows of −log softmax(logits)[label]:
// logits is (B, C) and labels holds B class indices in [0, C). It fuses the
// log-softmax with the loss, as PyTorch's F.cross_entropy, so its backward
// is softmax − onehot.
func CrossEntropy(logits *Value, labels []int32) *Value {
	tp := logits.tape
	n, c := rows(logits.Data, "CrossEntropy")
	if len(logits.Data.Shape) != 2 || len(labels) != n {
		panic(fmt.Sprintf("autograd.CrossEntropy: logits %v with %d labels", logits.Data.Shape, len(labels)))
	}
	logp := tp.Alloc(n, c)
	logSoftmaxRows(logp.Data, logits.Data.Data, n, c)
	var loss float64
	for i, y := range labels {
		if y < 0 || int(y) >= c {
			panic(fmt.Sprintf("autograd.CrossEntropy: label %d of row %d outside [0, %d)", y, i, c))
		}
		loss -= float64(logp.Data[i*c+int(y)])
	}
	out := tp.Alloc()
	out.Data[0] = float32(loss / float64(n))
	r := tp.result(out, logits)
	if r.requiresGrad {
		r.backward = func() {
			g, fresh := logits.grad()
			s := r.Grad.Data[0] / float32(n)
			for i, y := range labels {
				row, gr := logp.Data[i*c:(i+1)*c], g.Data[i*c:(i+1)*c]
				for j, lp := range row {
					v := float32(math.Exp(float64(lp)))
					if j == int(y) {
						v--
					}
					if fresh {
						gr[j] = v * s
					} else {
						gr[j] += v * s
					}
				}
			}
		}
	}
	return r
}

// SoftCrossEntropy returns the mean over rows of −Σ_j p_j log softmax(x)_j
// for probabilistic targets p (B, C), each row a distribution over classes:
// the loss an end model trains on when its labels come from a label model.
func SoftCrossEntropy(logits *Value, target *tensor.Tensor) *Value {
	tp := logits.tape
	n, c := rows(logits.Data, "SoftCrossEntropy")
	if !tensor.SameShape(logits.Data.Shape, target.Shape) || len(logits.Data.Shape) != 2 {
		panic(fmt.Sprintf("autograd.SoftCrossEntropy: logits %v with targets %v", logits.Data.Shape, target.Shape))
	}
	logp := tp.Alloc(n, c)
	logSoftmaxRows(logp.Data, logits.Data.Data, n, c)
	var loss float64
	for i, p := range target.Data {
		loss -= float64(p) * float64(logp.Data[i])
	}
	out := tp.Alloc()
	out.Data[0] = float32(loss / float64(n))
	r := tp.result(out, logits)
	if r.requiresGrad {
		r.backward = func() { // d/dx_j = softmax_j·Σp − p_j
			g, fresh := logits.grad()
			s := r.Grad.Data[0] / float32(n)
			for i := 0; i < n; i++ {
				p, lp, gr := target.Data[i*c:(i+1)*c], logp.Data[i*c:(i+1)*c], g.Data[i*c:(i+1)*c]
				var mass float32
				for _, v := range p {
					mass += v
				}
				for j := range lp {
					v := (float32(math.Exp(float64(lp[j])))*mass - p[j]) * s
					if fresh {
						gr[j] = v
					} else {
						gr[j] += v
					}
				}
			}
		}
	}
	return r
}
