package tensor

import "fmt"

// BroadcastShape returns the shape that a and b broadcast to under NumPy's
// rules: shapes are aligned at their last dimension, and each pair of sizes
// must be equal or contain a 1.
func BroadcastShape(a, b []int) ([]int, error) {
	n := max(len(a), len(b))
	out := make([]int, n)
	for i := 0; i < n; i++ {
		da, db := 1, 1
		if j := len(a) - n + i; j >= 0 {
			da = a[j]
		}
		if j := len(b) - n + i; j >= 0 {
			db = b[j]
		}
		switch {
		case da == db:
			out[i] = da
		case da == 1:
			out[i] = db
		case db == 1:
			out[i] = da
		default:
			return nil, fmt.Errorf("shapes %v and %v do not broadcast (dimension %d: %d vs %d)", a, b, i, da, db)
		}
	}
	return out, nil
}

// broadcastStrides returns, for a tensor of shape s broadcast to out, the
// element stride of each output dimension (0 where s is broadcast).
func broadcastStrides(s, out []int) []int {
	st := make([]int, len(out))
	stride := 1
	for i := len(out) - 1; i >= 0; i-- {
		j := len(s) - len(out) + i
		if j < 0 {
			continue
		}
		if s[j] != 1 {
			st[i] = stride
		}
		stride *= s[j]
	}
	return st
}

// BinaryOp names an element-wise arithmetic operation.
type BinaryOp int

// The element-wise binary operations.
const (
	OpAdd BinaryOp = iota
	OpSub
	OpMul
	OpDiv
)

func (op BinaryOp) String() string {
	return [...]string{"add", "sub", "mul", "div"}[op]
}

func (op BinaryOp) apply(x, y float32) float32 {
	switch op {
	case OpAdd:
		return x + y
	case OpSub:
		return x - y
	case OpMul:
		return x * y
	default:
		return x / y
	}
}

// Binary applies op element-wise to a and b with broadcasting and returns a
// new tensor. It panics when the shapes do not broadcast.
func Binary(op BinaryOp, a, b *Tensor) *Tensor {
	shape, err := BroadcastShape(a.Shape, b.Shape)
	if err != nil {
		panic(fmt.Sprintf("tensor.%v: %v", op, err))
	}
	out := New(shape...)
	BinaryInto(op, out, a, b)
	return out
}

// Add returns a + b with broadcasting.
func Add(a, b *Tensor) *Tensor { return Binary(OpAdd, a, b) }

// Sub returns a - b with broadcasting.
func Sub(a, b *Tensor) *Tensor { return Binary(OpSub, a, b) }

// Mul returns a * b element-wise with broadcasting.
func Mul(a, b *Tensor) *Tensor { return Binary(OpMul, a, b) }

// Div returns a / b element-wise with broadcasting.
func Div(a, b *Tensor) *Tensor { return Binary(OpDiv, a, b) }

// BinaryInto writes op(a, b) into out, whose shape must be the broadcast
// shape of a and b. out may alias a or b when it has the same shape.
func BinaryInto(op BinaryOp, out, a, b *Tensor) {
	switch {
	case SameShape(a.Shape, b.Shape):
		binarySame(op, out.Data, a.Data, b.Data)
	case len(b.Data) == 1:
		binaryScalarRight(op, out.Data, a.Data, b.Data[0])
	case isRowBroadcast(a.Shape, b.Shape) && len(a.Data) == len(out.Data):
		n := len(b.Data)
		for r := 0; r < len(a.Data); r += n {
			binarySame(op, out.Data[r:r+n], a.Data[r:r+n], b.Data)
		}
	default:
		binaryNaive(op, out, a, b)
	}
}

// isRowBroadcast reports whether b's shape equals the trailing dimensions of
// a's shape (after dropping b's leading 1s), so b repeats along a's rows.
func isRowBroadcast(a, b []int) bool {
	for len(b) > 0 && b[0] == 1 {
		b = b[1:]
	}
	if len(b) == 0 || len(b) > len(a) {
		return false
	}
	return SameShape(a[len(a)-len(b):], b)
}

func binarySame(op BinaryOp, out, a, b []float32) {
	b = b[:len(a)]
	out = out[:len(a)]
	switch op {
	case OpAdd:
		for i := range a {
			out[i] = a[i] + b[i]
		}
	case OpSub:
		for i := range a {
			out[i] = a[i] - b[i]
		}
	case OpMul:
		for i := range a {
			out[i] = a[i] * b[i]
		}
	case OpDiv:
		for i := range a {
			out[i] = a[i] / b[i]
		}
	}
}

func binaryScalarRight(op BinaryOp, out, a []float32, s float32) {
	out = out[:len(a)]
	switch op {
	case OpAdd:
		for i := range a {
			out[i] = a[i] + s
		}
	case OpSub:
		for i := range a {
			out[i] = a[i] - s
		}
	case OpMul:
		for i := range a {
			out[i] = a[i] * s
		}
	case OpDiv:
		for i := range a {
			out[i] = a[i] / s
		}
	}
}

// binaryNaive is the reference broadcasting kernel: it walks every output
// index and maps it back to each input through broadcast strides.
func binaryNaive(op BinaryOp, out, a, b *Tensor) {
	sa := broadcastStrides(a.Shape, out.Shape)
	sb := broadcastStrides(b.Shape, out.Shape)
	idx := make([]int, len(out.Shape))
	for i := range out.Data {
		ia, ib := 0, 0
		for d := range idx {
			ia += idx[d] * sa[d]
			ib += idx[d] * sb[d]
		}
		out.Data[i] = op.apply(a.Data[ia], b.Data[ib])
		for d := len(idx) - 1; d >= 0; d-- {
			idx[d]++
			if idx[d] < out.Shape[d] {
				break
			}
			idx[d] = 0
		}
	}
}

// SumTo reduces t (of a broadcast shape) back to shape by summing over the
// dimensions that broadcasting expanded. It is the adjoint of broadcasting
// and is how gradients flow back through broadcast arithmetic.
func SumTo(t *Tensor, shape []int) *Tensor {
	if SameShape(t.Shape, shape) {
		return t.Clone()
	}
	out := New(shape...)
	if isRowBroadcast(t.Shape, shape) {
		n := len(out.Data)
		for r := 0; r < len(t.Data); r += n {
			row := t.Data[r : r+n]
			for i, v := range row {
				out.Data[i] += v
			}
		}
		return out
	}
	so := broadcastStrides(shape, t.Shape)
	idx := make([]int, len(t.Shape))
	for _, v := range t.Data {
		io := 0
		for d := range idx {
			io += idx[d] * so[d]
		}
		out.Data[io] += v
		for d := len(idx) - 1; d >= 0; d-- {
			idx[d]++
			if idx[d] < t.Shape[d] {
				break
			}
			idx[d] = 0
		}
	}
	return out
}
