package nn

import (
	"fmt"
	"math"
)

// Optimizer updates parameters from their gradients.
type Optimizer interface {
	// Step applies one update to every parameter that has a gradient.
	Step()
	// ZeroGrad marks every parameter's gradient empty.
	ZeroGrad()
	// SetLR sets the learning rate used by the next Step.
	SetLR(lr float64)
	// LR returns the current learning rate.
	LR() float64
}

// ZeroGrad marks the gradients of ps empty.
func ZeroGrad(ps []*Param) {
	for _, p := range ps {
		p.ZeroGrad()
	}
}

// SGDConfig holds the settings of stochastic gradient descent, with the
// meaning and defaults of torch.optim.SGD.
type SGDConfig struct {
	LR          float64
	Momentum    float64
	Dampening   float64
	WeightDecay float64
	Nesterov    bool
}

// SGD is stochastic gradient descent with optional momentum and weight
// decay, following torch.optim.SGD (PyTorch 1.13):
//
//	g ← grad + wd·p
//	buf ← g on the first step, else momentum·buf + (1 − dampening)·g
//	g ← g + momentum·buf (Nesterov) or buf
//	p ← p − lr·g
type SGD struct {
	cfg    SGDConfig
	params []*Param
	bufs   [][]float32
}

// NewSGD returns an SGD optimizer over params.
func NewSGD(params []*Param, cfg SGDConfig) (*SGD, error) {
	if cfg.LR < 0 || cfg.Momentum < 0 || cfg.WeightDecay < 0 {
		return nil, fmt.Errorf("sgd: negative setting in %+v", cfg)
	}
	if cfg.Nesterov && (cfg.Momentum <= 0 || cfg.Dampening != 0) {
		return nil, fmt.Errorf("sgd: Nesterov momentum needs momentum > 0 and zero dampening")
	}
	return &SGD{cfg: cfg, params: params, bufs: make([][]float32, len(params))}, nil
}

// Step implements Optimizer.
func (o *SGD) Step() {
	lr, mom, damp, wd := float32(o.cfg.LR), float32(o.cfg.Momentum), float32(1-o.cfg.Dampening), float32(o.cfg.WeightDecay)
	for i, p := range o.params {
		if !p.HasGrad {
			continue
		}
		w, g := p.Data.Data, p.Grad.Data[:len(p.Data.Data)]
		if mom == 0 {
			for j, gj := range g {
				w[j] -= lr * (gj + wd*w[j])
			}
			continue
		}
		buf := o.bufs[i]
		if buf == nil {
			// First step: the buffer starts as the gradient itself.
			buf = make([]float32, len(w))
			for j, gj := range g {
				buf[j] = gj + wd*w[j]
			}
			o.bufs[i] = buf
			sgdApply(w, buf, g, lr, mom, wd, o.cfg.Nesterov)
			continue
		}
		buf = buf[:len(w)]
		if damp == 1 && wd == 0 && !o.cfg.Nesterov {
			// The common case in one fused pass.
			for j, gj := range g {
				b := mom*buf[j] + gj
				buf[j] = b
				w[j] -= lr * b
			}
			continue
		}
		if damp == 1 && wd == 0 {
			for j, gj := range g {
				buf[j] = mom*buf[j] + gj
			}
		} else {
			for j, gj := range g {
				buf[j] = mom*buf[j] + damp*(gj+wd*w[j])
			}
		}
		sgdApply(w, buf, g, lr, mom, wd, o.cfg.Nesterov)
	}
}

// sgdApply moves w along the momentum buffer (or, for Nesterov, along
// g + wd·w + m·buf).
func sgdApply(w, buf, g []float32, lr, mom, wd float32, nesterov bool) {
	buf, g = buf[:len(w)], g[:len(w)]
	if !nesterov {
		for j, b := range buf {
			w[j] -= lr * b
		}
		return
	}
	for j, b := range buf {
		w[j] -= lr * (g[j] + wd*w[j] + mom*b)
	}
}

// ZeroGrad implements Optimizer.
func (o *SGD) ZeroGrad() { ZeroGrad(o.params) }

// SetLR implements Optimizer.
func (o *SGD) SetLR(lr float64) { o.cfg.LR = lr }

// LR implements Optimizer.
func (o *SGD) LR() float64 { return o.cfg.LR }

// AdamConfig holds the settings of Adam and AdamW, with the meaning of
// torch.optim.Adam. Zero Beta1, Beta2 and Eps take PyTorch's defaults 0.9,
// 0.999 and 1e-8.
type AdamConfig struct {
	LR           float64
	Beta1, Beta2 float64
	Eps          float64
	WeightDecay  float64
}

// Adam implements Adam (Kingma and Ba, 2015) and, with decoupled weight
// decay, AdamW (Loshchilov and Hutter, 2019), following PyTorch 1.13:
//
//	Adam:  g ← grad + wd·p          AdamW: p ← p·(1 − lr·wd), g ← grad
//	m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g²
//	p ← p − lr/(1−β1ᵗ) · m / (√v/√(1−β2ᵗ) + eps)
type Adam struct {
	cfg       AdamConfig
	decoupled bool
	params    []*Param
	m, v      [][]float32
	t         int
}

// NewAdam returns Adam with L2 weight decay added to the gradient.
func NewAdam(params []*Param, cfg AdamConfig) (*Adam, error) { return newAdam(params, cfg, false) }

// NewAdamW returns AdamW, whose weight decay shrinks the weights directly.
func NewAdamW(params []*Param, cfg AdamConfig) (*Adam, error) { return newAdam(params, cfg, true) }

func newAdam(params []*Param, cfg AdamConfig, decoupled bool) (*Adam, error) {
	if cfg.Beta1 == 0 {
		cfg.Beta1 = 0.9
	}
	if cfg.Beta2 == 0 {
		cfg.Beta2 = 0.999
	}
	if cfg.Eps == 0 {
		cfg.Eps = 1e-8
	}
	if cfg.LR < 0 || cfg.WeightDecay < 0 || cfg.Beta1 >= 1 || cfg.Beta2 >= 1 || cfg.Beta1 < 0 || cfg.Beta2 < 0 {
		return nil, fmt.Errorf("adam: invalid setting in %+v", cfg)
	}
	a := &Adam{cfg: cfg, decoupled: decoupled, params: params, m: make([][]float32, len(params)), v: make([][]float32, len(params))}
	for i, p := range params {
		a.m[i] = make([]float32, len(p.Data.Data))
		a.v[i] = make([]float32, len(p.Data.Data))
	}
	return a, nil
}

// Step implements Optimizer.
func (a *Adam) Step() {
	a.t++
	b1, b2 := float32(a.cfg.Beta1), float32(a.cfg.Beta2)
	bc1 := 1 - math.Pow(a.cfg.Beta1, float64(a.t))
	bc2 := 1 - math.Pow(a.cfg.Beta2, float64(a.t))
	stepSize := float32(a.cfg.LR / bc1)
	sqrtBC2 := float32(math.Sqrt(bc2))
	eps, wd := float32(a.cfg.Eps), float32(a.cfg.WeightDecay)
	shrink := float32(1 - a.cfg.LR*a.cfg.WeightDecay)
	for i, p := range a.params {
		if !p.HasGrad {
			continue
		}
		w, g, m, v := p.Data.Data, p.Grad.Data[:len(p.Data.Data)], a.m[i], a.v[i]
		for j, gj := range g {
			if a.decoupled {
				w[j] *= shrink
			} else {
				gj += wd * w[j]
			}
			m[j] = b1*m[j] + (1-b1)*gj
			v[j] = b2*v[j] + (1-b2)*gj*gj
			denom := float32(math.Sqrt(float64(v[j])))/sqrtBC2 + eps
			w[j] -= stepSize * m[j] / denom
		}
	}
}

// ZeroGrad implements Optimizer.
func (a *Adam) ZeroGrad() { ZeroGrad(a.params) }

// SetLR implements Optimizer.
func (a *Adam) SetLR(lr float64) { a.cfg.LR = lr }

// LR implements Optimizer.
func (a *Adam) LR() float64 { return a.cfg.LR }
