// Package tensor holds Kiln's float32 N-dimensional arrays and the kernels
// that compute on them.
//
// A Tensor is a dense, row-major (C order) block of float32 values with a
// shape. Tensors are plain values: Data and Shape are exported so that
// kernels, readers and writers can work on them without copying. Functions
// that return a new tensor never alias their inputs unless their doc says so
// (Reshape and View share data).
//
// Matrix multiplication goes through the BLAS interface in package
// tensor/blas; the backend in use is chosen at build time (pure Go by
// default, OpenBLAS with the build tag openblas). Every fast kernel keeps a
// naive reference beside it, and the tests compare the two.
//
// Shape errors inside a kernel are programmer errors and panic with a message
// naming the op and the shapes; inputs that come from users are checked by
// the callers (readers, model loaders) and reported as errors.
package tensor

import (
	"fmt"
	"strings"
)

// Tensor is a dense row-major float32 array.
type Tensor struct {
	// Data holds the values in row-major order; len(Data) == Numel(Shape).
	Data []float32
	// Shape holds the size of each dimension, outermost first. A scalar has
	// an empty shape and one value.
	Shape []int
}

// New returns a zero-filled tensor of the given shape.
func New(shape ...int) *Tensor {
	n := Numel(shape)
	return &Tensor{Data: make([]float32, n), Shape: cloneInts(shape)}
}

// FromSlice returns a tensor that takes ownership of data (no copy). It panics
// when len(data) does not match the shape.
func FromSlice(data []float32, shape ...int) *Tensor {
	if len(data) != Numel(shape) {
		panic(fmt.Sprintf("tensor.FromSlice: %d values do not fill shape %v", len(data), shape))
	}
	return &Tensor{Data: data, Shape: cloneInts(shape)}
}

// Scalar returns a tensor of shape [] holding v.
func Scalar(v float32) *Tensor { return &Tensor{Data: []float32{v}, Shape: []int{}} }

// Full returns a tensor of the given shape with every value set to v.
func Full(v float32, shape ...int) *Tensor {
	t := New(shape...)
	for i := range t.Data {
		t.Data[i] = v
	}
	return t
}

// Numel returns the number of elements a tensor of the given shape holds.
// It panics on a negative dimension.
func Numel(shape []int) int {
	n := 1
	for _, d := range shape {
		if d < 0 {
			panic(fmt.Sprintf("tensor: negative dimension in shape %v", shape))
		}
		n *= d
	}
	return n
}

// Len returns the number of elements of t.
func (t *Tensor) Len() int { return len(t.Data) }

// Dims returns the number of dimensions of t.
func (t *Tensor) Dims() int { return len(t.Shape) }

// Dim returns the size of dimension i; negative i counts from the end.
func (t *Tensor) Dim(i int) int {
	if i < 0 {
		i += len(t.Shape)
	}
	return t.Shape[i]
}

// Clone returns a deep copy of t.
func (t *Tensor) Clone() *Tensor {
	d := make([]float32, len(t.Data))
	copy(d, t.Data)
	return &Tensor{Data: d, Shape: cloneInts(t.Shape)}
}

// Reshape returns a tensor that shares t's data with a new shape. One
// dimension may be -1 and is then inferred. It panics when the sizes differ.
func (t *Tensor) Reshape(shape ...int) *Tensor {
	shape = cloneInts(shape)
	infer := -1
	n := 1
	for i, d := range shape {
		if d == -1 {
			if infer >= 0 {
				panic(fmt.Sprintf("tensor.Reshape: two -1 dimensions in %v", shape))
			}
			infer = i
			continue
		}
		n *= d
	}
	if infer >= 0 {
		if n == 0 || len(t.Data)%n != 0 {
			panic(fmt.Sprintf("tensor.Reshape: cannot reshape %v into %v", t.Shape, shape))
		}
		shape[infer] = len(t.Data) / n
		n *= shape[infer]
	}
	if n != len(t.Data) {
		panic(fmt.Sprintf("tensor.Reshape: cannot reshape %v (%d values) into %v", t.Shape, len(t.Data), shape))
	}
	return &Tensor{Data: t.Data, Shape: shape}
}

// Zero sets every value of t to 0.
func (t *Tensor) Zero() {
	clear(t.Data)
}

// CopyFrom copies src's values into t. It panics when the sizes differ.
func (t *Tensor) CopyFrom(src *Tensor) {
	if len(src.Data) != len(t.Data) {
		panic(fmt.Sprintf("tensor.CopyFrom: shape %v into %v", src.Shape, t.Shape))
	}
	copy(t.Data, src.Data)
}

// SameShape reports whether a and b have identical shapes.
func SameShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// String renders a short description: the shape and up to 8 values.
func (t *Tensor) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "Tensor%v[", t.Shape)
	for i, v := range t.Data {
		if i == 8 {
			b.WriteString(" ...")
			break
		}
		if i > 0 {
			b.WriteByte(' ')
		}
		fmt.Fprintf(&b, "%g", v)
	}
	b.WriteByte(']')
	return b.String()
}

func cloneInts(s []int) []int {
	out := make([]int, len(s))
	copy(out, s)
	return out
}
