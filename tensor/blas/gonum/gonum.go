// Package gonum is Kiln's pure-Go BLAS backend, over gonum's Sgemm. It
// always builds; it is the default when OpenBLAS is not available.
package gonum

import (
	gblas "gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"

	"github.com/kiln-ml/kiln/tensor/blas"
	"github.com/kiln-ml/kiln/tensor/blas/internal/gemm"
)

// Impl implements blas.BLAS with gonum.org/v1/gonum/blas/gonum. The zero
// value is ready to use and safe for concurrent calls.
type Impl struct{ g gonum.Implementation }

// Name implements blas.BLAS; it returns "gonum".
func (Impl) Name() string { return "gonum" }

// SetThreads implements blas.BLAS, and does nothing: gonum's Sgemm cuts
// any product with at least four 64×64 blocks of C into blocks and computes
// them on up to runtime.GOMAXPROCS(0) goroutines, and has no setting of its
// own. To bound the threads of the pure-Go backend, set GOMAXPROCS (the
// variable or runtime.GOMAXPROCS); Kiln leaves that process-wide choice to
// the program's main.
func (Impl) SetThreads(int) {}

// Sgemm implements blas.BLAS. Arguments that do not fit together (a
// negative size, a stride shorter than a row, a slice too short) panic.
func (i Impl) Sgemm(tA, tB blas.Transpose, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	gemm.Check("gonum", tA, tB, m, n, k, len(a), lda, len(b), ldb, len(c), ldc)
	if m == 0 || n == 0 {
		return
	}
	if k == 0 || alpha == 0 {
		// BLAS leaves A and B unread here; gonum would still multiply by
		// alpha = 0, turning an Inf or NaN in A or B into NaN.
		gemm.ScaleC(m, n, beta, c, ldc)
		return
	}
	// Every operand now has at least one row and column, so the strides
	// Check accepted are ones gonum accepts. With beta = 0 gonum zeroes C
	// before accumulating, so NaNs in C are ignored as required.
	i.g.Sgemm(tr(tA), tr(tB), m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

func tr(t blas.Transpose) gblas.Transpose {
	if t {
		return gblas.Trans
	}
	return gblas.NoTrans
}
