// Package gonum is Kiln's pure-Go BLAS backend, over gonum's Sgemm. It
// always builds; it is the default when OpenBLAS is not available.
package gonum

import (
	gblas "gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"

	"github.com/kiln-ml/kiln/tensor/blas"
)

// Impl implements blas.BLAS with gonum.
type Impl struct{ g gonum.Implementation }

// Name implements blas.BLAS.
func (Impl) Name() string { return "gonum" }

// SetThreads implements blas.BLAS. gonum's Sgemm splits large products
// across goroutines by itself, bounded by GOMAXPROCS, so the thread count
// is set through runtime.GOMAXPROCS and this is a no-op.
func (Impl) SetThreads(int) {}

func tr(t blas.Transpose) gblas.Transpose {
	if t {
		return gblas.Trans
	}
	return gblas.NoTrans
}

// Sgemm implements blas.BLAS.
func (i Impl) Sgemm(tA, tB blas.Transpose, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	if k == 0 || alpha == 0 {
		scaleC(m, n, beta, c, ldc)
		return
	}
	if beta == 0 {
		// BLAS semantics: with beta = 0, C is not read (NaNs are ignored).
		for r := 0; r < m; r++ {
			clear(c[r*ldc : r*ldc+n])
		}
	}
	i.g.Sgemm(tr(tA), tr(tB), m, n, k, alpha, a, max(lda, 1), b, max(ldb, 1), beta, c, max(ldc, 1))
}

func scaleC(m, n int, beta float32, c []float32, ldc int) {
	for r := 0; r < m; r++ {
		row := c[r*ldc : r*ldc+n]
		if beta == 0 {
			clear(row)
			continue
		}
		for j := range row {
			row[j] *= beta
		}
	}
}
