// Package gemm holds what every Kiln BLAS backend does the same way around
// the library call: checking the arguments, so that a bad call panics in Go
// with a message naming the backend and the argument instead of reading past
// a slice in C or being reported differently by each library, and the
// products that need no multiplication (k = 0 or alpha = 0).
package gemm

import (
	"fmt"
	"math"
	"strings"

	"github.com/kiln-ml/kiln/tensor/blas"
)

// Check panics when the arguments of an Sgemm call on the named backend are
// inconsistent: a negative dimension, a row stride shorter than a stored
// row, a slice too short for the matrix it holds, or a value that does not
// fit the 32-bit integers of a C BLAS.
//
// A stride may be 0 when the stored matrix has no columns; any stride is
// accepted for a matrix with no rows. Empty operands need no storage: A and
// B are not checked when m, n or k is 0, and C is not checked when m or n
// is 0.
func Check(backend string, tA, tB blas.Transpose, m, n, k, lenA, lda, lenB, ldb, lenC, ldc int) {
	if m < 0 || n < 0 || k < 0 {
		panic(fmt.Sprintf("blas.Sgemm (%s): negative dimension m=%d n=%d k=%d", backend, m, n, k))
	}
	for _, v := range [...]int{m, n, k, lda, ldb, ldc} {
		if v > math.MaxInt32 {
			panic(fmt.Sprintf("blas.Sgemm (%s): dimension or stride %d exceeds 32 bits (m=%d n=%d k=%d lda=%d ldb=%d ldc=%d)",
				backend, v, m, n, k, lda, ldb, ldc))
		}
	}
	if m == 0 || n == 0 {
		return
	}
	rowsA, colsA := m, k
	if tA {
		rowsA, colsA = k, m
	}
	rowsB, colsB := k, n
	if tB {
		rowsB, colsB = n, k
	}
	if k > 0 {
		operand(backend, "A", rowsA, colsA, lenA, lda)
		operand(backend, "B", rowsB, colsB, lenB, ldb)
	}
	operand(backend, "C", m, n, lenC, ldc)
}

// operand checks one stored rows×cols matrix with row stride ld held in a
// slice of length size.
func operand(backend, name string, rows, cols, size, ld int) {
	if ld < cols {
		panic(fmt.Sprintf("blas.Sgemm (%s): ld%s=%d is less than the %d columns of %s as stored",
			backend, strings.ToLower(name), ld, cols, name))
	}
	if rows == 0 || cols == 0 {
		return
	}
	// The last element used is at (rows-1)*ld + cols-1; computed in a way
	// that cannot overflow for 32-bit rows and strides.
	need := (rows-1)*ld + cols
	if size < need {
		panic(fmt.Sprintf("blas.Sgemm (%s): %s holds %d values, want at least %d for %d×%d with ld%s=%d",
			backend, name, size, need, rows, cols, strings.ToLower(name), ld))
	}
}
