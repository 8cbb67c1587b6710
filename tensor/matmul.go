package tensor

import (
	"fmt"

	"github.com/kiln-ml/kiln/tensor/blas"
)

// MatMul returns op(a) × op(b) for 2-D tensors, where op transposes its
// operand when the matching flag is set. It panics on mismatched shapes.
func MatMul(a, b *Tensor, transA, transB bool) *Tensor {
	m, k := matDims(a, transA, "a")
	k2, n := matDims(b, transB, "b")
	if k != k2 {
		panic(fmt.Sprintf("tensor.MatMul: inner dimensions differ: %v%s × %v%s", a.Shape, tmark(transA), b.Shape, tmark(transB)))
	}
	c := New(m, n)
	MatMulInto(c, a, b, transA, transB, 1, 0)
	return c
}

// MatMulInto computes c = alpha*op(a)×op(b) + beta*c for 2-D tensors through
// the build's BLAS backend. With beta 0, c's old contents are ignored.
func MatMulInto(c, a, b *Tensor, transA, transB bool, alpha, beta float32) {
	m, k := matDims(a, transA, "a")
	k2, n := matDims(b, transB, "b")
	if k != k2 || len(c.Shape) != 2 || c.Shape[0] != m || c.Shape[1] != n {
		panic(fmt.Sprintf("tensor.MatMulInto: %v%s × %v%s into %v", a.Shape, tmark(transA), b.Shape, tmark(transB), c.Shape))
	}
	Backend().Sgemm(blas.Transpose(transA), blas.Transpose(transB), m, n, k, alpha,
		a.Data, a.Shape[1], b.Data, b.Shape[1], beta, c.Data, n)
}

// MatMulNaive is the reference for MatMul: a triple loop accumulating in
// float64.
func MatMulNaive(a, b *Tensor, transA, transB bool) *Tensor {
	m, k := matDims(a, transA, "a")
	_, n := matDims(b, transB, "b")
	c := New(m, n)
	at := func(i, p int) float32 {
		if transA {
			return a.Data[p*a.Shape[1]+i]
		}
		return a.Data[i*a.Shape[1]+p]
	}
	bt := func(p, j int) float32 {
		if transB {
			return b.Data[j*b.Shape[1]+p]
		}
		return b.Data[p*b.Shape[1]+j]
	}
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float64
			for p := 0; p < k; p++ {
				s += float64(at(i, p)) * float64(bt(p, j))
			}
			c.Data[i*n+j] = float32(s)
		}
	}
	return c
}

func matDims(t *Tensor, trans bool, name string) (rows, cols int) {
	if len(t.Shape) != 2 {
		panic(fmt.Sprintf("tensor.MatMul: operand %s has shape %v, want 2-D", name, t.Shape))
	}
	if trans {
		return t.Shape[1], t.Shape[0]
	}
	return t.Shape[0], t.Shape[1]
}

func tmark(t bool) string {
	if t {
		return "ᵀ"
	}
	return ""
}
