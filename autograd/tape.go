// Package autograd is Kiln's reverse-mode automatic differentiation: a tape
// that records each operation as it runs forward and replays the records
// backwards to compute gradients.
//
// A Tape owns the intermediate values of one step. Values enter it as
// constants (Const: no gradient), as parameters (Leaf: the gradient lands in
// the Param's Grad tensor) or as variables (Var: the gradient is kept on the
// Value). Every op in this package takes Values and returns a new Value on
// the same tape; when any input needs a gradient the op records its backward
// function, written beside its forward in the same file. Backward walks the
// records in reverse creation order, which is a topological order because an
// op can only consume values that already exist.
//
// Gradients accumulate (+=), so a value used twice receives the sum of both
// uses, and parameters accumulate across Backward calls until ZeroGrad
// (gradient accumulation). The first write into a gradient after ZeroGrad or
// Reset overwrites instead of adding, which saves a pass of zeroing.
//
// Memory: intermediate tensors come from a pool owned by the tape and go back
// to it on Reset, so a training loop that resets its tape each step
// allocates almost nothing in steady state. Tensors returned by ops are only
// valid until the tape's next Reset.
package autograd

import (
	"fmt"

	"github.com/kiln-ml/kiln/tensor"
)

// Param is a trainable tensor with its gradient. Optimizers update Data from
// Grad; HasGrad reports whether Grad holds a gradient since the last
// ZeroGrad (a parameter that took no part in a step has none, and
// optimizers skip it, as PyTorch skips a None gradient).
type Param struct {
	Name    string
	Data    *tensor.Tensor
	Grad    *tensor.Tensor
	HasGrad bool
}

// NewParam returns a parameter holding data, with a gradient of the same
// shape.
func NewParam(name string, data *tensor.Tensor) *Param {
	return &Param{Name: name, Data: data, Grad: tensor.New(data.Shape...)}
}

// ZeroGrad marks the gradient empty; the next backward pass overwrites it.
func (p *Param) ZeroGrad() { p.HasGrad = false }

// Value is a node of the tape: a tensor and, when it needs one, its
// gradient.
type Value struct {
	// Data is the forward value.
	Data *tensor.Tensor
	// Grad is the gradient of the loss with respect to Data, set by
	// Backward; nil when no gradient reached this value.
	Grad *tensor.Tensor

	tape         *Tape
	requiresGrad bool
	param        *Param
	backward     func()
	// paramIn lists the parameters this op consumed directly, so that
	// Backward can tell when a parameter's gradient is complete.
	paramIn []*Param
}

// RequiresGrad reports whether gradients flow into this value.
func (v *Value) RequiresGrad() bool { return v.requiresGrad }

// Shape returns the shape of the value's data.
func (v *Value) Shape() []int { return v.Data.Shape }

// Tape returns the tape the value lives on.
func (v *Value) Tape() *Tape { return v.tape }

// Tape records operations for one forward and backward pass.
type Tape struct {
	nodes  []*Value
	noGrad bool
	pool   map[int][][]float32
	used   [][]float32
	ipool  map[int][][]int32
	iused  [][]int32

	uses    map[*Param]int
	onReady func(*Param)
}

// NewTape returns an empty tape.
func NewTape() *Tape { return &Tape{pool: map[int][][]float32{}, ipool: map[int][][]int32{}} }

// SetNoGrad turns recording off (true) or on (false). With recording off,
// parameters enter as constants and no op records a backward function: use
// it for evaluation and inference.
func (tp *Tape) SetNoGrad(off bool) { tp.noGrad = off }

// Reset forgets every recorded op and returns all tape-owned tensors to the
// pool. Values and tensors obtained from the tape before Reset must not be
// used after it.
func (tp *Tape) Reset() {
	for _, b := range tp.used {
		tp.pool[cap(b)] = append(tp.pool[cap(b)], b)
	}
	clear(tp.used)
	tp.used = tp.used[:0]
	for _, b := range tp.iused {
		tp.ipool[cap(b)] = append(tp.ipool[cap(b)], b)
	}
	clear(tp.iused)
	tp.iused = tp.iused[:0]
	clear(tp.nodes)
	tp.nodes = tp.nodes[:0]
	clear(tp.uses)
}

// buf returns a tape-owned slice of n values with unspecified contents.
func (tp *Tape) buf(n int) []float32 {
	var b []float32
	if free := tp.pool[n]; len(free) > 0 {
		b = free[len(free)-1]
		tp.pool[n] = free[:len(free)-1]
	} else {
		b = make([]float32, n)
	}
	tp.used = append(tp.used, b)
	return b[:n]
}

// ibuf returns a tape-owned slice of n int32s with unspecified contents.
func (tp *Tape) ibuf(n int) []int32 {
	var b []int32
	if free := tp.ipool[n]; len(free) > 0 {
		b = free[len(free)-1]
		tp.ipool[n] = free[:len(free)-1]
	} else {
		b = make([]int32, n)
	}
	tp.iused = append(tp.iused, b)
	return b[:n]
}

// Alloc returns a tape-owned tensor of the given shape with unspecified
// contents; it is valid until Reset.
func (tp *Tape) Alloc(shape ...int) *tensor.Tensor {
	return &tensor.Tensor{Data: tp.buf(tensor.Numel(shape)), Shape: append([]int(nil), shape...)}
}

// Zeros returns a tape-owned zero-filled tensor.
func (tp *Tape) Zeros(shape ...int) *tensor.Tensor {
	t := tp.Alloc(shape...)
	clear(t.Data)
	return t
}

// Const puts t on the tape as a value that needs no gradient.
func (tp *Tape) Const(t *tensor.Tensor) *Value {
	return &Value{Data: t, tape: tp}
}

// Var puts t on the tape as a value whose gradient Backward keeps in
// Value.Grad.
func (tp *Tape) Var(t *tensor.Tensor) *Value {
	return &Value{Data: t, tape: tp, requiresGrad: !tp.noGrad}
}

// Leaf puts a parameter on the tape; its gradient lands in p.Grad.
func (tp *Tape) Leaf(p *Param) *Value {
	if tp.noGrad {
		return tp.Const(p.Data)
	}
	return &Value{Data: p.Data, tape: tp, requiresGrad: true, param: p}
}

// result creates an op's output value. backward is recorded only when some
// input needs a gradient; it is built lazily so that no closure is made in
// no-grad mode.
func (tp *Tape) result(data *tensor.Tensor, inputs ...*Value) *Value {
	v := &Value{Data: data, tape: tp}
	if tp.noGrad {
		return v
	}
	for _, in := range inputs {
		if in.requiresGrad {
			v.requiresGrad = true
			tp.nodes = append(tp.nodes, v)
			break
		}
	}
	if v.requiresGrad {
		for _, in := range inputs {
			if in.param != nil {
				if tp.uses == nil {
					tp.uses = map[*Param]int{}
				}
				tp.uses[in.param]++
				v.paramIn = append(v.paramIn, in.param)
			}
		}
	}
	return v
}

// OnParamReady registers f to be called during Backward as soon as a
// parameter's gradient is complete: when the last op that consumed it has
// run its backward (or been passed without one, when it received no
// gradient: then the parameter's gradient is final too, and may be
// empty). Every parameter used on the tape is reported exactly once. Data-parallel training uses it to start
// all-reducing a bucket of gradients while backward continues through the
// earlier layers. nil removes the callback.
func (tp *Tape) OnParamReady(f func(*Param)) { tp.onReady = f }

// grad returns the tensor that receives v's gradient and whether it is
// fresh: a fresh gradient holds garbage and the caller must overwrite every
// element instead of adding.
func (v *Value) grad() (g *tensor.Tensor, fresh bool) {
	if p := v.param; p != nil {
		fresh = !p.HasGrad
		p.HasGrad = true
		v.Grad = p.Grad
		return p.Grad, fresh
	}
	if v.Grad == nil {
		v.Grad = v.tape.Alloc(v.Data.Shape...)
		return v.Grad, true
	}
	return v.Grad, false
}

// accumulate adds src into v's gradient (or copies it when fresh).
func (v *Value) accumulate(src []float32) {
	g, fresh := v.grad()
	if fresh {
		copy(g.Data, src)
		return
	}
	for i, s := range src {
		g.Data[i] += s
	}
}

// Backward computes the gradient of loss, which must hold one value, with
// respect to every value on the tape that needs one.
func (tp *Tape) Backward(loss *Value) error {
	if loss.tape != tp {
		return fmt.Errorf("autograd: loss is on another tape")
	}
	if len(loss.Data.Data) != 1 {
		return fmt.Errorf("autograd: backward from a loss of shape %v, want a single value", loss.Data.Shape)
	}
	if !loss.requiresGrad {
		return fmt.Errorf("autograd: loss does not depend on any value that needs a gradient")
	}
	g, _ := loss.grad()
	g.Data[0] = 1
	for i := len(tp.nodes) - 1; i >= 0; i-- {
		n := tp.nodes[i]
		if n.Grad != nil && n.backward != nil {
			n.backward()
		}
		if tp.onReady != nil {
			for _, p := range n.paramIn {
				if tp.uses[p]--; tp.uses[p] == 0 {
					tp.onReady(p)
				}
			}
		}
	}
	if tp.onReady != nil {
		for p, n := range tp.uses {
			if n > 0 {
				tp.uses[p] = 0
				tp.onReady(p)
			}
		}
	}
	return nil
}

func mustSameTape(op string, vs ...*Value) *Tape {
	tp := vs[0].tape
	for _, v := range vs[1:] {
		if v.tape != tp {
			panic(fmt.Sprintf("autograd.%s: inputs on different tapes", op))
		}
	}
	return tp
}
