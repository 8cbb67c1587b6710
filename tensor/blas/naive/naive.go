// Package naive is the reference BLAS: a plain triple loop that every
// faster backend is tested against.
package naive

import (
	"github.com/kiln-ml/kiln/tensor/blas"
	"github.com/kiln-ml/kiln/tensor/blas/internal/gemm"
)

// Impl is the reference implementation of blas.BLAS.
//
// Each element of op(A)*op(B) is a dot product accumulated in float64 in
// index order p = 0, 1, ..., k-1, multiplied by alpha in float64 and
// rounded once to float32; beta*C is then added in float32. The result is
// therefore at least as accurate as any float32 backend, which is what the
// tests' error bounds assume.
//
// As in the reference BLAS, A and B are not read when alpha is 0 or k is 0,
// and C is not read when beta is 0 (NaNs in it are overwritten). Arguments
// that do not fit together (a negative size, a stride shorter than a row, a
// slice too short) panic.
type Impl struct{}

// Name implements blas.BLAS; it returns "naive".
func (Impl) Name() string { return "naive" }

// SetThreads implements blas.BLAS. The reference is single-threaded, so
// this does nothing.
func (Impl) SetThreads(int) {}

// Sgemm implements blas.BLAS.
func (Impl) Sgemm(tA, tB blas.Transpose, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	gemm.Check("naive", tA, tB, m, n, k, len(a), lda, len(b), ldb, len(c), ldc)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var v float32
			if alpha != 0 {
				v = float32(float64(alpha) * dot(tA, tB, i, j, k, a, lda, b, ldb))
			}
			if beta != 0 {
				v += beta * c[i*ldc+j]
			}
			c[i*ldc+j] = v
		}
	}
}

// dot returns row i of op(A) times column j of op(B), summed in float64.
func dot(tA, tB blas.Transpose, i, j, k int, a []float32, lda int, b []float32, ldb int) float64 {
	var s float64
	for p := 0; p < k; p++ {
		var x, y float32
		if tA {
			x = a[p*lda+i]
		} else {
			x = a[i*lda+p]
		}
		if tB {
			y = b[j*ldb+p]
		} else {
			y = b[p*ldb+j]
		}
		s += float64(x) * float64(y)
	}
	return s
}
