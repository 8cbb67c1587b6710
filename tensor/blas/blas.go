// Package blas defines the matrix-multiply interface that Kiln's tensor
// kernels call, and selects the backend built into the binary.
//
// Implementations live in sub-packages: blas/naive (the reference triple
// loop), blas/gonum (pure Go, always builds) and blas/openblas (OpenBLAS
// through cgo, build tag openblas). blas/testblas holds the tests every
// implementation must pass.
//
// All matrices are row-major. Sgemm computes
//
//	C = alpha * op(A) * op(B) + beta * C
//
// where op(X) is X or its transpose, op(A) is m×k, op(B) is k×n and C is
// m×n; lda, ldb and ldc are the row strides of A, B and C as stored.
package blas

// Transpose says whether an operand is used as stored or transposed.
type Transpose bool

const (
	// NoTrans uses the operand as stored.
	NoTrans Transpose = false
	// Trans uses the transpose of the operand.
	Trans Transpose = true
)

// BLAS is the set of routines a backend provides.
type BLAS interface {
	// Name identifies the backend ("naive", "gonum", "openblas").
	Name() string
	// Sgemm computes C = alpha*op(A)*op(B) + beta*C on row-major matrices.
	// When beta is 0, C's previous contents are ignored (even NaNs).
	Sgemm(tA, tB Transpose, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int)
	// SetThreads sets how many threads the backend may use; n < 1 means 1.
	SetThreads(n int)
}
